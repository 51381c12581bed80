import { Command } from 'commander';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createEnrolmentToken, initKeys } from '@fedkd/privacy';
import { initBackend, ZOO_MODEL_NAMES, zooModelSpec } from '@fedkd/engine';
import { createPartitioner, formatPartitionerSpec, loadEmbeddedPart, MNIST_TASK, subset, type PartitionerSpec } from '@fedkd/data';
import {
  argmaxAccuracy,
  ATTACK_NAMES,
  chooseAttackers,
  createAggregationRule,
  parseAttackName,
  runFedAvg,
  SelectiveRule,
  softPredictions,
  trainCentralised,
  trainCoverageSelector,
  type AttackName,
} from '@fedkd/distill';
import { loadPrivatePartition, trainLocalTeacher, type ClientEvent } from '@fedkd/client';
import { predictionPayloadBytes, type PredictionEncoding } from '@fedkd/protocol';
import { addSchemaOptions, exitOnError, optionsToArgv, parsedString, parseOptions, withDefault, withoutDefault } from '@fedkd/command-line';
import { z } from 'zod';
import { addCoordinatorOptions } from '../../../coordinator/src/coordinator-command';
import { coordinatorConfigSchema, coordinatorFlagsSchema, defaultAggregationRule } from '../../../coordinator/src/config/coordinator-config';
import { clientFlagsSchema } from '../../../edge-client/src/client-options';
import { InMemoryTransport } from './in-memory-transport';
import { coordinatorLinePrinter, coordinatorLogPrinter } from './coordinator-log';
import { freePort, startProcess, stopAll, type FleetProcess } from './process-fleet';
import { VirtualClientPool } from './virtual-client-pool';
import { formatReportTable, type RoundGeneratorMetrics, type RoundPrivacy, type SimulationReport, uploadPerClientOverRun } from './simulation-report';

/** One OS process per client: beyond this, use the in-memory transport. */
const MAX_SOCKET_CLIENTS = 100;
/** The teacher-ensemble reference retrains every client's teacher in this process. */
const MAX_ENSEMBLE_REFERENCE_CLIENTS = 20;

/** The default proxy size: the embedded data set's whole public split (mnist 2,000, mnist-full 5,000), or 2,000 synthetic inputs. */
function defaultProxySize(flags: SimulateFlags): number {
  return flags.proxy === 'public' && flags.dataset === 'mnist-full' ? 5000 : 2000;
}

/** The flags once the defaults that depend on others are settled. */
type SimulateRun = SimulateFlags & { agg: string };

const C = coordinatorFlagsSchema.shape;
const K = clientFlagsSchema.shape;

/**
 * Every flag of `fedkd simulate` (environment variables FEDKD_SIM_ and the flag's name). Those it
 * passes on to the coordinator and the clients are theirs (the same checks, defaults and help),
 * picked from their schemas; the rest are its own.
 */
