import { Command } from 'commander';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createEnrolmentToken, initKeys } from '@fedkd/privacy';
import { initBackend, ZOO_MODEL_NAMES, zooModelSpec, type ZooModelName } from '@fedkd/engine';
import { createPartitioner, formatPartitionerSpec, loadEmbeddedPart, MNIST_TASK, PROXY_GENERATORS, subset, type EmbeddedDatasetName, type PartitionerSpec, type ProxyGeneratorName } from '@fedkd/data';
import { argmaxAccuracy, createAggregationRule, GENERATOR_STEP_DEFAULTS, parseAggregationRuleSpec, runFedAvg, softPredictions, trainCentralised } from '@fedkd/distill';
import { loadPrivatePartition, trainLocalTeacher, type ClientEvent } from '@fedkd/client';
import { predictionPayloadBytes, type PredictionEncoding } from '@fedkd/protocol';
import { checkedArg, choiceArg, embeddedDatasetArg, envOption, exitOnError, integerArg, nonNegativeArg, positiveArg } from '@fedkd/command-line';
import { freePort, shortenNestLine, startProcess, stopAll, type FleetProcess } from './process-fleet';
import { formatReportTable, type RoundPrivacy, type SimulationReport } from './simulation-report';
import type { GeneratorStepReport } from '@fedkd/distill';

/** The default proxy size: the embedded data set's whole public split (mnist 2,000, mnist-full 5,000), or 2,000 synthetic inputs. */
function defaultProxySize(flags: SimulateFlags): number {
  return flags.proxy === 'public' && flags.dataset === 'mnist-full' ? 5000 : 2000;
}

interface SimulateFlags {
  dataset: EmbeddedDatasetName;
  clients: number;
  rounds: number;
  partition: 'iid' | 'dirichlet' | 'shards';
  alpha: number;
  shards: number;
  agg: string;
  loss: string;
  seed: number;
  teacher: ZooModelName;
  student: ZooModelName;
  teacherEpochs: number;
  localEpochs: number;
  digestEpochs: number;
  studentEpochs: number;
  temperature: number;
  encoding: string;
  roundDeadlineMs: number;
  report: string;
  baselines: boolean;
  secureAgg: boolean;
  dp?: string;
  proxy: 'public' | 'synthetic';
  generator: ProxyGeneratorName;
  queryBudget?: number;
  generatorLr: number;
  replayRounds: number;
  generatorDisagreement: number;
  proxySize?: number;
  dpSigma: number;
  teachersPerClient: number;
  epsilonMax: number;
  fedavgLocalEpochs: number;
  centralisedEpochs: number;
}

