/**
 * Student accuracy for every aggregation rule when clients' data differ (issue 15), beside FedAvg,
 * centralised training and the clients' initial ensemble, on embedded:mnist-full.
 *
 * Not the full federation per cell: per (partition, seed) each client's MLP teacher is trained
 * once on its part of the 60,000 private digits, and its soft predictions on the 5,000 proxy
 * digits computed once; each client's coverage selector (the one fedkd clients run:
 * libs/distill's trainCoverageSelector) learns its own digits against the first round's proxy
 * inputs, as a client does at its first selective round. Each round asks about a fresh seeded
 * sample of the proxy (as `--proxy-resample`); each rule aggregates it through its production
 * accumulator (reputation carrying its reputations, selective taking the coverage weights); one
 * student (MLP, or --student cnn) per rule continues training on each round's kept targets, as the coordinator's
 * student does, and is tested on the 5,000 test digits after every round. Teachers stay as they
 * were trained (no digest or revisit between rounds). FedAvg (the same MLP, the same rounds, every
 * client every round) and centralised training run through libs/distill's baselines.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { buildModel, CNN_SPEC, initBackend, MLP_SPEC, SeededRng, type MlpSpec, type ModelSpec } from '@fedkd/engine';
import { createPartitioner, loadEmbeddedPart, parsePartitionerSpec, subset, type Dataset, type PartitionerSpec } from '@fedkd/data';
import {
  argmaxAccuracy,
  createAggregationRule,
  createLoss,
  evaluateAccuracy,
  parseAggregationRuleSpec,
  coverageFromOdds,
  runFedAvg,
  SELECTIVE_DEFAULTS,
  SelectiveRule,
  softPredictions,
  trainCentralised,
  trainCoverageSelector,
  trainStudent,
} from '@fedkd/distill';
import { exitOnError, integerArg, positiveArg } from '@fedkd/command-line';
import { runTableJobs, writeTableOutput } from './table-jobs';

const CLASSES = 10;
/** float16 soft predictions, and (selective) one float16 coverage weight per input: what a client uploads per round. */
const BYTES_PER_VALUE = 2;

interface TableOptions {
  partitions: string[];
  clients: number;
  seeds: number[];
  rules: string[];
  rounds: number;
  proxySize: number;
  teacherEpochs: number;
  teacherHidden: number[];
  student: 'mlp' | 'cnn';
  studentEpochs: number;
  selectorEpochs: number;
  temperature: number;
  fedavgLocalEpochs: number;
  centralisedEpochs: number;
  baselines: boolean;
  workers: number;
  json: boolean;
  report?: string;
  fromReports?: string[];
}

interface RuleCell {
  kind: 'rule';
  partition: string;
  seed: number;
  rule: string;
  /** Student test accuracy after each round. */
  curve: number[];
  /** Accuracy of the aggregated targets' argmax on the proxy's true labels, over every kept row of every round (measurement only). */
  targetAccuracy: number;
  /** Share of the asked inputs the rule kept (the others it dropped). */
  keptShare: number;
  /** Bytes each client uploaded over all rounds. */
  uploadPerClient: number;
}

interface ReferenceCell {
  kind: 'ensemble' | 'fedavg' | 'centralised';
  partition: string | null;
  seed: number;
  /** ensemble, centralised: one value; fedavg: after each round. */
  curve: number[];
  uploadPerClient: number;
}

type Cell = RuleCell | ReferenceCell;

type Job = { kind: 'partition'; partition: string; seed: number } | { kind: 'centralised'; seed: number };

const list = <T>(parse: (v: string) => T) => (text: string): T[] => text.split(',').map((v) => parse(v.trim()));

function partitionerOf(text: string): PartitionerSpec {
  return parsePartitionerSpec(text);
}