const simulateFlagsSchema = z.object({
  dataset: C.dataset.meta({ description: 'embedded data set: embedded:mnist (10,000 digits: 6,000 private, 2,000 proxy, 2,000 test) | embedded:mnist-full (60,000 private; 5,000 proxy, 5,000 test)' }),
  clients: z.coerce.number().int().min(1).max(100_000).default(5).meta({ arg: 'k', description: 'clients in the federation' }),
  transport: z.enum(['memory', 'socket']).optional().meta({ arg: 't', description: 'memory (virtual clients run by a pool of worker processes; the default above 10 clients) | socket (one process per client over loopback socket.io; at most 100)' }),
  workers: z.coerce.number().int().min(1).max(256).default(availableParallelism()).meta({ arg: 'n', description: "memory transport: worker processes running the sampled clients (default: the machine's cores)" }),
  fraction: C.participation.meta({ arg: 'f', description: 'share of the clients sampled each round (seeded)' }),
  minAnswers: C.minAnswers.meta({ description: 'answers a round needs to train (default: every sampled client, or --target-answers)' }),
  targetAnswers: C.targetAnswers.meta({ description: 'close each round at this many valid answers, inviting --over-selection times as many (instead of --fraction)' }),
  overSelection: C.overSelection,
  secaggDegree: C.secaggDegree,
  rounds: z.coerce.number().int().min(1).default(5).meta({ arg: 'r', description: 'rounds' }),
  partition: z.enum(['iid', 'dirichlet', 'shards']).default('dirichlet').meta({ arg: 'name', description: 'iid | dirichlet | shards' }),
  alpha: z.coerce.number().positive().default(0.5).meta({ arg: 'a', description: 'dirichlet concentration' }),
  shards: z.coerce.number().int().min(1).default(2).meta({ arg: 'n', description: 'shards per client' }),
  agg: C.agg,
  attackers: z.coerce
    .number()
    .refine((v) => v >= 0 && v < 0.5, { error: (issue) => `must be a fraction in [0, 0.5), got '${String(issue.input)}'` })
    .default(0)
    .meta({ arg: 'fraction', description: 'share of the clients that attack (enrolled, correctly signing, adversarial answers; chosen by the seed), in [0, 0.5); needs --attack' }),
  attack: parsedString(parseAttackName).optional().meta({ arg: 'name', description: `how attackers answer: ${ATTACK_NAMES.join(' | ')}` }),
  loss: C.loss,
  seed: C.seed.meta({ description: 'seed of everything' }),
  teacher: withDefault(K.model, 'cnn').meta({ description: 'client teacher architecture: mlp | cnn' }),
  student: z.enum(ZOO_MODEL_NAMES).default('mlp').meta({ arg: 'arch', description: 'student architecture: mlp | cnn' }),
  teacherEpochs: withDefault(K.epochs, 15).meta({ description: 'initial teacher epochs' }),
  localEpochs: C.localEpochs,
  digestEpochs: C.digestEpochs,
  studentEpochs: C.studentEpochs,
  temperature: C.temperature,
  encoding: C.encoding,
  proxyResample: C.proxyResample,
  roundDeadlineMs: withoutDefault(C.roundDeadlineMs).meta({ description: 'round deadline (default 300000; with --dp 1800000: each client trains its --teachers-per-client teachers within its first private round)' }),
  report: z.string().default('reports/simulate.json').meta({ arg: 'file', description: 'where the JSON report is written' }),
  fedavgLocalEpochs: z.coerce.number().int().min(1).default(2).meta({ arg: 'n', description: 'FedAvg local epochs per round' }),
  centralisedEpochs: z.coerce.number().int().min(1).default(20).meta({ arg: 'n', description: 'epochs of the centralised reference' }),
  baselines: z.boolean().default(true).meta({ env: 'NO_BASELINES', description: 'skip the teacher ensemble, centralised and FedAvg references' }),
  proxy: C.proxy,
  generator: C.generator,
  generatorLr: C.generatorLr,
  generatorDisagreement: C.generatorDisagreement,
  guidedSteps: C.guidedSteps,
  guidedLr: C.guidedLr,
  guidedEntropy: C.guidedEntropy,
  guidedDisagreement: C.guidedDisagreement,
  guidedCopies: C.guidedCopies,
  guidedCandidates: C.guidedCandidates,
  guidedLatent: C.guidedLatent,
  guidedWidth: C.guidedWidth,
  replaySize: C.replaySize,
  samplesDir: C.samplesDir,
  guidedKeepGenerator: C.guidedKeepGenerator,
  queryBudget: K.queryBudget.meta({ description: 'each client answers at most this many proxy inputs over the run (default: no limit)' }),
  proxySize: withoutDefault(C.proxySize).meta({ description: 'proxy inputs per round (default: the whole public split, or 2000 synthetic)' }),
  dp: C.dp,
  dpSigma: C.dpSigma,
  dpThreshold: withoutDefault(C.dpThreshold).meta({ description: "confident-gnmax: noisy top count needed to answer (default 0.8 x the teachers answering a round: PATE 2018's 200 of 250)" }),
  dpSigma1: withoutDefault(C.dpSigma1).meta({ description: "confident-gnmax: noise of the threshold check (default 0.6 x the teachers answering a round: PATE 2018's 150 for 250)" }),
  teachersPerClient: withDefault(K.teachersPerClient, 20).meta({ description: 'private rounds: teachers per client on disjoint shards' }),
  epsilonMax: K.epsilonMax.meta({ description: "each client's privacy budget" }),
  secureAgg: C.secureAgg.meta({ description: 'secure aggregation: the coordinator learns only the sum (needs --agg mean, weighted or selective)' }),
});

type SimulateFlags = z.output<typeof simulateFlagsSchema>;

export function simulateCommand(cliMain: string): Command {
  const command = new Command('simulate').description(
    'Run a federation of K clients against a real coordinator for R rounds, over loopback sockets (one process per client) or an in-memory transport (virtual clients in a pool of worker processes), then report fedkd beside local-only, centralised and FedAvg.',
  );
  addSchemaOptions(command, simulateFlagsSchema, { envPrefix: 'FEDKD_SIM_' });
  return command.action(() => exitOnError('fedkd simulate', () => simulate(parseOptions(simulateFlagsSchema, command.opts()), cliMain)));
}