export function simulateCommand(cliMain: string): Command {
  const command = new Command('simulate').description(
    'Start a coordinator and K client processes on loopback, run R rounds over real sockets, then report fedkd beside local-only, centralised and FedAvg.',
  );
  const opt = (flags: string, description: string, env: string, parse?: (v: string) => unknown, fallback?: unknown) =>
    envOption(command, flags, description, env, parse, fallback);
  opt('--dataset <name>', 'embedded data set: embedded:mnist (10,000 digits: 6,000 private, 2,000 proxy, 2,000 test) | embedded:mnist-full (60,000 private; 5,000 proxy, 5,000 test)', 'FEDKD_SIM_DATASET', embeddedDatasetArg('--dataset'), 'mnist');
  opt('--clients <k>', 'client processes', 'FEDKD_SIM_CLIENTS', integerArg('--clients', 1, 100), 5);
  opt('--rounds <r>', 'rounds', 'FEDKD_SIM_ROUNDS', integerArg('--rounds', 1), 5);
  opt('--partition <name>', 'iid | dirichlet | shards', 'FEDKD_SIM_PARTITION', choiceArg('--partition', ['iid', 'dirichlet', 'shards'] as const), 'dirichlet');
  opt('--alpha <a>', 'dirichlet concentration', 'FEDKD_SIM_ALPHA', positiveArg('--alpha'), 0.5);
  opt('--shards <n>', 'shards per client', 'FEDKD_SIM_SHARDS', integerArg('--shards', 1), 2);
  opt('--agg <rule>', 'mean | weighted | entropy-weighted | median | trimmed-mean[:beta]', 'FEDKD_SIM_AGG', checkedArg('--agg', parseAggregationRuleSpec), 'entropy-weighted');
  opt('--loss <name>', 'student loss: response | relation', 'FEDKD_SIM_LOSS', choiceArg('--loss', ['response', 'relation'] as const), 'response');
  opt('--seed <n>', 'seed of everything', 'FEDKD_SIM_SEED', integerArg('--seed'), 0);
  opt('--teacher <arch>', 'client teacher architecture: mlp | cnn', 'FEDKD_SIM_TEACHER', choiceArg('--teacher', ZOO_MODEL_NAMES), 'cnn');
  opt('--student <arch>', 'student architecture: mlp | cnn', 'FEDKD_SIM_STUDENT', choiceArg('--student', ZOO_MODEL_NAMES), 'mlp');
  opt('--teacher-epochs <n>', 'initial teacher epochs', 'FEDKD_SIM_TEACHER_EPOCHS', integerArg('--teacher-epochs', 1), 15);
  opt('--local-epochs <n>', 'client epochs on private data each round', 'FEDKD_SIM_LOCAL_EPOCHS', integerArg('--local-epochs'), 2);
  opt('--digest-epochs <n>', 'client epochs on the last student each round (FedMD digest)', 'FEDKD_SIM_DIGEST_EPOCHS', integerArg('--digest-epochs'), 1);
  opt('--student-epochs <n>', 'student epochs per round', 'FEDKD_SIM_STUDENT_EPOCHS', integerArg('--student-epochs', 1), 40);
  opt('--temperature <T>', 'soft prediction temperature', 'FEDKD_SIM_TEMPERATURE', positiveArg('--temperature'), 3);
  opt('--encoding <e>', 'float32 | float16 | uint8', 'FEDKD_SIM_ENCODING', choiceArg('--encoding', ['float32', 'float16', 'uint8'] as const), 'float16');
  opt('--round-deadline-ms <ms>', 'round deadline', 'FEDKD_SIM_ROUND_DEADLINE_MS', integerArg('--round-deadline-ms', 100), 300_000);
  opt('--report <file>', 'where the JSON report is written', 'FEDKD_SIM_REPORT', undefined, 'reports/simulate.json');
  opt('--fedavg-local-epochs <n>', 'FedAvg local epochs per round', 'FEDKD_SIM_FEDAVG_LOCAL_EPOCHS', integerArg('--fedavg-local-epochs', 1), 2);
  opt('--centralised-epochs <n>', 'epochs of the centralised reference', 'FEDKD_SIM_CENTRALISED_EPOCHS', integerArg('--centralised-epochs', 1), 20);
  command.option('--no-baselines', 'skip the centralised and FedAvg references');
  opt('--proxy <kind>', 'public | synthetic (data-free: clients regenerate the inputs from a seed)', 'FEDKD_SIM_PROXY', choiceArg('--proxy', ['public', 'synthetic'] as const), 'public');
  opt('--generator <name>', 'synthetic proxy generator: strokes | noise | learned (trained by the coordinator from the answers)', 'FEDKD_SIM_GENERATOR', choiceArg('--generator', PROXY_GENERATORS), 'strokes');
  opt('--generator-lr <lr>', 'learned generator: Adam step per round (see fedkd coordinator --help)', 'FEDKD_SIM_GENERATOR_LR', positiveArg('--generator-lr'), GENERATOR_STEP_DEFAULTS.learningRate);
  opt('--generator-disagreement <w>', 'learned generator: weight of student-ensemble disagreement in its reward', 'FEDKD_SIM_GENERATOR_DISAGREEMENT', nonNegativeArg('--generator-disagreement'), GENERATOR_STEP_DEFAULTS.disagreementWeight);
  opt('--replay-rounds <k>', 'the student also rehearses the last k rounds (see fedkd coordinator --help)', 'FEDKD_SIM_REPLAY_ROUNDS', integerArg('--replay-rounds', 0, 100), 0);
  opt('--query-budget <n>', 'each client answers at most this many proxy inputs over the run (default: no limit)', 'FEDKD_SIM_QUERY_BUDGET', integerArg('--query-budget', 1));
  opt('--proxy-size <n>', 'proxy inputs per round (default: the whole public split, or 2000 synthetic)', 'FEDKD_SIM_PROXY_SIZE', integerArg('--proxy-size', 1, 100_000));
  opt('--dp <mechanism>', 'differentially private rounds: gnmax | confident-gnmax | gaussian', 'FEDKD_SIM_DP', choiceArg('--dp', ['gnmax', 'confident-gnmax', 'gaussian'] as const));
  opt('--dp-sigma <s>', 'noise of the private mechanism (see fedkd coordinator --help)', 'FEDKD_SIM_DP_SIGMA', positiveArg('--dp-sigma'), 40);
  opt('--teachers-per-client <m>', 'private rounds: teachers per client on disjoint shards', 'FEDKD_SIM_TEACHERS_PER_CLIENT', integerArg('--teachers-per-client', 1), 20);
  opt('--epsilon-max <e>', 'each client\'s privacy budget', 'FEDKD_SIM_EPSILON_MAX', positiveArg('--epsilon-max'), 8);
  command.option('--secure-agg', 'secure aggregation: the coordinator learns only the sum (needs --agg mean or weighted)', false);
  return command.action((flags: SimulateFlags) => exitOnError('fedkd simulate', () => simulate(flags, cliMain)));
}