async function runPartitionJob(partition: string, seed: number, options: TableOptions, log: (line: string) => void): Promise<Cell[]> {
  const pool = loadEmbeddedPart('mnist-full', 'private', seed);
  const proxy = loadEmbeddedPart('mnist-full', 'proxy', seed);
  const test = loadEmbeddedPart('mnist-full', 'test', seed);
  const parts = createPartitioner(partitionerOf(partition)).partition(pool.labels, options.clients, seed).clients;
  const teacherSpec: MlpSpec = { ...MLP_SPEC, hidden: options.teacherHidden };
  const roundRows = Array.from({ length: options.rounds }, (_, r) =>
    new SeededRng(seed).fork(`public-rows-${r + 1}`).permutation(proxy.count).slice(0, Math.min(options.proxySize, proxy.count)),
  );
  const needsCoverage = options.rules.some((r) => createAggregationRule(r).needsCoverage);
  const started = Date.now();
  const predictions: Float32Array[] = [];
  const odds: Float64Array[] = [];
  const sampleCounts = parts.map((rows) => rows.length);
  const weightScale = Math.max(...sampleCounts);
  const ensembleSum = new Float32Array(test.count * CLASSES);
  const hard = createLoss({ name: 'response', temperature: 1, alpha: 1 });
  const firstRound = subset(proxy, roundRows[0]);
  for (let k = 0; k < options.clients; k++) {
    const data = subset(pool, parts[k]);
    const teacher = buildModel(teacherSpec, seed + 1000 + k);
    await trainStudent(teacher, { inputs: data, hardLabels: data.labels }, { loss: hard, epochs: options.teacherEpochs, seed: seed + k });
    predictions.push(softPredictions(teacher, proxy, options.temperature));
    softPredictions(teacher, test, 1).forEach((v, j) => (ensembleSum[j] += v));
    teacher.dispose();
    if (needsCoverage) {
      const selector = await trainCoverageSelector(data, firstRound, { seed: seed + 2000 + k, epochs: options.selectorEpochs });
      odds.push(selector.odds(proxy));
      selector.dispose();
    }
  }
  hard.dispose();
  log(`${partition}, seed ${seed}: ${options.clients} teachers${needsCoverage ? ' and selectors' : ''} trained in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const cells: Cell[] = [{ kind: 'ensemble', partition, seed, curve: [argmaxAccuracy(ensembleSum, test.labels, CLASSES)], uploadPerClient: 0 }];
  const rowsOf = (rows: number[], matrix: Float32Array, width: number) => {
    const out = new Float32Array(rows.length * width);
    rows.forEach((row, i) => out.set(matrix.subarray(row * width, (row + 1) * width), i * width));
    return out;
  };
  for (const ruleSpec of options.rules) {
    const rule = createAggregationRule(ruleSpec);
    let reputations = new Map<string, number>();
    const student = buildModel(studentSpec(options), seed + 1);
    const loss = createLoss({ name: 'response', temperature: options.temperature });
    const curve: number[] = [];
    let kept = 0;
    let right = 0;
    let asked = 0;
    try {
      for (const [r, rows] of roundRows.entries()) {
        const shape = { n: rows.length, classes: CLASSES };
        const weighted = rule.name === 'weighted';
        const accumulator = rule.accumulator(shape, { priorReputations: reputations, maxHeldAnswers: options.clients, weightScale: weighted ? weightScale : 1 });
        predictions.forEach((p, k) =>
          accumulator.add(clientId(k), rowsOf(rows, p, CLASSES), weighted ? sampleCounts[k] : undefined, rule instanceof SelectiveRule ? coverageFromOdds(rows.map((row) => odds[k][row]), rule.oddsScale) : undefined),
        );
        const targets = accumulator.result();
        if (accumulator.agreements) reputations = new Map([...reputations, ...accumulator.agreements().map((e) => [e.clientId, e.reputation] as const)]);
        // Dropped inputs are all-zero rows: the student skips them, as the coordinator's does.
        const keep = rows.map((_, i) => i).filter((i) => targets.subarray(i * CLASSES, (i + 1) * CLASSES).some((v) => v > 0));
        asked += rows.length;
        kept += keep.length;
        if (keep.length > 0) {
          const soft = rowsOf(keep, targets, CLASSES);
          const labels = Uint8Array.from(keep, (i) => proxy.labels[rows[i]]);
          right += argmaxAccuracy(soft, labels, CLASSES) * keep.length;
          await trainStudent(student, { inputs: subset(proxy, keep.map((i) => rows[i])), softLabels: soft }, { loss, epochs: options.studentEpochs, seed: seed + r, batchSize: 128 });
        }
        curve.push(evaluateAccuracy(student, test, test.labels));
      }
    } finally {
      loss.dispose();
      student.dispose();
    }
    const perRound = options.proxySize * CLASSES * BYTES_PER_VALUE + (rule.needsCoverage ? options.proxySize * BYTES_PER_VALUE : 0);
    cells.push({ kind: 'rule', partition, seed, rule: ruleSpec, curve, targetAccuracy: kept ? right / kept : 0, keptShare: kept / asked, uploadPerClient: perRound * options.rounds });
    log(`  ${partition}, seed ${seed}, ${ruleSpec}: ${curve.map((a) => (a * 100).toFixed(1)).join(' ')} (targets ${((kept ? right / kept : 0) * 100).toFixed(1)} % right, ${((kept / asked) * 100).toFixed(0)} % kept)`);
  }
  if (options.baselines) {
    const clients = parts.map((rows) => subset(pool, rows));
    const fedavg = await runFedAvg({ spec: studentSpec(options), clients, test, rounds: options.rounds, localEpochs: options.fedavgLocalEpochs, seed });
    cells.push({
      kind: 'fedavg',
      partition,
      seed,
      curve: fedavg.rounds.map((r) => r.testAccuracy),
      uploadPerClient: fedavg.totalBytesUploaded / options.clients,
    });
    log(`  ${partition}, seed ${seed}, FedAvg: ${fedavg.rounds.map((r) => (r.testAccuracy * 100).toFixed(1)).join(' ')}`);
  }
  return cells;
}

async function runCentralisedJob(seed: number, options: TableOptions, log: (line: string) => void): Promise<Cell[]> {
  const pool = loadEmbeddedPart('mnist-full', 'private', seed);
  const test = loadEmbeddedPart('mnist-full', 'test', seed);
  const result = await trainCentralised({ spec: studentSpec(options), train: pool, test, epochs: options.centralisedEpochs, seed });
  log(`centralised, seed ${seed}: ${(result.testAccuracy * 100).toFixed(2)} %`);
  return [{ kind: 'centralised', partition: null, seed, curve: [result.testAccuracy], uploadPerClient: 0 }];
}

/** The student's architecture, which FedAvg and centralised training share. */
const studentSpec = (options: TableOptions): ModelSpec => (options.student === 'cnn' ? CNN_SPEC : MLP_SPEC);

/** Zero-padded, so that the clientId order is the index order. */
const clientId = (k: number): string => `client-${String(k).padStart(5, '0')}`;

function jobsOf(options: TableOptions): Job[] {
  const jobs: Job[] = options.seeds.flatMap((seed) => options.partitions.map((partition) => ({ kind: 'partition' as const, partition, seed })));
  if (options.baselines) jobs.push(...options.seeds.map((seed) => ({ kind: 'centralised' as const, seed })));
  return jobs;
}

async function runJob(job: Job, options: TableOptions, log: (line: string) => void): Promise<Cell[]> {
  return job.kind === 'centralised' ? runCentralisedJob(job.seed, options, log) : runPartitionJob(job.partition, job.seed, options, log);
}

/** Runs the jobs in `workers` child processes of this script (each with --json and one job), or here. */
function runAll(options: TableOptions, log: (line: string) => void): Promise<Cell[]> {
  return runTableJobs<Job, Cell>(__filename, {
    table: 'non-iid-table',
    jobs: jobsOf(options),
    workers: options.workers,
    run: (job) => runJob(job, options, log),
    describe: (job) => (job.kind === 'centralised' ? `centralised, seed ${job.seed}` : `${job.partition}, seed ${job.seed}`),
    childArgs: (job) => [
      '--seeds', String(job.seed), '--workers', '1', '--json', '--job', job.kind === 'centralised' ? 'centralised' : job.partition,
      '--partitions', options.partitions.join(';'), '--clients', String(options.clients), '--rules', options.rules.join(';'),
      '--rounds', String(options.rounds), '--proxy-size', String(options.proxySize), '--teacher-epochs', String(options.teacherEpochs),
      '--teacher-hidden', options.teacherHidden.join(','), '--student', options.student, '--student-epochs', String(options.studentEpochs), '--selector-epochs', String(options.selectorEpochs),
      '--temperature', String(options.temperature), '--fedavg-local-epochs', String(options.fedavgLocalEpochs), '--centralised-epochs', String(options.centralisedEpochs),
      ...(options.baselines ? [] : ['--no-baselines']),
    ],
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const pct = (xs: number[]) => (xs.length ? `${(mean(xs) * 100).toFixed(2)} ± ${(sd(xs) * 100).toFixed(2)}` : '-');
const bytes = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(0)} kB`);

/** One table: rows are rules and references, columns the partitions (final accuracy, mean ± sd over seeds); then the curves. */
function formatTable(cells: Cell[], options: TableOptions): string {
  const lines: string[] = [];
  const seeds = [...new Set(cells.map((c) => c.seed))].sort((a, b) => a - b);
  const partitions = options.partitions.filter((p) => cells.some((c) => c.partition === p));
  const width = 16;
  const name = 22;
  lines.push(`student test accuracy % after ${options.rounds} rounds (mean ± sd over seeds ${seeds.join(', ')}), upload per client over the run`);
  lines.push(['rule'.padEnd(name), ...partitions.map((p) => p.padStart(width)), 'upload'.padStart(9)].join(' | '));
  const finals = (select: (c: Cell) => boolean, partition: string | null) =>
    cells.filter((c) => select(c) && (partition === null || c.partition === partition)).map((c) => c.curve[c.curve.length - 1]);
  const row = (label: string, select: (c: Cell) => boolean, shared = false) => {
    const matching = cells.filter(select);
    if (!matching.length) return;
    const upload = matching[0].uploadPerClient;
    lines.push([label.padEnd(name), ...partitions.map((p) => pct(finals(select, shared ? null : p)).padStart(width)), (upload ? bytes(upload) : '-').padStart(9)].join(' | '));
  };
  for (const rule of options.rules) row(rule, (c) => c.kind === 'rule' && c.rule === rule);
  row('FedAvg', (c) => c.kind === 'fedavg');
  row('initial ensemble', (c) => c.kind === 'ensemble');
  row('centralised', (c) => c.kind === 'centralised', true);
  lines.push('');
  lines.push('targets: accuracy % of the kept targets\' argmax on the proxy\'s true labels / share % of the asked inputs kept (means over seeds)');
  for (const rule of options.rules) {
    const ruleCells = (p: string) => cells.filter((c): c is RuleCell => c.kind === 'rule' && c.rule === rule && c.partition === p);
    lines.push([rule.padEnd(name), ...partitions.map((p) => {
      const cs = ruleCells(p);
      return cs.length ? `${(mean(cs.map((c) => c.targetAccuracy)) * 100).toFixed(1)} / ${(mean(cs.map((c) => c.keptShare)) * 100).toFixed(0)}`.padStart(width) : '-'.padStart(width);
    })].join(' | '));
  }
  lines.push('');
  for (const partition of partitions) {
    lines.push(`${partition}: accuracy % after each round (mean over seeds)`);
    const curveOf = (select: (c: Cell) => boolean) => {
      const cs = cells.filter((c) => select(c) && c.partition === partition);
      return cs.length ? cs[0].curve.map((_, r) => (mean(cs.map((c) => c.curve[r])) * 100).toFixed(1).padStart(5)).join(' ') : null;
    };
    for (const rule of options.rules) {
      const curve = curveOf((c) => c.kind === 'rule' && c.rule === rule);
      if (curve) lines.push(`  ${rule.padEnd(name)} ${curve}`);
    }
    const fedavg = curveOf((c) => c.kind === 'fedavg');
    if (fedavg) lines.push(`  ${'FedAvg'.padEnd(name)} ${fedavg}`);
  }
  return lines.join('\n');
}

function header(options: TableOptions, backend: string, wall: string): string {
  return (
    `non-iid table: embedded:mnist-full, ${options.clients} clients, MLP teachers ${[784, ...options.teacherHidden, 10].join('-')} (${options.teacherEpochs} epochs), ` +
    `${options.rounds} rounds of ${options.proxySize} proxy inputs resampled (T = ${options.temperature}), ${options.student.toUpperCase()} student (${options.studentEpochs} epochs a round; FedAvg and centralised train the same architecture), ` +
    `selectors ${options.selectorEpochs} epochs, FedAvg ${options.fedavgLocalEpochs} local epochs, centralised ${options.centralisedEpochs} epochs, ${backend}, ${wall}`
  );
}

async function main(options: TableOptions & { job?: string }): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (options.fromReports) {
    const reports = options.fromReports.map((file) => JSON.parse(readFileSync(file, 'utf8')) as { options: TableOptions; wallSeconds: number; cells: Cell[] });
    const cells = reports.flatMap((r) => r.cells);
    const merged = { ...reports[0].options, rules: [...new Set(reports.flatMap((r) => r.options.rules))], partitions: [...new Set(reports.flatMap((r) => r.options.partitions))] };
    process.stdout.write(`${header(merged, 'from saved reports', reports.map((r) => `${r.wallSeconds.toFixed(0)} s`).join(' + '))}\n\n${formatTable(cells, merged)}\n`);
    return;
  }
  const started = Date.now();
  const backend = await initBackend({ log: () => undefined });
  let cells: Cell[];
  if (options.job !== undefined) {
    const job: Job = options.job === 'centralised' ? { kind: 'centralised', seed: options.seeds[0] } : { kind: 'partition', partition: options.job, seed: options.seeds[0] };
    cells = await runJob(job, options, log);
  } else cells = await runAll(options, log);
  writeTableOutput({ backend: backend.name, options, startedMs: started, cells }, (wall) => `${header(options, `backend ${backend.name}`, wall)}\n\n${formatTable(cells, options)}\n`);
}