/**
 * The round deadline: 5 minutes, or 30 with --dp, where each client trains its ensemble of
 * --teachers-per-client teachers lazily within its first private round (50 CNN teachers on each of
 * 5 clients took longer than 5 minutes on 2 cores, and every round failed until they were trained).
 */
export function roundDeadlineMs(flags: Pick<SimulateFlags, 'roundDeadlineMs' | 'dp'>): number {
  return flags.roundDeadlineMs ?? (flags.dp ? 1_800_000 : 300_000);
}

/** Confident-GNMax's threshold: by default PATE 2018's ratio (200 of 250 teachers) of the teachers answering a round. */
export function confidentThreshold(flags: Pick<SimulateFlags, 'dpThreshold' | 'teachersPerClient'>, answering: number): number {
  return flags.dpThreshold ?? 0.8 * answering * flags.teachersPerClient;
}

/** Confident-GNMax's threshold noise: by default PATE 2018's ratio (150 for 250 teachers) of the teachers answering a round. */
export function confidentSigma1(flags: Pick<SimulateFlags, 'dpSigma1' | 'teachersPerClient'>, answering: number): number {
  return flags.dpSigma1 ?? 0.6 * answering * flags.teachersPerClient;
}

function partitionSpec(flags: SimulateFlags): PartitionerSpec {
  if (flags.partition === 'dirichlet') return { name: 'dirichlet', alpha: flags.alpha };
  if (flags.partition === 'shards') return { name: 'shards', shardsPerClient: flags.shards };
  return { name: 'iid' };
}

