import { Command, Option } from 'commander';
import { parseAggregationRuleSpec, type LossSpec } from '@fedkd/distill';
import type { PrivacySpec } from '@fedkd/protocol';
import { COORDINATOR_DEFAULTS, defaultAggregationRule, type CoordinatorConfig } from './config/coordinator-config';
import { checkedArg, choiceArg, embeddedDatasetArg, envOption, exitOnError, integerArg, nonNegativeArg, positiveArg } from '@fedkd/command-line';
import { PROXY_GENERATORS, type EmbeddedDatasetName, type ProxyGeneratorName } from '@fedkd/data';
import { ZOO_MODEL_NAMES } from '@fedkd/engine';
import { ensureKeyPair, exportPublicKey } from '@fedkd/privacy';
import { isPredictionEncoding } from '@fedkd/protocol';

const D = COORDINATOR_DEFAULTS;

/**
 * The student-guided generator's flags, the replay buffer's and --samples-dir: `fedkd coordinator`
 * reads them, `fedkd simulate` takes the same and passes them on (studentGuidedArgs).
 */
const GUIDED_OPTIONS = [
  { flags: '--guided-steps <n>', key: 'guidedSteps', env: 'GUIDED_STEPS', description: 'student-guided generator: optimisation steps against the students before each round', parse: integerArg('--guided-steps', 1, 100_000), fallback: D.studentGuided.steps },
  { flags: '--guided-lr <lr>', key: 'guidedLr', env: 'GUIDED_LR', description: 'student-guided generator: Adam learning rate', parse: positiveArg('--guided-lr'), fallback: D.studentGuided.learningRate },
  { flags: '--guided-entropy <w>', key: 'guidedEntropy', env: 'GUIDED_ENTROPY', description: "student-guided generator: weight of the entropy of the batch's mean prediction (class balance)", parse: nonNegativeArg('--guided-entropy'), fallback: D.studentGuided.entropyWeight },
  { flags: '--guided-disagreement <w>', key: 'guidedDisagreement', env: 'GUIDED_DISAGREEMENT', description: 'student-guided generator: weight of the disagreement between the student and its copies', parse: nonNegativeArg('--guided-disagreement'), fallback: D.studentGuided.disagreementWeight },
  { flags: '--guided-copies <k>', key: 'guidedCopies', env: 'GUIDED_COPIES', description: 'student-guided generator: student copies trained beside the student, whose disagreement it seeks (0: none)', parse: integerArg('--guided-copies', 0, 8), fallback: D.studentCopies },
  { flags: '--guided-candidates <f>', key: 'guidedCandidates', env: 'GUIDED_CANDIDATES', description: 'student-guided generator: make f times the round\'s inputs and ask about those the students are least sure of, class-balanced (1: all)', parse: integerArg('--guided-candidates', 1, 32), fallback: D.studentGuided.candidates },
  { flags: '--guided-latent <n>', key: 'guidedLatent', env: 'GUIDED_LATENT', description: 'student-guided generator: latent dimensions', parse: integerArg('--guided-latent', 1, 1024), fallback: D.studentGuided.latent },
  { flags: '--guided-width <n>', key: 'guidedWidth', env: 'GUIDED_WIDTH', description: 'student-guided generator: filters of its last hidden convolution (the first has twice as many)', parse: integerArg('--guided-width', 1, 256), fallback: D.studentGuided.width },
  { flags: '--replay-size <n>', key: 'replaySize', env: 'REPLAY_SIZE', description: "inputs kept in the replay buffer (every round's answered inputs and aggregated answers, stored in the database): the student trains on all of it each round; 0 = the round's answers alone (default: 50000 with --generator student-guided, else 0)", parse: integerArg('--replay-size', 0, 1_000_000), fallback: undefined },
  { flags: '--samples-dir <dir>', key: 'samplesDir', env: 'SAMPLES_DIR', description: "write a PNG grid of each synthetic round's inputs (one row per intended class) to DIR/round-N.png", parse: undefined, fallback: undefined },
] as const;