const ruleList = (text: string): string[] => text.split(/[;]|,(?![0-9])/).map((v) => v.trim()).filter(Boolean).map((v) => (parseAggregationRuleSpec(v), v));
const partitionList = (text: string): string[] => text.split(/[;]|,(?![0-9])/).map((v) => v.trim()).filter(Boolean).map((v) => (partitionerOf(v), v));

new Command('non-iid-table')
  .description('Student accuracy for every aggregation rule at several label skews (dirichlet 0.1, 0.5, iid, shards:2), beside FedAvg, centralised training and the initial ensemble, on embedded:mnist-full.')
  .option('--partitions <list>', 'partitions, as fedkd simulate names them (dirichlet:A, iid, shards:N), separated by ; or ,', partitionList, ['dirichlet:0.1', 'shards:2', 'dirichlet:0.5', 'iid'])
  .option('--clients <k>', 'clients in the federation', integerArg('--clients', 2, 1000), 20)
  .option('--seeds <list>', 'seeds (split, partition, teachers, selectors, rounds, students, baselines)', list(integerArg('--seeds')), [0, 1, 2])
  .option('--rules <list>', 'aggregation rules, as --agg takes them, separated by ; or ,', ruleList, ['mean', 'weighted', 'entropy-weighted', 'median', 'trimmed-mean:0.2', 'reputation', 'selective:1', 'selective:0.9', 'selective:0.8'])
  .option('--rounds <r>', 'rounds (a fresh proxy sample each)', integerArg('--rounds', 1, 100), 10)
  .option('--proxy-size <n>', 'proxy inputs per round', integerArg('--proxy-size', 10, 5000), 1000)
  .option('--teacher-epochs <n>', 'epochs of each MLP teacher', integerArg('--teacher-epochs', 1), 5)
  .option('--teacher-hidden <list>', 'hidden layers of the MLP teachers', list(integerArg('--teacher-hidden', 1)), [128])
  .addOption(new Option('--student <arch>', 'the architecture of the student, of FedAvg\'s model and of the centralised reference').choices(['mlp', 'cnn']).default('mlp'))
  .option('--student-epochs <n>', 'epochs of the student on each round\'s targets', integerArg('--student-epochs', 1), 10)
  .option('--selector-epochs <n>', 'epochs of each client\'s coverage selector (the selective rule\'s default)', integerArg('--selector-epochs', 1, 100), SELECTIVE_DEFAULTS.selectorEpochs)
  .option('--temperature <T>', 'soft prediction temperature (the coordinator\'s default)', positiveArg('--temperature'), 3)
  .option('--fedavg-local-epochs <n>', 'FedAvg local epochs per round (fedkd simulate\'s default)', integerArg('--fedavg-local-epochs', 1), 2)
  .option('--centralised-epochs <n>', 'epochs of the centralised reference', integerArg('--centralised-epochs', 1), 20)
  .option('--no-baselines', 'skip FedAvg and centralised training')
  .option('--workers <n>', 'child processes, one job (partition and seed, or a centralised seed) each at a time', integerArg('--workers', 1, 64), 2)
  .option('--json', 'print one JSON object', false)
  .option('--report <file>', 'also write the JSON object to this file')
  .option('--from-reports <files>', 'print the table of saved --report files (comma-separated) instead of computing one', list((v) => v))
  .addOption(new Option('--job <job>', 'internal: run one job (a partition, or centralised)').hideHelp())
  .action((opts: TableOptions & { job?: string }) => exitOnError('non-iid-table', () => main(opts)))
  .parse();