/** GET with the run's own read token (the coordinator's REST API refuses reads without one). */
async function getJson<T>(url: string, readToken: string): Promise<T> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${readToken}` } });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

interface RoundRecord {
  number: number;
  state: string;
  reason: string | null;
  openedAt: number;
  closedAt: number | null;
  metrics: { testAccuracy?: number; invited?: number; answered?: number; privacy?: RoundPrivacy; queries?: number; proxyBytesPerClient?: number; generator?: RoundGeneratorMetrics } | null;
  timings: Record<string, number> | null;
  participants: { clientId: string; status: string; reason: string | null; bytesUploaded: number }[];
}

/** Which clients attack (client indices), or null; checks that --attackers and --attack fit the run. */
export function attackPlan(flags: Pick<SimulateFlags, 'attackers' | 'attack' | 'clients' | 'seed' | 'dp' | 'transport'>): { name: AttackName; attackers: number[] } | null {
  if (flags.attackers === 0) {
    if (flags.attack) throw new Error(`--attack ${flags.attack} needs --attackers FRACTION (the share of clients that attack)`);
    return null;
  }
  if (!flags.attack) throw new Error(`--attackers ${flags.attackers} needs --attack NAME (${ATTACK_NAMES.join(', ')})`);
  if (flags.dp) throw new Error('--attackers: attackers rewrite soft predictions, but --dp rounds send noisy votes; run them apart');
  if (flags.transport === 'socket') throw new Error('--attackers runs on the memory transport (attackers are virtual clients): drop --transport socket');
  const attackers = chooseAttackers(flags.clients, flags.attackers, flags.seed);
  if (attackers.length === 0) throw new Error(`--attackers ${flags.attackers} of ${flags.clients} clients rounds to no attacker: raise it to at least ${(0.5 / flags.clients).toFixed(3)}`);
  return { name: flags.attack, attackers };
}

async function simulate(given: SimulateFlags, cliMain: string): Promise<void> {
  const started = Date.now();
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const attack = attackPlan(given);
  // One default rule for the coordinator and the simulation (the robustness table chose it).
  const flags: SimulateRun = {
    ...given,
    agg: given.agg ?? defaultAggregationRule(given.secureAgg).name,
    transport: given.transport ?? (attack ? 'memory' : undefined),
  };
  if (flags.secureAgg && createAggregationRule(flags.agg).needsIndividualPredictions) {
    throw new Error(`--secure-agg reveals only the sum of the predictions, but --agg ${flags.agg} needs each client's: use --agg mean, weighted or selective`);
  }
  const transport = flags.transport ?? (flags.clients > 10 ? 'memory' : 'socket');
  if (transport === 'socket' && flags.clients > MAX_SOCKET_CLIENTS) {
    throw new Error(`--transport socket starts one process per client: at most ${MAX_SOCKET_CLIENTS}, got --clients ${flags.clients} (use --transport memory)`);
  }
  const backend = await initBackend();
  const partition = formatPartitionerSpec(partitionSpec(flags));
  const work = mkdtempSync(join(tmpdir(), 'fedkd-simulate-'));
  // Identities as an operator would set them up: coordinator key, one enrolment token per client.
  const keys = join(work, 'keys');
  const coordinatorKey = initKeys(keys, 'coordinator');
  if (!coordinatorKey.ok) throw new Error(coordinatorKey.message);
  const { tokens, readToken } = await enrolClients(join(work, 'fedkd.sqlite'), flags.clients);
  const sampled = flags.targetAnswers
    ? Math.min(flags.clients, Math.ceil(flags.targetAnswers * flags.overSelection))
    : Math.max(1, Math.ceil(flags.clients * flags.fraction));
  say(
    `simulate: embedded:${flags.dataset}, ${flags.clients} clients (${flags.teacher} teachers, ${partition}), ${sampled} sampled per round, ` +
      `${flags.rounds} rounds, ${flags.agg}, student ${flags.student}; ${transport} transport${transport === 'memory' ? ` with ${flags.workers} worker processes` : ''}`,
  );
  // The coordinator's own flags as given here (picked from its schema), and those simulate settles.
  const coordinatorArgs = optionsToArgv(coordinatorFlagsSchema, {
    ...flags,
    db: join(work, 'fedkd.sqlite'),
    minClients: flags.clients,
    participation: flags.fraction,
    minAnswers: flags.minAnswers ?? flags.targetAnswers ?? sampled,
    // Every simulated client connects from this machine's loopback address.
    maxConnectionsPerAddress: flags.clients + 8,
    studentModel: flags.student,
    roundDeadlineMs: roundDeadlineMs(flags),
    key: coordinatorKey.value.secretKeyPath,
    proxySize: flags.proxySize ?? defaultProxySize(flags),
    dpThreshold: flags.dp === 'confident-gnmax' ? confidentThreshold(flags, flags.targetAnswers ?? sampled) : undefined,
    dpSigma1: flags.dp === 'confident-gnmax' ? confidentSigma1(flags, flags.targetAnswers ?? sampled) : undefined,
  });

  try {
    const federation =
      transport === 'socket'
        ? await runOverSockets(flags, cliMain, work, coordinatorArgs, coordinatorKey.value.publicKeyPath, tokens, readToken, partition, say)
        : await runInMemory(flags, work, coordinatorArgs, coordinatorKey.value.publicKey, tokens, readToken, attack, say);
    const { rounds, nameOf, clientEvents } = federation;
    const studentOf = new Map(federation.models.map((m) => [m.round, m.sha256]));
    const report: SimulationReport = {
      config: { ...flags, partition, transport },
      backend: backend.name,
      rounds: rounds.map((r) => {
        const compute = clientComputeSeconds(r.number, clientEvents);
        return {
          round: r.number,
          state: r.state,
          reason: r.reason,
          studentAccuracy: r.metrics?.testAccuracy ?? null,
          studentSha256: studentOf.get(r.number) ?? null,
          invited: r.participants.length,
          answered: r.participants.filter((p) => p.status === 'answered').length,
          declined: r.participants.filter((p) => p.status === 'declined').length,
          // Why invited clients did not answer (declined, rejected, dropped), each reason once.
          otherOutcomes: [...new Set(r.participants.filter((p) => p.status !== 'answered').map((p) => `${p.status}: ${p.reason ?? 'no reason'}`))],
          bytesUploadedPerClient: Object.fromEntries(r.participants.map((p) => [nameOf.get(p.clientId) ?? p.clientId, p.bytesUploaded])),
          wallSeconds: ((r.closedAt ?? Date.now()) - r.openedAt) / 1000,
          timings: r.timings ?? {},
          clientComputeSeconds: compute,
          privacy: r.metrics?.privacy ?? null,
          queries: r.metrics?.queries ?? 0,
          proxyBytesPerClient: r.metrics?.proxyBytesPerClient ?? 0,
          generator: r.metrics?.generator ?? null,
        };
      }),
      clients: [...clientEvents.entries()]
        .map(([name, events]) => {
          const ready = events.find((e) => e.event === 'ready') as Extract<ClientEvent, { event: 'ready' }> | undefined;
          return { name, samples: ready?.samples ?? 0, localOnlyAccuracy: ready?.localOnlyAccuracy ?? NaN };
        })
        .filter((c) => c.samples > 0 || flags.clients <= 10),
      transportBytes: federation.transportBytes,
      coordinatorRssBytes: federation.coordinatorRssBytes,
      centralised: null,
      fedavg: null,
      teacherEnsemble: null,
      secureAggregation: flags.secureAgg ? secureAggregationOverhead(rounds.map((r) => r.number), clientEvents, flags) : null,
      uploadPerClientOverRun: {
        fedkd: uploadPerClientOverRun(rounds.map((r) => ({ bytes: r.participants.map((p) => p.bytesUploaded) })), flags.clients),
        fedavg: null,
      },
      finalStudentAccuracy: rounds.filter((r) => r.state === 'published').at(-1)?.metrics?.testAccuracy ?? null,
      robustness: robustnessReport(flags, attack, federation.clients),
      wallSeconds: 0,
    };

    if (flags.baselines) {
      if (flags.clients <= MAX_ENSEMBLE_REFERENCE_CLIENTS) {
        say(`baselines: the clients' initial teachers, rebuilt here from the same seeds, as one ${flags.agg} ensemble`);
        report.teacherEnsemble = await initialTeacherEnsemble(flags);
        say(`  teacher ensemble test accuracy ${report.teacherEnsemble.testAccuracy.toFixed(4)}`);
      } else say(`baselines: no teacher-ensemble reference above ${MAX_ENSEMBLE_REFERENCE_CLIENTS} clients (it retrains every teacher)`);
      const pool = loadEmbeddedPart(flags.dataset, 'private', flags.seed);
      const test = loadEmbeddedPart(flags.dataset, 'test', flags.seed);
      const spec = zooModelSpec(flags.student, MNIST_TASK.input.shape, MNIST_TASK.classes.length);
      say(`baselines: centralised ${flags.student} on the whole private pool (${flags.centralisedEpochs} epochs)`);
      const centralised = await trainCentralised({ spec, train: pool, test, epochs: flags.centralisedEpochs, seed: flags.seed });
      report.centralised = { testAccuracy: centralised.testAccuracy, epochs: centralised.epochs, seconds: centralised.seconds };
      say(`  centralised test accuracy ${centralised.testAccuracy.toFixed(4)}`);
      say(`baselines: FedAvg, ${flags.clients} clients (${sampled} a round), ${flags.rounds} rounds, ${flags.fedavgLocalEpochs} local epochs`);
      const parts = createPartitioner(partitionSpec(flags)).partition(pool.labels, flags.clients, flags.seed).clients;
      const fedavg = await runFedAvg({
        spec,
        clients: parts.map((indices) => subset(pool, indices)),
        test,
        rounds: flags.rounds,
        localEpochs: flags.fedavgLocalEpochs,
        seed: flags.seed,
        fraction: flags.fraction,
        onRound: (r) => say(`  FedAvg round ${r.round}: test accuracy ${r.testAccuracy.toFixed(4)}`),
      });
      report.fedavg = {
        localEpochs: flags.fedavgLocalEpochs,
        rounds: fedavg.rounds.map((r) => ({ round: r.round, testAccuracy: r.testAccuracy, bytesUploadedPerClient: r.bytesUploadedPerClient, seconds: r.seconds })),
      };
      report.uploadPerClientOverRun.fedavg = uploadPerClientOverRun(fedavg.rounds.map((r) => ({ bytes: r.bytesUploadedPerClient })), flags.clients);
    }
    report.wallSeconds = (Date.now() - started) / 1000;
    const reportPath = resolve(flags.report);
    mkdirSync(dirname(reportPath), { recursive: true });
    writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${formatReportTable(report)}\nreport written to ${reportPath}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** What a simulated federation produced, whatever the transport. */
interface FederationRun {
  rounds: RoundRecord[];
  /** Published student versions: which round made them, and their weights' SHA-256. */
  models: { round: number; sha256: string }[];
  nameOf: Map<string, string>;
  clientEvents: Map<string, ClientEvent[]>;
  /** Bytes the transport carried each way over the whole run (all messages, framing included). */
  transportBytes: { up: number; down: number } | null;
  /** The coordinator process's resident memory at the end of the rounds. */
  coordinatorRssBytes: number | null;
  /** GET /clients at the end of the rounds. */
  clients: ClientListing[];
}

/** What GET /clients says of a client that the report uses. */
interface ClientListing {
  id: string;
  name: string;
  reputation?: { reputation: number; flagged: boolean; flaggedRounds: number[]; history: { round: number; agreement: number; reputation: number; weight: number; flagged: boolean }[] };
}

/** One coordinator process and one process per client, over real socket.io on loopback. */
async function runOverSockets(
  flags: SimulateRun,
  cliMain: string,
  work: string,
  coordinatorArgs: string[],
  coordinatorPublicKeyPath: string,
  tokens: string[],
  readToken: string,
  partition: string,
  say: (line: string) => void,
): Promise<FederationRun> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const fleet: FleetProcess[] = [];
  const clientEvents = new Map<string, ClientEvent[]>();
  try {
    const printCoordinatorLine = coordinatorLinePrinter(say, { quietJoins: flags.clients > 10 });
    fleet.push(startProcess('coordinator', cliMain, ['coordinator', '--port', String(port), ...coordinatorArgs], printCoordinatorLine, printCoordinatorLine));
    say(dashboardLine(url, readToken));
    for (let i = 0; i < flags.clients; i++) {
      const name = `client-${i}`;
      clientEvents.set(name, []);
      fleet.push(
        startProcess(
          name,
          cliMain,
          [
            'client',
            ...optionsToArgv(clientFlagsSchema, {
              coordinator: url,
              name,
              dataset: flags.dataset,
              index: i,
              clients: flags.clients,
              partition,
              seed: flags.seed,
              model: flags.teacher,
              epochs: flags.teacherEpochs,
              key: join(work, 'keys', `${name}.key`),
              createKey: true,
              coordinatorKey: coordinatorPublicKeyPath,
              enrolmentToken: tokens[i],
              ledger: join(work, 'ledgers', `${name}.json`),
              teachersPerClient: flags.teachersPerClient,
              epsilonMax: flags.epsilonMax,
              queryBudget: flags.queryBudget,
              shareSampleCount: flags.agg.startsWith('weighted'),
            }),
          ],
          (line) => {
            const event = parseEvent(line);
            if (!event) return;
            clientEvents.get(name)!.push(event);
            reportClientEvent(name, event, say);
          },
          (line) => {
            if (!line.startsWith('fedkd: TensorFlow.js backend')) say(`  ${line.startsWith(`${name}: `) ? line : `${name}: ${line}`}`);
          },
        ),
      );
    }
    const rounds = await waitForRounds(url, readToken, flags.rounds, fleet);
    const clients = await getJson<ClientListing[]>(`${url}/clients`, readToken);
    const models = await getJson<{ round: number; sha256: string }[]>(`${url}/models`, readToken);
    return { rounds, models, nameOf: new Map(clients.map((c) => [c.id, c.name])), clientEvents, transportBytes: null, coordinatorRssBytes: null, clients };
  } finally {
    await stopAll(fleet);
  }
}