/** Adds the student-guided generator's flags (GUIDED_OPTIONS and --guided-keep-generator), read from `${envPrefix}NAME` too. */
export function addStudentGuidedOptions(command: Command, envPrefix: string): Command {
  for (const o of GUIDED_OPTIONS) envOption(command, o.flags, o.description, `${envPrefix}${o.env}`, o.parse, o.fallback);
  command.addOption(new Option('--guided-keep-generator', "student-guided generator: continue from the last round's generator instead of a fresh one each round (kept in memory only)").env(`${envPrefix}GUIDED_KEEP_GENERATOR`).default(false));
  return command;
}

/** The student-guided flags as given, as coordinator arguments (for `fedkd simulate`). */
export function studentGuidedArgs(flags: Record<string, unknown>): string[] {
  const args: string[] = [];
  for (const o of GUIDED_OPTIONS) {
    const value = flags[o.key];
    if (value !== undefined && value !== null) args.push(o.flags.split(' ')[0], String(value));
  }
  if (flags.guidedKeepGenerator) args.push('--guided-keep-generator');
  return args;
}

/** Every coordinator flag, each also readable from the environment variable it names. */
export function addCoordinatorOptions(command: Command): Command {
  const opt = (flags: string, description: string, env: string, parse?: (v: string) => unknown, fallback?: unknown) =>
    envOption(command, flags, description, env, parse, fallback);
  opt('--host <host>', 'address to listen on', 'FEDKD_HOST', undefined, D.host);
  opt('--port <n>', 'HTTP and socket.io port (0 = any free port)', 'FEDKD_PORT', integerArg('--port', 0, 65535), D.port);
  opt('--db <path>', 'SQLite database file', 'FEDKD_DB', undefined, D.databasePath);
  opt('--task <file>', 'the task every party loads (JSON or YAML: name, input shape and scaling, class names); default: the --dataset\'s task', 'FEDKD_TASK');
  opt('--dataset <name>', 'embedded data set whose public and test splits serve when --proxy-data / --eval-data are not given: embedded:mnist | embedded:mnist-full', 'FEDKD_DATASET', embeddedDatasetArg('--dataset'), D.dataset);
  opt('--proxy-data <spec>', 'unlabelled public inputs the clients are asked about: FORMAT:PATH (idx, npy, csv, image-folder) or a path (format inferred); clients fetch them from here', 'FEDKD_PROXY_DATA');
  opt('--eval-data <spec>', 'labelled evaluation set; never leaves the coordinator (without it, and with --proxy-data, rounds report agreement with the aggregated targets)', 'FEDKD_EVAL_DATA');
  opt('--label-column <name>', 'CSV data: the column holding the label', 'FEDKD_LABEL_COLUMN', undefined, D.labelColumn);
  opt('--seed <n>', 'seed of the embedded split and of the student', 'FEDKD_SEED', integerArg('--seed'), D.seed);
  opt('--rounds <n>', 'rounds to run once --min-clients are connected (0 = only on POST /rounds)', 'FEDKD_ROUNDS', integerArg('--rounds'), D.rounds);
  opt('--min-clients <n>', 'clients needed to open a round, and answers needed to train', 'FEDKD_MIN_CLIENTS', integerArg('--min-clients', 1), D.minClients);
  opt('--min-answers <n>', 'answers a round needs to train (default: --min-clients)', 'FEDKD_MIN_ANSWERS', integerArg('--min-answers', 1));
  opt('--participation <f>', 'fraction of connected clients invited per round', 'FEDKD_PARTICIPATION', positiveArg('--participation', 1), D.participation);
  opt('--round-deadline-ms <ms>', 'time clients have to answer a round', 'FEDKD_ROUND_DEADLINE_MS', integerArg('--round-deadline-ms', 100), D.roundDeadlineMs);
  opt('--proxy <kind>', 'proxy inputs: public (the embedded public split) | synthetic (regenerated by every client from a seed: data-free)', 'FEDKD_PROXY', choiceArg('--proxy', ['public', 'synthetic'] as const), D.proxy);
  opt('--generator <name>', 'synthetic proxy generator: strokes (random pen strokes) | noise (uniform) | learned (trained here, black-box, from the answers) | student-guided (trained here against the student; its inputs are sent)', 'FEDKD_GENERATOR', choiceArg('--generator', PROXY_GENERATORS), D.generator);
  opt('--generator-lr <lr>', 'learned generator: Adam step per round, in pixel logits', 'FEDKD_GENERATOR_LR', positiveArg('--generator-lr'), D.generatorStep.learningRate);
  opt('--generator-disagreement <w>', 'learned generator: weight of student-ensemble disagreement in its reward (0 = confidence only)', 'FEDKD_GENERATOR_DISAGREEMENT', nonNegativeArg('--generator-disagreement'), D.generatorStep.disagreementWeight);
  addStudentGuidedOptions(command, 'FEDKD_');
  opt('--proxy-size <n>', 'proxy inputs asked per round (public: at most the public set\'s size)', 'FEDKD_PROXY_SIZE', integerArg('--proxy-size', 1, 100_000), D.proxySize);
  command.addOption(new Option('--proxy-resample', 'public proxy: ask about a fresh seeded sample of --proxy-size inputs each round (fewer bytes per round, more of the set over the run)').env('FEDKD_PROXY_RESAMPLE').default(false));
  opt('--temperature <T>', 'softmax temperature of the soft predictions', 'FEDKD_TEMPERATURE', positiveArg('--temperature'), D.temperature);
  opt('--encoding <e>', 'soft prediction encoding: float32 | float16 | uint8 | top-k:K (the K largest probabilities of each row, with their classes)', 'FEDKD_ENCODING', checkedArg('--encoding', encodingCheck), D.encoding);
  opt('--agg <rule>', 'reputation[:memory] (default; mean under --secure-agg) | mean | weighted | entropy-weighted | median | trimmed-mean[:beta] | selective[:maxEntropy] (clients weigh their answers by how well their data covers each input; works under --secure-agg); any rule\'s options also as name:option=value,... (selective:maxEntropy=0.9,minCoverage=0,selectorEpochs=20)', 'FEDKD_AGG', checkedArg('--agg', parseAggregationRuleSpec));
  opt('--loss <name>', 'student loss: response | relation', 'FEDKD_LOSS', choiceArg('--loss', ['response', 'relation'] as const), 'response');
  opt('--student-model <model>', `student: ${ZOO_MODEL_NAMES.join(' | ')} (zoo, sized to the task) or PATH/model.json (a TF.js LayersModel)`, 'FEDKD_STUDENT_MODEL', undefined, D.studentModel);
  opt('--student-init <init>', 'a model.json student: fresh weights or keep its own', 'FEDKD_STUDENT_INIT', choiceArg('--student-init', ['fresh', 'keep'] as const), D.studentInit);
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
  command.addOption(new Option('--public-read', 'REST reads (rounds, clients, models) without a token; POST /rounds still needs an admin token').env('FEDKD_PUBLIC_READ').default(false));
  opt('--rest-rate-limit <n>', 'REST requests allowed per client address in any 60 s (then 429 with Retry-After)', 'FEDKD_REST_RATE_LIMIT', integerArg('--rest-rate-limit', 1), D.restRateLimitPerMinute);
  command.addOption(new Option('--secure-agg', 'secure aggregation: the coordinator learns only the sum of the predictions (mean or weighted)').env('FEDKD_SECURE_AGG').default(false));
  opt('--secagg-threshold <t>', 'shares needed to unmask a client (default: a majority of its neighbours)', 'FEDKD_SECAGG_THRESHOLD', integerArg('--secagg-threshold', 2, 255));
  command.addOption(
    new Option('--secagg-unsafe-threshold', 'UNSAFE: allow a --secagg-threshold of half the neighbours or fewer (an equivocating coordinator could then recover one client\'s input); clients must opt in with --secagg-accept-unsafe-threshold')
      .env('FEDKD_SECAGG_UNSAFE_THRESHOLD')
      .default(false),
  );
  opt('--secagg-degree <k>', 'k-regular neighbour graph (SecAgg+) instead of the complete graph, for large rounds', 'FEDKD_SECAGG_DEGREE', integerArg('--secagg-degree', 2, 255));
  opt('--dp <mechanism>', 'differentially private rounds: gnmax | confident-gnmax | gaussian (off by default)', 'FEDKD_DP', choiceArg('--dp', ['gnmax', 'confident-gnmax', 'gaussian'] as const));
  opt('--dp-sigma <s>', 'noise per count (gnmax, gaussian) or of the answer (confident-gnmax: sigma2)', 'FEDKD_DP_SIGMA', positiveArg('--dp-sigma'), 40);
  opt('--dp-sigma1 <s>', 'confident-gnmax: noise of the threshold check', 'FEDKD_DP_SIGMA1', positiveArg('--dp-sigma1'), 60);
  opt('--dp-threshold <t>', 'confident-gnmax: noisy top count needed to answer a query', 'FEDKD_DP_THRESHOLD', positiveArg('--dp-threshold'), 60);
  opt('--dp-clip <c>', 'gaussian: L2 norm each teacher\'s probability row is clipped to', 'FEDKD_DP_CLIP', positiveArg('--dp-clip'), 1);
  opt('--dp-delta <d>', 'delta of the reported (epsilon, delta)', 'FEDKD_DP_DELTA', positiveArg('--dp-delta', 0.5), 1e-5);
  command.addOption(new Option('--create-key', 'create the key pair at --key if it does not exist yet').env('FEDKD_CREATE_KEY').default(false));
  opt('--public-key-out <file>', 'write the coordinator\'s public key there at start-up (for clients to pin)', 'FEDKD_PUBLIC_KEY_OUT');
  opt('--max-held-answers <n>', 'median and trimmed-mean keep every answer of a round in memory (n x classes x 4 bytes each): at most this many', 'FEDKD_MAX_HELD_ANSWERS', integerArg('--max-held-answers', 1), D.maxHeldAnswers);
  opt('--pre-auth-max-message-bytes <n>', 'largest WebSocket frame a connection may send before its hello is accepted (the hello fits; --max-message-bytes applies after)', 'FEDKD_PRE_AUTH_MAX_MESSAGE_BYTES', integerArg('--pre-auth-max-message-bytes', 1024), D.preAuthMaxMessageBytes);
  opt('--max-connections-per-address <n>', 'open socket connections from one remote address; more are refused', 'FEDKD_MAX_CONNECTIONS_PER_ADDRESS', integerArg('--max-connections-per-address', 1), D.maxConnectionsPerAddress);
  opt('--max-unauthenticated-connections <n>', 'connections without a valid hello yet, from all addresses together; more are refused', 'FEDKD_MAX_UNAUTHENTICATED_CONNECTIONS', integerArg('--max-unauthenticated-connections', 1), D.maxUnauthenticatedConnections);
  opt('--hello-timeout-ms <ms>', 'a connection without a valid hello after this long is closed', 'FEDKD_HELLO_TIMEOUT_MS', integerArg('--hello-timeout-ms', 100, 600_000), D.helloTimeoutMs);
  opt('--target-answers <n>', 'close a round as soon as this many valid answers are in (late ones are refused with ROUND_CLOSED); invites --over-selection times as many', 'FEDKD_TARGET_ANSWERS', integerArg('--target-answers', 1));
  opt('--over-selection <f>', 'with --target-answers: invite ceil(target x f) of the connected clients', 'FEDKD_OVER_SELECTION', positiveArg('--over-selection', 10), D.overSelection);
  command.addOption(new Option('--exit-after-rounds', 'stop once the --rounds are done').env('FEDKD_EXIT_AFTER_ROUNDS').default(false));
  return command;
}

