import { Command, Option } from 'commander';
import { parseAggregationRuleSpec, type LossSpec } from '@fedkd/distill';
import type { PrivacySpec } from '@fedkd/protocol';
import { ARCHITECTURES, COORDINATOR_DEFAULTS, type CoordinatorConfig } from '../../coordinator/src/config/coordinator-config';
import { startCoordinator } from '../../coordinator/src/start-coordinator';
import { aggregationArg, choiceArg, envOption, exitOnError, integerArg, positiveArg } from './option-parsers';
import { ensureKeyPair, exportPublicKey } from './key-loading';

const D = COORDINATOR_DEFAULTS;

/** Every coordinator flag, each also readable from the environment variable it names. */
export function addCoordinatorOptions(command: Command): Command {
  const opt = (flags: string, description: string, env: string, parse?: (v: string) => unknown, fallback?: unknown) =>
    envOption(command, flags, description, env, parse, fallback);
  opt('--host <host>', 'address to listen on', 'FEDKD_HOST', undefined, D.host);
  opt('--port <n>', 'HTTP and socket.io port (0 = any free port)', 'FEDKD_PORT', integerArg('--port', 0, 65535), D.port);
  opt('--db <path>', 'SQLite database file', 'FEDKD_DB', undefined, D.databasePath);
  opt('--seed <n>', 'seed of the embedded split and of the student', 'FEDKD_SEED', integerArg('--seed'), D.seed);
  opt('--rounds <n>', 'rounds to run once --min-clients are connected (0 = only on POST /rounds)', 'FEDKD_ROUNDS', integerArg('--rounds'), D.rounds);
  opt('--min-clients <n>', 'clients needed to open a round, and answers needed to train', 'FEDKD_MIN_CLIENTS', integerArg('--min-clients', 1), D.minClients);
  opt('--participation <f>', 'fraction of connected clients invited per round', 'FEDKD_PARTICIPATION', positiveArg('--participation', 1), D.participation);
  opt('--round-deadline-ms <ms>', 'time clients have to answer a round', 'FEDKD_ROUND_DEADLINE_MS', integerArg('--round-deadline-ms', 100), D.roundDeadlineMs);
  opt('--proxy-size <n>', 'public proxy inputs asked per round (at most 2000)', 'FEDKD_PROXY_SIZE', integerArg('--proxy-size', 1, 2000), D.proxySize);
  opt('--temperature <T>', 'softmax temperature of the soft predictions', 'FEDKD_TEMPERATURE', positiveArg('--temperature'), D.temperature);
  opt('--encoding <e>', 'soft prediction encoding: float32 | float16 | uint8', 'FEDKD_ENCODING', choiceArg('--encoding', ['float32', 'float16', 'uint8'] as const), D.encoding);
  opt('--agg <rule>', 'mean | weighted | entropy-weighted | median | trimmed-mean[:beta]', 'FEDKD_AGG', aggregationArg, 'mean');
  opt('--loss <name>', 'student loss: response | relation', 'FEDKD_LOSS', choiceArg('--loss', ['response', 'relation'] as const), 'response');
  opt('--student <arch>', 'student architecture: mlp | cnn', 'FEDKD_STUDENT', choiceArg('--student', Object.keys(ARCHITECTURES)), 'mlp');
  opt('--student-epochs <n>', 'student epochs per round', 'FEDKD_STUDENT_EPOCHS', integerArg('--student-epochs', 1), D.studentEpochs);
  opt('--student-lr <lr>', 'student learning rate (Adam)', 'FEDKD_STUDENT_LR', positiveArg('--student-lr'), D.studentLearningRate);
  opt('--local-epochs <n>', 'client epochs on private data before each answer', 'FEDKD_LOCAL_EPOCHS', integerArg('--local-epochs'), D.localEpochs);
  opt('--digest-epochs <n>', 'client epochs distilling from the last student first (0 = no digest)', 'FEDKD_DIGEST_EPOCHS', integerArg('--digest-epochs'), D.digestEpochs);
  opt('--max-message-bytes <n>', 'largest socket.io message accepted', 'FEDKD_MAX_MESSAGE_BYTES', integerArg('--max-message-bytes', 65536), D.maxMessageBytes);
  opt('--key <file>', 'coordinator Ed25519 secret key (fedkd keys init); signs published models', 'FEDKD_KEY', undefined, D.keyPath);
  opt('--tls-key <file>', 'serve HTTPS/WSS with this PEM private key (with --tls-cert)', 'FEDKD_TLS_KEY');
  opt('--tls-cert <file>', 'PEM certificate for --tls-key', 'FEDKD_TLS_CERT');
  opt('--allowed-origins <list>', 'comma-separated browser origins allowed to connect (clients without an Origin header are always allowed)', 'FEDKD_ALLOWED_ORIGINS', undefined, '');
  opt('--rate-limit <n>', 'messages per second per socket', 'FEDKD_RATE_LIMIT', positiveArg('--rate-limit'), D.rateLimitPerSecond);
  opt('--rate-limit-burst <n>', 'burst of messages per socket', 'FEDKD_RATE_LIMIT_BURST', integerArg('--rate-limit-burst', 1), D.rateLimitBurst);
  command.addOption(new Option('--secure-agg', 'secure aggregation: the coordinator learns only the sum of the predictions (mean or weighted)').env('FEDKD_SECURE_AGG').default(false));
  opt('--secagg-threshold <t>', 'shares needed to unmask a client (default: a majority of its neighbours)', 'FEDKD_SECAGG_THRESHOLD', integerArg('--secagg-threshold', 2, 255));
  opt('--secagg-degree <k>', 'k-regular neighbour graph (SecAgg+) instead of the complete graph, for large rounds', 'FEDKD_SECAGG_DEGREE', integerArg('--secagg-degree', 2, 255));
  opt('--dp <mechanism>', 'differentially private rounds: gnmax | confident-gnmax | gaussian (off by default)', 'FEDKD_DP', choiceArg('--dp', ['gnmax', 'confident-gnmax', 'gaussian'] as const));
  opt('--dp-sigma <s>', 'noise per count (gnmax, gaussian) or of the answer (confident-gnmax: sigma2)', 'FEDKD_DP_SIGMA', positiveArg('--dp-sigma'), 40);
  opt('--dp-sigma1 <s>', 'confident-gnmax: noise of the threshold check', 'FEDKD_DP_SIGMA1', positiveArg('--dp-sigma1'), 60);
  opt('--dp-threshold <t>', 'confident-gnmax: noisy top count needed to answer a query', 'FEDKD_DP_THRESHOLD', positiveArg('--dp-threshold'), 60);
  opt('--dp-clip <c>', 'gaussian: L2 norm each teacher\'s probability row is clipped to', 'FEDKD_DP_CLIP', positiveArg('--dp-clip'), 1);
  opt('--dp-delta <d>', 'delta of the reported (epsilon, delta)', 'FEDKD_DP_DELTA', positiveArg('--dp-delta', 0.5), 1e-5);
  command.addOption(new Option('--create-key', 'create the key pair at --key if it does not exist yet').env('FEDKD_CREATE_KEY').default(false));
  opt('--public-key-out <file>', 'write the coordinator\'s public key there at start-up (for clients to pin)', 'FEDKD_PUBLIC_KEY_OUT');
  command.addOption(new Option('--exit-after-rounds', 'stop once the --rounds are done').env('FEDKD_EXIT_AFTER_ROUNDS').default(false));
  return command;
}