/**
 * The coordinator in this process and the clients as virtual clients in a pool of worker
 * processes, over the in-memory transport: each client materialised only when it has something
 * to do, its state kept in a store between rounds.
 */
async function runInMemory(
  flags: SimulateRun,
  work: string,
  coordinatorArgs: string[],
  coordinatorPublicKey: Uint8Array,
  tokens: string[],
  readToken: string,
  attack: { name: AttackName; attackers: number[] } | null,
  say: (line: string) => void,
): Promise<FederationRun> {
  const { startCoordinator } = await import('../../../coordinator/src/start-coordinator');
  const { FederationEndpoint } = await import('../../../coordinator/src/transport/federation-endpoint');
  // The same arguments as a coordinator process gets, read the same way.
  const given = addCoordinatorOptions(new Command('coordinator')).exitOverride().parse(['--port', '0', ...coordinatorArgs], { from: 'user' }).opts();
  const running = await startCoordinator(parseOptions(coordinatorConfigSchema, given), { logDestination: coordinatorLogPrinter(say, { quietJoins: flags.clients > 10 }) });
  say(dashboardLine(running.url, readToken));
  const clientEvents = new Map<string, ClientEvent[]>(Array.from({ length: flags.clients }, (_, i) => [`client-${i}`, []]));
  let transport: InMemoryTransport | null = null;
  const pool = new VirtualClientPool(
    flags.workers,
    {
      dataset: flags.dataset,
      clients: flags.clients,
      partition: partitionSpec(flags),
      seed: flags.seed,
      teacher: flags.teacher,
      epochs: flags.teacherEpochs,
      shareSampleCount: flags.agg.startsWith('weighted'),
      teachersPerClient: flags.teachersPerClient,
      epsilonMax: flags.epsilonMax,
      queryBudget: flags.queryBudget ?? null,
      coordinatorPublicKey,
      storeDir: join(work, 'clients'),
      tokens,
      localOnlyReference: flags.clients <= 10,
      attack,
    },
    {
      onEmit: (client, event, payload) => transport!.receive(client, event, payload),
      onEvent: (client, event) => {
        clientEvents.get(`client-${client}`)!.push(event);
        reportClientEvent(`client-${client}`, event, say);
      },
      onDone: (done) => {
        if (done.error) say(`  client-${done.client}: ${done.error}`);
      },
      onLog: (line) => {
        if (flags.clients <= 10) say(`  ${line}`);
      },
    },
  );
  try {
    await pool.start();
    transport = new InMemoryTransport(running.app.get(FederationEndpoint), pool, flags.clients);
    await transport.connectAll();
    say(`  ${flags.clients} virtual clients registered`);
    await running.rounds.autoRunDone;
    const rssBytes = process.memoryUsage().rss;
    const rounds = await waitForRounds(running.url, readToken, flags.rounds, []);
    const clients = await getJson<ClientListing[]>(`${running.url}/clients`, readToken);
    const models = await getJson<{ round: number; sha256: string }[]>(`${running.url}/models`, readToken);
    return { rounds, models, nameOf: new Map(clients.map((c) => [c.id, c.name])), clientEvents, transportBytes: { ...pool.bytes }, coordinatorRssBytes: rssBytes, clients };
  } finally {
    await pool.stop();
    await running.app.close();
  }
}