export interface CoordinatorFlags {
  host: string;
  port: number;
  db: string;
  task?: string;
  dataset: EmbeddedDatasetName;
  proxyData?: string;
  evalData?: string;
  labelColumn: string;
  seed: number;
  rounds: number;
  minClients: number;
  minAnswers?: number;
  participation: number;
  roundDeadlineMs: number;
  proxy: 'public' | 'synthetic';
  generator: ProxyGeneratorName;
  generatorLr: number;
  replaySize?: number;
  guidedSteps: number;
  guidedLr: number;
  guidedEntropy: number;
  guidedDisagreement: number;
  guidedCopies: number;
  guidedCandidates: number;
  guidedLatent: number;
  guidedWidth: number;
  guidedKeepGenerator?: boolean;
  samplesDir?: string;
  generatorDisagreement: number;
  proxySize: number;
  proxyResample: boolean;
  temperature: number;
  encoding: CoordinatorConfig['encoding'];
  agg?: string;
  loss: 'response' | 'relation';
  studentModel: string;
  studentInit: 'fresh' | 'keep';
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
  publicRead: boolean;
  restRateLimit: number;
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
  secaggUnsafeThreshold: boolean;
  exitAfterRounds: boolean;
  maxHeldAnswers: number;
  preAuthMaxMessageBytes: number;
  maxConnectionsPerAddress: number;
  maxUnauthenticatedConnections: number;
  helloTimeoutMs: number;
  targetAnswers?: number;
  overSelection: number;
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
    taskPath: flags.task ?? null,
    dataset: flags.dataset,
    proxyData: flags.proxyData ?? null,
    evalData: flags.evalData ?? null,
    labelColumn: flags.labelColumn,
    seed: flags.seed,
    rounds: flags.rounds,
    minClients: flags.minClients,
    minAnswers: flags.minAnswers ?? null,
    participation: flags.participation,
    roundDeadlineMs: flags.roundDeadlineMs,
    proxy: flags.proxy,
    generator: flags.generator,
    generatorStep: { ...COORDINATOR_DEFAULTS.generatorStep, learningRate: flags.generatorLr, disagreementWeight: flags.generatorDisagreement },
    proxySize: flags.proxySize,
    proxyResample: Boolean(flags.proxyResample),
    replaySize: flags.replaySize ?? null,
    studentGuided: {
      ...COORDINATOR_DEFAULTS.studentGuided,
      steps: flags.guidedSteps,
      learningRate: flags.guidedLr,
      entropyWeight: flags.guidedEntropy,
      disagreementWeight: flags.guidedDisagreement,
      latent: flags.guidedLatent,
      width: flags.guidedWidth,
      reinitialise: !flags.guidedKeepGenerator,
      candidates: flags.guidedCandidates,
    },
    studentCopies: flags.guidedCopies,
    samplesDir: flags.samplesDir ?? null,
    temperature: flags.temperature,
    encoding: flags.encoding,
    aggregation: flags.agg ? parseAggregationRuleSpec(flags.agg) : defaultAggregationRule(Boolean(flags.secureAgg)),
    loss,
    studentModel: flags.studentModel,
    studentInit: flags.studentInit,
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
    publicRead: Boolean(flags.publicRead),
    restRateLimitPerMinute: flags.restRateLimit,
    privacy: privacySpecFrom(flags),
    secureAggregation: { enabled: Boolean(flags.secureAgg), threshold: flags.secaggThreshold ?? null, degree: flags.secaggDegree ?? null, unsafeThreshold: Boolean(flags.secaggUnsafeThreshold) },
    exitAfterRounds: Boolean(flags.exitAfterRounds),
    maxHeldAnswers: flags.maxHeldAnswers,
    preAuthMaxMessageBytes: flags.preAuthMaxMessageBytes,
    maxConnectionsPerAddress: flags.maxConnectionsPerAddress,
    maxUnauthenticatedConnections: flags.maxUnauthenticatedConnections,
    helloTimeoutMs: flags.helloTimeoutMs,
    targetAnswers: flags.targetAnswers ?? null,
    overSelection: flags.overSelection,
    // No flag yet: --log-level / FEDKD_LOG_LEVEL come with the config schema.
    logLevel: COORDINATOR_DEFAULTS.logLevel,
  };
}

export function coordinatorCommand(): Command {
  return addCoordinatorOptions(new Command('coordinator').description('Run the coordinator: REST API, socket.io endpoint, rounds.')).action(
    (flags: CoordinatorFlags) =>
      exitOnError('fedkd coordinator', async () => {
        if (flags.createKey) ensureKeyPair(flags.key, 'the coordinator');
        if (flags.publicKeyOut) exportPublicKey(flags.key, flags.publicKeyOut);
        // Nest and SQLite load only here, so that other commands of the same program never load them.
        const { startCoordinator } = await import('./start-coordinator');
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

/** A prediction encoding as written on the command line, checked by the protocol's parser. */
function encodingCheck(value: string): void {
  if (!isPredictionEncoding(value)) throw new Error(`must be float32, float16, uint8 or top-k:K, got '${value}'`);
}