export interface CoordinatorFlags {
  host: string;
  port: number;
  db: string;
  seed: number;
  rounds: number;
  minClients: number;
  participation: number;
  roundDeadlineMs: number;
  proxySize: number;
  temperature: number;
  encoding: CoordinatorConfig['encoding'];
  agg: string;
  loss: 'response' | 'relation';
  student: string;
  studentEpochs: number;
  studentLr: number;
  localEpochs: number;
  digestEpochs: number;
  maxMessageBytes: number;
  key: string;
  tlsKey?: string;
  tlsCert?: string;
  allowedOrigins: string;
  rateLimit: number;
  rateLimitBurst: number;
  createKey: boolean;
  publicKeyOut?: string;
  secureAgg: boolean;
  dp?: 'gnmax' | 'confident-gnmax' | 'gaussian';
  dpSigma: number;
  dpSigma1: number;
  dpThreshold: number;
  dpClip: number;
  dpDelta: number;
  secaggThreshold?: number;
  secaggDegree?: number;
  exitAfterRounds: boolean;
}

export function coordinatorConfigFrom(flags: CoordinatorFlags): CoordinatorConfig {
  const loss: LossSpec =
    flags.loss === 'relation'
      ? { name: 'relation', representation: 'logits', beta: 1, temperature: flags.temperature }
      : { name: 'response', temperature: flags.temperature };
  return {
    host: flags.host,
    port: flags.port,
    databasePath: flags.db,
    seed: flags.seed,
    rounds: flags.rounds,
    minClients: flags.minClients,
    participation: flags.participation,
    roundDeadlineMs: flags.roundDeadlineMs,
    proxySize: flags.proxySize,
    temperature: flags.temperature,
    encoding: flags.encoding,
    aggregation: parseAggregationRuleSpec(flags.agg),
    loss,
    student: ARCHITECTURES[flags.student],
    studentEpochs: flags.studentEpochs,
    studentBatchSize: COORDINATOR_DEFAULTS.studentBatchSize,
    studentLearningRate: flags.studentLr,
    localEpochs: flags.localEpochs,
    digestEpochs: flags.digestEpochs,
    maxMessageBytes: flags.maxMessageBytes,
    keyPath: flags.key,
    tlsKeyPath: flags.tlsKey ?? null,
    tlsCertPath: flags.tlsCert ?? null,
    allowedOrigins: flags.allowedOrigins.split(',').map((o) => o.trim()).filter(Boolean),
    rateLimitPerSecond: flags.rateLimit,
    rateLimitBurst: flags.rateLimitBurst,
    handshakeMaxSkewMs: COORDINATOR_DEFAULTS.handshakeMaxSkewMs,
    privacy: privacySpecFrom(flags),
    secureAggregation: { enabled: Boolean(flags.secureAgg), threshold: flags.secaggThreshold ?? null, degree: flags.secaggDegree ?? null },
    exitAfterRounds: Boolean(flags.exitAfterRounds),
  };
}