/** Who attacked, and whom the reputation rule flagged (with its evidence), from GET /clients. */
function robustnessReport(flags: SimulateRun, attack: { name: AttackName; attackers: number[] } | null, clients: readonly ClientListing[]): SimulationReport['robustness'] {
  const tracked = clients.filter((c) => c.reputation);
  if (!attack && tracked.length === 0) return null;
  const attackers = (attack?.attackers ?? []).map((i) => `client-${i}`);
  const flagged = tracked.filter((c) => c.reputation!.flaggedRounds.length > 0).sort((a, b) => (a.name < b.name ? -1 : 1));
  return {
    attack: attack?.name ?? null,
    fraction: flags.attackers,
    attackers,
    sybilOf: attack?.name === 'sybil' ? attackers[0] : null,
    flagged: flagged.map((c) => ({ name: c.name, attacker: attackers.includes(c.name), flaggedRounds: c.reputation!.flaggedRounds, reputation: c.reputation!.reputation, history: c.reputation!.history })),
  };
}

/** Progress lines of the clients: teachers ready, refusals and declines (quiet for large federations). */
function reportClientEvent(name: string, event: ClientEvent, say: (line: string) => void): void {
  if (event.event === 'ready') say(`  ${name}: teacher ready, ${event.samples} samples${event.localOnlyAccuracy !== null ? `, local-only accuracy ${event.localOnlyAccuracy.toFixed(4)}` : ''}`);
  if (event.event === 'round' && !event.ok) say(`  ${name}: round ${event.round} refused: ${event.code} ${event.message}`);
  if (event.event === 'declined') say(`  ${name}: declined round ${event.round}: ${event.reason}`);
}