function partitionSpec(flags: SimulateFlags): PartitionerSpec {
  if (flags.partition === 'dirichlet') return { name: 'dirichlet', alpha: flags.alpha };
  if (flags.partition === 'shards') return { name: 'shards', shardsPerClient: flags.shards };
  return { name: 'iid' };
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

interface RoundRecord {
  number: number;
  state: string;
  reason: string | null;
  openedAt: number;
  closedAt: number | null;
  metrics: { testAccuracy?: number; invited?: number; answered?: number; privacy?: RoundPrivacy; queries?: number; proxyBytesPerClient?: number; generator?: GeneratorStepReport } | null;
  participants: { clientId: string; status: string; bytesUploaded: number }[];
}

async function simulate(flags: SimulateFlags, cliMain: string): Promise<void> {
  const started = Date.now();
  const say = (line: string) => process.stderr.write(`${line}\n`);
  if (flags.secureAgg && createAggregationRule(flags.agg).needsIndividualPredictions) {
    throw new Error(`--secure-agg reveals only the sum of the predictions, but --agg ${flags.agg} needs each client's: use --agg mean or weighted`);
  }
  const backend = await initBackend();
  const partition = formatPartitionerSpec(partitionSpec(flags));
  const work = mkdtempSync(join(tmpdir(), 'fedkd-simulate-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const fleet: FleetProcess[] = [];
  const clientEvents = new Map<string, ClientEvent[]>();
  // Identities as an operator would set them up: coordinator key, one enrolment token per client.
  const keys = join(work, 'keys');
  const coordinatorKey = initKeys(keys, 'coordinator');
  if (!coordinatorKey.ok) throw new Error(coordinatorKey.message);
  const tokens = await enrolClients(join(work, 'fedkd.sqlite'), flags.clients);
  say(`simulate: embedded:${flags.dataset}, ${flags.clients} clients (${flags.teacher} teachers, ${partition}), ${flags.rounds} rounds, ${flags.agg}, student ${flags.student}; coordinator ${url}`);

  try {
    const coordinator = startProcess(
      'coordinator',
      cliMain,
      [
        'coordinator', '--host', '127.0.0.1', '--port', String(port), '--db', join(work, 'fedkd.sqlite'),
        '--seed', String(flags.seed), '--rounds', String(flags.rounds), '--min-clients', String(flags.clients), '--dataset', flags.dataset,
        '--agg', flags.agg, '--loss', flags.loss, '--student-model', flags.student, '--student-epochs', String(flags.studentEpochs),
        '--temperature', String(flags.temperature), '--encoding', flags.encoding, '--round-deadline-ms', String(flags.roundDeadlineMs),
        '--local-epochs', String(flags.localEpochs), '--digest-epochs', String(flags.digestEpochs),
        '--key', coordinatorKey.value.secretKeyPath,
        ...(flags.secureAgg ? ['--secure-agg'] : []),
        ...(flags.dp ? ['--dp', flags.dp, '--dp-sigma', String(flags.dpSigma)] : []),
        '--proxy', flags.proxy, '--generator', flags.generator, '--proxy-size', String(flags.proxySize ?? defaultProxySize(flags)),
        '--replay-rounds', String(flags.replayRounds), '--generator-lr', String(flags.generatorLr), '--generator-disagreement', String(flags.generatorDisagreement),
      ],
      (line) => say(`  ${shortenNestLine(line)}`),
      (line) => say(`  ${shortenNestLine(line)}`),
    );
    fleet.push(coordinator);
    for (let i = 0; i < flags.clients; i++) {
      const name = `client-${i}`;
      clientEvents.set(name, []);
      fleet.push(
        startProcess(
          name,
          cliMain,
          [
            'client', '--coordinator', url, '--name', name, '--dataset', flags.dataset, '--index', String(i), '--clients', String(flags.clients),
            '--partition', partition, '--seed', String(flags.seed), '--model', flags.teacher, '--epochs', String(flags.teacherEpochs),
            '--key', join(keys, `${name}.key`), '--create-key', '--coordinator-key', coordinatorKey.value.publicKeyPath,
            '--enrolment-token', tokens[i],
            '--ledger', join(work, 'ledgers', `${name}.json`), '--teachers-per-client', String(flags.teachersPerClient),
            '--epsilon-max', String(flags.epsilonMax),
            ...(flags.queryBudget ? ['--query-budget', String(flags.queryBudget)] : []),
            ...(flags.agg.startsWith('weighted') ? ['--share-sample-count'] : []),
          ],
          (line) => {
            const event = parseEvent(line);
            if (!event) return;
            clientEvents.get(name)!.push(event);
            if (event.event === 'ready') say(`  ${name}: teacher ready, ${event.samples} samples, local-only accuracy ${event.localOnlyAccuracy?.toFixed(4) ?? '-'}`);
            if (event.event === 'round' && !event.ok) say(`  ${name}: round ${event.round} refused: ${event.code} ${event.message}`);
            if (event.event === 'declined') say(`  ${name}: declined round ${event.round}: ${event.reason}`);
          },
          (line) => {
            if (!line.startsWith('fedkd: TensorFlow.js backend')) say(`  ${line.startsWith(`${name}: `) ? line : `${name}: ${line}`}`);
          },
        ),
      );
    }

    const rounds = await waitForRounds(url, flags.rounds, fleet);
    const clients = await getJson<{ id: string; name: string }[]>(`${url}/clients`);
    const nameOf = new Map(clients.map((c) => [c.id, c.name]));
    await stopAll(fleet);

    const report: SimulationReport = {
      config: { ...flags, partition },
      backend: backend.name,
      rounds: rounds.map((r) => ({
        round: r.number,
        state: r.state,
        reason: r.reason,
        studentAccuracy: r.metrics?.testAccuracy ?? null,
        invited: r.participants.length,
        answered: r.participants.filter((p) => p.status === 'answered').length,
        bytesUploadedPerClient: Object.fromEntries(r.participants.map((p) => [nameOf.get(p.clientId) ?? p.clientId, p.bytesUploaded])),
        wallSeconds: ((r.closedAt ?? Date.now()) - r.openedAt) / 1000,
        privacy: r.metrics?.privacy ?? null,
        queries: r.metrics?.queries ?? 0,
        proxyBytesPerClient: r.metrics?.proxyBytesPerClient ?? 0,
        generator: r.metrics?.generator ?? null,
      })),
      clients: [...clientEvents.entries()].map(([name, events]) => {
        const ready = events.find((e) => e.event === 'ready') as Extract<ClientEvent, { event: 'ready' }> | undefined;
        return { name, samples: ready?.samples ?? 0, localOnlyAccuracy: ready?.localOnlyAccuracy ?? NaN };
      }),
      centralised: null,
      fedavg: null,
      teacherEnsemble: null,
      secureAggregation: flags.secureAgg ? secureAggregationOverhead(rounds.map((r) => r.number), clientEvents, flags) : null,
      finalStudentAccuracy: rounds.filter((r) => r.state === 'published').at(-1)?.metrics?.testAccuracy ?? null,
      wallSeconds: 0,
    };

    if (flags.baselines) {
      say(`baselines: the clients' initial teachers, rebuilt here from the same seeds, as one ${flags.agg} ensemble`);
      report.teacherEnsemble = await initialTeacherEnsemble(flags);
      say(`  teacher ensemble test accuracy ${report.teacherEnsemble.testAccuracy.toFixed(4)}`);
      const pool = loadEmbeddedPart(flags.dataset, 'private', flags.seed);
      const test = loadEmbeddedPart(flags.dataset, 'test', flags.seed);
      const spec = zooModelSpec(flags.student, MNIST_TASK.input.shape, MNIST_TASK.classes.length);
      say(`baselines: centralised ${flags.student} on the whole private pool (${flags.centralisedEpochs} epochs)`);
      const centralised = await trainCentralised({ spec, train: pool, test, epochs: flags.centralisedEpochs, seed: flags.seed });
      report.centralised = { testAccuracy: centralised.testAccuracy, epochs: centralised.epochs, seconds: centralised.seconds };
      say(`  centralised test accuracy ${centralised.testAccuracy.toFixed(4)}`);
      say(`baselines: FedAvg, ${flags.clients} clients, ${flags.rounds} rounds, ${flags.fedavgLocalEpochs} local epochs`);
      const parts = createPartitioner(partitionSpec(flags)).partition(pool.labels, flags.clients, flags.seed).clients;
      const fedavg = await runFedAvg({
        spec,
        clients: parts.map((indices) => subset(pool, indices)),
        test,
        rounds: flags.rounds,
        localEpochs: flags.fedavgLocalEpochs,
        seed: flags.seed,
        onRound: (r) => say(`  FedAvg round ${r.round}: test accuracy ${r.testAccuracy.toFixed(4)}`),
      });
      report.fedavg = {
        localEpochs: flags.fedavgLocalEpochs,
        rounds: fedavg.rounds.map((r) => ({ round: r.round, testAccuracy: r.testAccuracy, bytesUploadedPerClient: r.bytesUploadedPerClient, seconds: r.seconds })),
      };
    }
    report.wallSeconds = (Date.now() - started) / 1000;
    const reportPath = resolve(flags.report);
    mkdirSync(dirname(reportPath), { recursive: true });
    writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`${formatReportTable(report)}\nreport written to ${reportPath}\n`);
  } finally {
    await stopAll(fleet);
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The ceiling of the student: the clients' teachers as they were before round 1 (each client's
 * training is deterministic in its seed, so they are rebuilt exactly), aggregated by the same rule
 * on the test split. Rounds then refresh the teachers, so this is a reference, not a bound.
 */
async function initialTeacherEnsemble(flags: SimulateFlags): Promise<NonNullable<SimulationReport['teacherEnsemble']>> {
  const test = loadEmbeddedPart(flags.dataset, 'test', flags.seed);
  const predictions: Float32Array[] = [];
  const sampleCounts: number[] = [];
  for (let i = 0; i < flags.clients; i++) {
    const model = zooModelSpec(flags.teacher, MNIST_TASK.input.shape, MNIST_TASK.classes.length);
    const config = { dataset: flags.dataset, clientIndex: i, clients: flags.clients, partition: partitionSpec(flags), seed: flags.seed, model, epochs: flags.teacherEpochs };
    const data = loadPrivatePartition(config);
    const teacher = await trainLocalTeacher(config, data);
    predictions.push(softPredictions(teacher, test, flags.temperature));
    sampleCounts.push(data.count);
    teacher.dispose();
  }
  const rule = createAggregationRule(flags.agg);
  const ensemble = rule.aggregate(predictions, { n: test.count, classes: 10 }, rule.name === 'weighted' ? sampleCounts : undefined);
  return { testAccuracy: argmaxAccuracy(ensemble, test.labels, 10), teachers: flags.clients };
}

/** One-time enrolment tokens for client-0..k-1, stored (hashed) in the coordinator's database. */
async function enrolClients(databasePath: string, clients: number): Promise<string[]> {
  // SQLite loads only when a simulation runs (not for `fedkd client`, which shares this program).
  const { openDatabase } = await import('../../../coordinator/src/persistence/coordinator-database');
  const db = openDatabase(databasePath);
  try {
    return Array.from({ length: clients }, (_, i) => {
      const { token, record } = createEnrolmentToken(`client-${i}`, 24 * 3_600_000, Date.now());
      db.identities.addToken(record);
      return token;
    });
  } finally {
    db.close();
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

/** Polls the REST API until `rounds` rounds have ended; fails fast if any process of the fleet dies. */
async function waitForRounds(url: string, rounds: number, fleet: readonly FleetProcess[]): Promise<RoundRecord[]> {
  let died: FleetProcess | undefined;
  for (const p of fleet) void p.exited.then(() => (died ??= p));
  for (;;) {
    if (died) throw new Error(`${died.name} exited (code ${died.child.exitCode ?? died.child.signalCode}) before ${rounds} rounds ended`);
    try {
      const list = await getJson<{ number: number; state: string }[]>(`${url}/rounds?limit=1000`);
      const ended = list.filter((r) => ['published', 'failed', 'cancelled'].includes(r.state));
      if (ended.length >= rounds) {
        const numbers = ended.map((r) => r.number).sort((a, b) => a - b).slice(0, rounds);
        return Promise.all(numbers.map((n) => getJson<RoundRecord>(`${url}/rounds/${n}`)));
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