export function coordinatorCommand(): Command {
  return addCoordinatorOptions(new Command('coordinator').description('Run the coordinator: REST API, socket.io endpoint, rounds.')).action(
    (flags: CoordinatorFlags) =>
      exitOnError('fedkd coordinator', async () => {
        if (flags.createKey) ensureKeyPair(flags.key, 'the coordinator');
        if (flags.publicKeyOut) exportPublicKey(flags.key, flags.publicKeyOut);
        const running = await startCoordinator(coordinatorConfigFrom(flags));
        process.stderr.write(`fedkd coordinator listening on ${running.url}\n`);
        if (flags.exitAfterRounds && flags.rounds > 0) {
          await running.rounds.autoRunDone;
          await running.app.close();
          process.exit(0);
        }
      }),
  );
}

function privacySpecFrom(flags: CoordinatorFlags): PrivacySpec | null {
  const delta = flags.dpDelta;
  if (flags.dp === 'gnmax') return { mechanism: 'gnmax', sigma: flags.dpSigma, delta };
  if (flags.dp === 'confident-gnmax') return { mechanism: 'confident-gnmax', threshold: flags.dpThreshold, sigma1: flags.dpSigma1, sigma2: flags.dpSigma, delta };
  if (flags.dp === 'gaussian') return { mechanism: 'gaussian', clipNorm: flags.dpClip, sigma: flags.dpSigma, delta };
  return null;
}