/** Median and largest compute time of the clients that answered a round (what each client spent on it, from its own events). */
function clientComputeSeconds(round: number, events: Map<string, ClientEvent[]>): { median: number; max: number } | null {
  const seconds = [...events.values()]
    .flatMap((list) => list)
    .filter((e): e is Extract<ClientEvent, { event: 'round' }> => e.event === 'round' && e.round === round)
    .map((e) => e.seconds)
    .sort((a, b) => a - b);
  if (seconds.length === 0) return null;
  return { median: seconds[Math.floor(seconds.length / 2)], max: seconds[seconds.length - 1] };
}

/**
 * The ceiling of the student: the clients' teachers as they were before round 1 (each client's
 * training is deterministic in its seed, so they are rebuilt exactly), aggregated by the same rule
 * on the test split. Rounds then refresh the teachers, so this is a reference, not a bound.
 */
async function initialTeacherEnsemble(flags: SimulateRun): Promise<NonNullable<SimulationReport['teacherEnsemble']>> {
  const test = loadEmbeddedPart(flags.dataset, 'test', flags.seed);
  const predictions: Float32Array[] = [];
  const sampleCounts: number[] = [];
  const coverage: Float32Array[] = [];
  const rule = createAggregationRule(flags.agg);
  const selective = rule instanceof SelectiveRule ? rule : null;
  // Coverage rules: each client's selector, trained as a client trains it (own inputs against the proxy inputs of the first round).
  const proxy = selective ? subset(loadEmbeddedPart(flags.dataset, 'proxy', flags.seed), Array.from({ length: flags.proxySize ?? defaultProxySize(flags) }, (_, i) => i)) : null;
  for (let i = 0; i < flags.clients; i++) {
    const model = zooModelSpec(flags.teacher, MNIST_TASK.input.shape, MNIST_TASK.classes.length);
    const config = { dataset: flags.dataset, clientIndex: i, clients: flags.clients, partition: partitionSpec(flags), seed: flags.seed, model, epochs: flags.teacherEpochs };
    const data = loadPrivatePartition(config);
    const teacher = await trainLocalTeacher(config, data);
    predictions.push(softPredictions(teacher, test, flags.temperature));
    sampleCounts.push(data.count);
    teacher.dispose();
    if (selective && proxy) {
      const selector = await trainCoverageSelector(data, proxy, { seed: flags.seed + 7 * i + 1, epochs: selective.selectorEpochs });
      coverage.push(selector.coverage(test, selective.oddsScale));
      selector.dispose();
    }
  }
  const shape = { n: test.count, classes: 10 };
  const ensemble = rule.aggregate(predictions, shape, rule.name === 'weighted' ? sampleCounts : undefined, selective ? coverage : undefined);
  // Inputs a selective rule dropped have no target: the reference labels them by the plain mean.
  const mean = createAggregationRule('mean').aggregate(predictions, shape);
  for (let i = 0; i < shape.n; i++) {
    if (!ensemble.subarray(i * 10, i * 10 + 10).some((v) => v > 0)) ensemble.set(mean.subarray(i * 10, i * 10 + 10), i * 10);
  }
  return { testAccuracy: argmaxAccuracy(ensemble, test.labels, 10), teachers: flags.clients };
}

/**
 * One-time enrolment tokens for client-0..k-1, stored (hashed) in the coordinator's database, and
 * a read token for the REST API (as `fedkd admin token create --scope read` makes) with which this
 * process reads the rounds' results: the coordinator's reads stay closed to everyone else on the
 * machine (no --public-read), and the token lives only in this process's memory.
 */
async function enrolClients(databasePath: string, clients: number): Promise<{ tokens: string[]; readToken: string }> {
  // SQLite loads only when a simulation runs (not for `fedkd client`, which shares this program).
  const { openDatabase } = await import('../../../coordinator/src/persistence/coordinator-database');
  const { createApiToken } = await import('../../../coordinator/src/auth/api-tokens');
  const db = await openDatabase(databasePath);
  try {
    const tokens: string[] = [];
    for (let i = 0; i < clients; i++) {
      const { token, record } = createEnrolmentToken(`client-${i}`, 24 * 3_600_000, Date.now());
      await db.identities.addToken(record);
      tokens.push(token);
    }
    return { tokens, readToken: (await createApiToken(db, 'fedkd-simulate', 'read')).token };
  } finally {
    await db.close();
  }
}

/** Per round: mean bytes and milliseconds of cryptography per client under secure aggregation, beside the plain upload. */
function secureAggregationOverhead(rounds: number[], events: Map<string, ClientEvent[]>, flags: SimulateFlags): SimulationReport['secureAggregation'] {
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return rounds.map((round) => {
    const reports = [...events.values()]
      .flatMap((list) => list)
      .filter((e): e is Extract<ClientEvent, { event: 'round' }> => e.event === 'round' && e.round === round && e.ok && !!e.secureAggregation);
    return {
      round,
      clients: reports.length,
      bytesPerClient: Math.round(mean(reports.map((r) => r.secureAggregation!.bytes))),
      cryptoMsPerClient: Math.round(mean(reports.map((r) => r.secureAggregation!.cryptoMs)) * 10) / 10,
      plainBytesPerClient: predictionPayloadBytes(flags.proxySize ?? defaultProxySize(flags), 10, flags.encoding as PredictionEncoding),
    };
  });
}

function parseEvent(line: string): ClientEvent | null {
  try {
    const value = JSON.parse(line) as ClientEvent;
    return typeof value === 'object' && value && 'event' in value ? value : null;
  } catch {
    return null;
  }
}

/** Where to watch the simulation live: the coordinator's dashboard, with the run's read token in the fragment (never sent to the server). */
function dashboardLine(url: string, readToken: string): string {
  return `  dashboard: ${url}/dashboard#token=${readToken}`;
}

/** Polls the REST API until `rounds` rounds have ended; fails fast if any process of the fleet dies. */
async function waitForRounds(url: string, readToken: string, rounds: number, fleet: readonly FleetProcess[]): Promise<RoundRecord[]> {
  let died: FleetProcess | undefined;
  for (const p of fleet) void p.exited.then(() => (died ??= p));
  for (;;) {
    if (died) throw new Error(`${died.name} exited (code ${died.child.exitCode ?? died.child.signalCode}) before ${rounds} rounds ended`);
    try {
      const list = await getJson<{ number: number; state: string }[]>(`${url}/rounds?limit=1000`, readToken);
      const ended = list.filter((r) => ['published', 'failed', 'cancelled'].includes(r.state));
      if (ended.length >= rounds) {
        const numbers = ended.map((r) => r.number).sort((a, b) => a - b).slice(0, rounds);
        return Promise.all(numbers.map((n) => getJson<RoundRecord>(`${url}/rounds/${n}`, readToken)));
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
