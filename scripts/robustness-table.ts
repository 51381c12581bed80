/**
 * Student accuracy for every aggregation rule against every attack at several shares of attackers
 * (issue 12). Not the full federation per cell: per (clients, seed) the honest MLP teachers are
 * trained once on their dirichlet partitions of the full-MNIST private pool (60,000 digits), and
 * their soft predictions on the proxy split computed once. Each round asks a fresh seeded sample
 * of the proxy; attackers' answers are the attack functions fedkd simulate uses (libs/distill's
 * attacks.ts) applied to their own teachers' predictions; each rule aggregates the rounds through
 * its production accumulator (the reputation rule carrying its reputations from round to round as
 * the coordinator does; selective with each client's coverage from its selector, an attacker claiming
 * full coverage everywhere); one small MLP student per cell then learns every round's targets and is
 * tested on the 5,000 test digits. Under secure aggregation the coordinator can run only the mean
 * of the sum: the 'secure mean' row is that (the same targets as mean).
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { buildModel, initBackend, MLP_SPEC, SeededRng } from '@fedkd/engine';
import { createPartitioner, loadEmbeddedPart, subset, type Dataset } from '@fedkd/data';
import {
  applyAttack,
  argmaxAccuracy,
  ATTACK_NAMES,
  chooseAttackers,
  createAggregationRule,
  createLoss,
  evaluateAccuracy,
  parseAggregationRuleSpec,
  parseAttackName,
  coverageFromOdds,
  SelectiveRule,
  softPredictions,
  trainCoverageSelector,
  trainStudent,
  type AttackName,
} from '@fedkd/distill';
import { exitOnError, integerArg, positiveArg } from '@fedkd/command-line';
import { runTableJobs, writeTableOutput } from './table-jobs';

const CLASSES = 10;
/** Not a rule: the mean of the honest clients' answers only, the reference no rule can beat. */
const HONEST_ONLY = 'honest-only';

interface TableOptions {
  clients: number[];
  seeds: number[];
  fractions: number[];
  attacks: AttackName[];
  rules: string[];
  rounds: number;
  proxySize: number;
  alpha: number;
  teacherEpochs: number;
  studentEpochs: number;
  temperature: number;
  workers: number;
  json: boolean;
  report?: string;
  verbose: boolean;
  fromReports?: string[];
}

interface Cell {
  clients: number;
  seed: number;
  rule: string;
  attack: AttackName | 'none';
  fraction: number;
  attackers: number;
  /** Accuracy of the last round's aggregated targets' argmax on the proxy's true labels (measurement only). */
  targetAccuracy: number;
  studentAccuracy: number;
  /** reputation: clients flagged in the last round, attackers and honest ones. */
  flaggedAttackers: number | null;
  flaggedHonest: number | null;
}

interface Job {
  clients: number;
  seed: number;
}

const list = <T>(parse: (v: string) => T) => (text: string): T[] => text.split(',').map((v) => parse(v.trim()));
const fractionArg = (v: string): number => {
  const f = Number(v);
  if (!(f >= 0 && f < 0.5)) throw new Error(`--fractions: each must be in [0, 0.5), got '${v}'`);
  return f;
};

async function runJob(job: Job, options: TableOptions, log: (line: string) => void): Promise<Cell[]> {
  const { clients, seed } = job;
  const pool = loadEmbeddedPart('mnist-full', 'private', seed);
  const proxy = loadEmbeddedPart('mnist-full', 'proxy', seed);
  const test = loadEmbeddedPart('mnist-full', 'test', seed);
  const parts = createPartitioner({ name: 'dirichlet', alpha: options.alpha }).partition(pool.labels, clients, seed).clients;
  const started = Date.now();
  // Each round's question: a fresh seeded sample of the proxy split.
  const roundRows = Array.from({ length: options.rounds }, (_, r) =>
    new SeededRng(seed).fork(`public-rows-${r + 1}`).permutation(proxy.count).slice(0, Math.min(options.proxySize, proxy.count)),
  );
  // Honest predictions of every client's teacher on the whole proxy split, computed once; for
  // rules that weigh by coverage, each client's coverage of it (its selector learns its own digits
  // against the first round's inputs, as a client does).
  const needsCoverage = options.rules.some((r) => r !== HONEST_ONLY && createAggregationRule(r).needsCoverage);
  const honest: Float32Array[] = [];
  const odds: Float64Array[] = [];
  const hard = createLoss({ name: 'response', temperature: 1, alpha: 1 });
  for (let k = 0; k < clients; k++) {
    const data = subset(pool, parts[k]);
    const teacher = buildModel(MLP_SPEC, seed + 1000 + k);
    await trainStudent(teacher, { inputs: data, hardLabels: data.labels }, { loss: hard, epochs: options.teacherEpochs, seed });
    honest.push(softPredictions(teacher, proxy, options.temperature));
    teacher.dispose();
    if (needsCoverage) {
      const selector = await trainCoverageSelector(data, subset(proxy, roundRows[0]), { seed: seed + 2000 + k });
      odds.push(selector.odds(proxy));
      selector.dispose();
    }
  }
  hard.dispose();
  log(`clients ${clients}, seed ${seed}: ${clients} teachers${needsCoverage ? ' and selectors' : ''} trained in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const answersOf = (rows: number[], matrix: Float32Array) => {
    const out = new Float32Array(rows.length * CLASSES);
    rows.forEach((row, i) => out.set(matrix.subarray(row * CLASSES, (row + 1) * CLASSES), i * CLASSES));
    return out;
  };
  const scenarios: { attack: AttackName | 'none'; fraction: number }[] = [
    { attack: 'none', fraction: 0 },
    ...options.attacks.flatMap((attack) => options.fractions.filter((f) => f > 0).map((fraction) => ({ attack, fraction }))),
  ];
  const cells: Cell[] = [];
  // Fractions that round to the same attackers (10 % and 20 % of 5 clients are both one) share their cells.
  const computed = new Map<string, Cell[]>();
  for (const scenario of scenarios) {
    const attackers = scenario.attack === 'none' ? [] : chooseAttackers(clients, scenario.fraction, seed);
    if (scenario.attack !== 'none' && attackers.length === 0) continue;
    const key = `${scenario.attack}:${attackers.join(',')}`;
    const same = computed.get(key);
    if (same) {
      cells.push(...same.map((c) => ({ ...c, fraction: scenario.fraction })));
      continue;
    }
    const first = cells.length;
    const attacking = new Set(attackers);
    // Every client's answers per round, attackers' transformed (sybil identities: the first attacker's teacher).
    const rounds = roundRows.map((rows, r) => {
      const shape = { n: rows.length, classes: CLASSES };
      return Array.from({ length: clients }, (_, k) => {
        if (!attacking.has(k)) return answersOf(rows, honest[k]);
        const own = answersOf(rows, honest[scenario.attack === 'sybil' ? attackers[0] : k]);
        return applyAttack(scenario.attack as AttackName, own, shape, { seed, round: r + 1 });
      });
    });
    const secureMeanTargets = new Map<string, Cell>();
    for (const ruleSpec of options.rules) {
      // The reference no rule can beat: the mean of the honest answers alone (the attackers simply absent).
      const honestOnly = ruleSpec === HONEST_ONLY;
      const rule = createAggregationRule(honestOnly ? 'mean' : ruleSpec);
      let reputations = new Map<string, number>();
      const targets: Float32Array[] = [];
      let flagged: Set<number> | null = null;
      for (const [r, answers] of rounds.entries()) {
        const shape = { n: roundRows[r].length, classes: CLASSES };
        const accumulator = rule.accumulator(shape, { priorReputations: reputations, maxHeldAnswers: clients });
        // Order-free: arrival order does not matter, so add them as they come.
        // An attacker claims to cover every input (the worst case for a coverage-weighted rule).
        const coverageOf = (k: number, oddsScale: number) =>
          attacking.has(k) ? new Float32Array(shape.n).fill(1) : coverageFromOdds(roundRows[r].map((row) => odds[k][row]), oddsScale);
        answers.forEach((p, k) => {
          if (!(honestOnly && attacking.has(k))) accumulator.add(clientId(k), p, undefined, rule instanceof SelectiveRule ? coverageOf(k, rule.oddsScale) : undefined);
        });
        targets.push(accumulator.result());
        if (accumulator.agreements) {
          const evidence = accumulator.agreements();
          reputations = new Map([...reputations, ...evidence.map((e) => [e.clientId, e.reputation] as const)]);
          flagged = new Set(evidence.filter((e) => e.flagged).map((e) => Number(e.clientId.slice(7))));
          if (options.verbose) log(`    ${scenario.attack} ${scenario.fraction} round ${r + 1}: ${evidence.map((e) => `${e.clientId.slice(7)}${attacking.has(Number(e.clientId.slice(7))) ? "*" : ""} a=${e.agreement.toFixed(3)} r=${e.reputation.toFixed(3)}${e.flagged ? " F" : ""}`).join(", ")}`);
        }
      }
      const last = roundRows.length - 1;
      const cell: Cell = {
        clients,
        seed,
        rule: ruleSpec,
        attack: scenario.attack,
        fraction: scenario.fraction,
        attackers: attackers.length,
        targetAccuracy: argmaxAccuracy(targets[last], Uint8Array.from(roundRows[last], (i) => proxy.labels[i]), CLASSES),
        studentAccuracy: await studentAccuracy(proxy, roundRows, targets, test, options, seed),
        flaggedAttackers: flagged ? [...flagged].filter((k) => attacking.has(k)).length : null,
        flaggedHonest: flagged ? [...flagged].filter((k) => !attacking.has(k)).length : null,
      };
      cells.push(cell);
      if (ruleSpec === 'mean') secureMeanTargets.set('secure mean', { ...cell, rule: 'secure mean' });
    }
    cells.push(...secureMeanTargets.values());
    computed.set(key, cells.slice(first));
    log(
      `  ${clients} clients, seed ${seed}, ${scenario.attack} ${(scenario.fraction * 100).toFixed(0)} %: ` +
        cells
          .filter((c) => c.attack === scenario.attack && c.fraction === scenario.fraction && c.rule !== 'secure mean')
          .map((c) => `${c.rule} ${(c.studentAccuracy * 100).toFixed(1)}${c.flaggedAttackers !== null ? ` (flagged ${c.flaggedAttackers}/${c.attackers} attackers, ${c.flaggedHonest} honest)` : ''}`)
          .join(', '),
    );
  }
  return cells;
}

/** Zero-padded, so that the clientId order is the index order. */
const clientId = (k: number): string => `client-${String(k).padStart(5, '0')}`;

/** One small MLP student on every round's inputs and targets (the same loss the coordinator uses by default). */
async function studentAccuracy(proxy: Dataset, roundRows: number[][], targets: Float32Array[], test: Dataset, options: TableOptions, seed: number): Promise<number> {
  const rows = roundRows.flat();
  const soft = new Float32Array(rows.length * CLASSES);
  let offset = 0;
  for (const t of targets) {
    soft.set(t, offset);
    offset += t.length;
  }
  const student = buildModel(MLP_SPEC, seed + 1);
  const loss = createLoss({ name: 'response', temperature: options.temperature });
  try {
    await trainStudent(student, { inputs: subset(proxy, rows), softLabels: soft }, { loss, epochs: options.studentEpochs, seed, batchSize: 128 });
    return evaluateAccuracy(student, test, test.labels);
  } finally {
    loss.dispose();
    student.dispose();
  }
}

/** Runs the (clients, seed) jobs in `workers` child processes of this script (each with --json), or here. */
function runAll(options: TableOptions, log: (line: string) => void): Promise<Cell[]> {
  return runTableJobs<Job, Cell>(__filename, {
    table: 'robustness-table',
    jobs: options.clients.flatMap((clients) => options.seeds.map((seed) => ({ clients, seed }))),
    workers: options.workers,
    run: (job) => runJob(job, options, log),
    describe: (job) => `for ${job.clients} clients, seed ${job.seed}`,
    childArgs: (job) => [
      '--clients', String(job.clients), '--seeds', String(job.seed), '--workers', '1', '--json',
      '--fractions', options.fractions.join(','), '--attacks', options.attacks.join(','), '--rules', options.rules.join(','),
      '--rounds', String(options.rounds), '--proxy-size', String(options.proxySize), '--alpha', String(options.alpha),
      '--teacher-epochs', String(options.teacherEpochs), '--student-epochs', String(options.studentEpochs), '--temperature', String(options.temperature),
      ...(options.verbose ? ['--verbose'] : []),
    ],
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Per client count: one row per rule, the attack-free accuracy then each attack at each fraction (means over seeds). */
function formatTable(cells: Cell[], options: TableOptions): string {
  const lines: string[] = [];
  const rules = [...new Set([...options.rules, ...cells.map((c) => c.rule)])].filter((r) => r !== 'secure mean' && r !== HONEST_ONLY);
  rules.push('secure mean', ...(cells.some((c) => c.rule === HONEST_ONLY) ? [HONEST_ONLY] : []));
  const fractions = options.fractions.filter((f) => f > 0);
  for (const clients of options.clients) {
    const of = (rule: string, attack: string, fraction: number) => {
      const matching = (a: string) => cells.filter((c) => c.clients === clients && c.rule === rule && c.attack === a && c.fraction === fraction).map((c) => c.studentAccuracy);
      // honest-only does not depend on the attack: one run (any attack) stands for all.
      const own = matching(attack);
      if (own.length || rule !== HONEST_ONLY || attack === 'none') return own;
      const other = cells.find((c) => c.clients === clients && c.rule === rule && c.attack !== 'none' && c.fraction === fraction);
      return other ? matching(other.attack) : [];
    };
    const counts = fractions.map((f) => `${f * 100} % = ${chooseAttackers(clients, f, 0).length}`).join(', ');
    const seeds = [...new Set(cells.filter((c) => c.clients === clients).map((c) => c.seed))].sort((a, b) => a - b);
    lines.push(`${clients} clients (student test accuracy %, mean over seeds ${seeds.join(', ')}; attack-free, then each attack at ${fractions.map((f) => `${f * 100}`).join(' / ')} % attackers; attackers: ${counts})`);
    const header = ['rule'.padEnd(16), 'none'.padStart(6), ...options.attacks.map((a) => a.padStart(fractions.length * 6 - 1))];
    lines.push(header.join(' | '));
    for (const rule of rules) {
      const free = of(rule, 'none', 0);
      const row = [rule.padEnd(16), free.length ? (mean(free) * 100).toFixed(1).padStart(6) : '     -'];
      for (const attack of options.attacks) {
        row.push(fractions.map((f) => {
          const values = of(rule, attack, f);
          return values.length ? (mean(values) * 100).toFixed(1).padStart(5) : '    -';
        }).join(' '));
      }
      lines.push(row.join(' | '));
    }
    const reputation = cells.filter((c) => c.clients === clients && c.flaggedAttackers !== null);
    if (reputation.length) {
      const attackersFlagged = reputation.reduce((s, c) => s + c.flaggedAttackers!, 0);
      const attackersTotal = reputation.reduce((s, c) => s + c.attackers, 0);
      const honestFlagged = reputation.reduce((s, c) => s + c.flaggedHonest!, 0);
      lines.push(`reputation, last round over all cells: ${attackersFlagged}/${attackersTotal} attackers flagged, ${honestFlagged} honest clients flagged (of ${reputation.reduce((s, c) => s + c.clients - c.attackers, 0)})`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

async function main(options: TableOptions): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (options.fromReports) {
    // Re-renders saved --report files together (e.g. runs split by client count), as one table.
    const reports = options.fromReports.map((file) => JSON.parse(readFileSync(file, 'utf8')) as { options: TableOptions; wallSeconds: number; cells: Cell[] });
    const cells = reports.flatMap((r) => r.cells);
    const first = reports[0].options;
    const merged = { ...first, clients: [...new Set(cells.map((c) => c.clients))].sort((a, b) => a - b), seeds: [...new Set(cells.map((c) => c.seed))].sort((a, b) => a - b) };
    const wall = reports.map((r) => `${r.wallSeconds.toFixed(0)} s`).join(' + ');
    process.stdout.write(`${header(merged, 'from saved reports', wall)}\n\n${formatTable(cells, merged)}`);
    return;
  }
  const started = Date.now();
  const backend = await initBackend({ log: () => undefined });
  const cells = await runAll(options, log);
  writeTableOutput({ backend: backend.name, options, startedMs: started, cells }, (wall) => `${header(options, `backend ${backend.name}`, wall)}\n\n${formatTable(cells, options)}`);
}

function header(options: TableOptions, backend: string, wall: string): string {
  return (
    `robustness table: embedded:mnist-full, dirichlet ${options.alpha}, MLP teachers (${options.teacherEpochs} epochs), ${options.rounds} rounds of ${options.proxySize} proxy inputs (T = ${options.temperature}), ` +
    `MLP student (${options.studentEpochs} epochs on all rounds' targets), ${backend}, ${wall}`
  );
}

new Command('robustness-table')
  .description('Student accuracy for every aggregation rule against every attack (poisoned predictions) at several shares of attackers, on embedded:mnist-full.')
  .option('--clients <list>', 'federation sizes', list(integerArg('--clients', 3, 1000)), [5, 20])
  .option('--seeds <list>', 'seeds (split, partition, teachers, attackers, rounds, students)', list(integerArg('--seeds')), [0, 1, 2])
  .option('--fractions <list>', 'shares of attackers, each in [0, 0.5) (0 = the attack-free row)', list(fractionArg), [0, 0.1, 0.2, 0.3, 0.4])
  .option('--attacks <list>', `attacks: ${ATTACK_NAMES.join(', ')}`, list(parseAttackName), [...ATTACK_NAMES])
  .option('--rules <list>', `aggregation rules (as --agg takes them), and ${HONEST_ONLY} (the mean of the honest answers alone: the reference)`, list((v) => (v === HONEST_ONLY ? v : (parseAggregationRuleSpec(v), v))), ['mean', 'entropy-weighted', 'median', 'trimmed-mean:0.2', 'reputation'])
  .option('--rounds <r>', 'rounds (a fresh proxy sample each)', integerArg('--rounds', 1, 100), 3)
  .option('--proxy-size <n>', 'proxy inputs per round', integerArg('--proxy-size', 10, 5000), 1000)
  .option('--alpha <a>', 'dirichlet concentration of the partition (fedkd simulate\'s default)', positiveArg('--alpha'), 0.5)
  .option('--teacher-epochs <n>', 'epochs of each MLP teacher', integerArg('--teacher-epochs', 1), 3)
  .option('--student-epochs <n>', 'epochs of each cell\'s MLP student', integerArg('--student-epochs', 1), 3)
  .option('--temperature <T>', 'soft prediction temperature (the coordinator\'s default)', positiveArg('--temperature'), 3)
  .option('--workers <n>', 'child processes, one (clients, seed) job each at a time', integerArg('--workers', 1, 64), 2)
  .option('--json', 'print one JSON object', false)
  .option('--report <file>', 'also write the JSON object to this file')
  .option('--from-reports <files>', 'print the table of saved --report files (comma-separated) instead of computing one', list((v) => v))
  .option('--verbose', 'log every client\'s agreement and reputation in every round of the reputation rules', false)
  .action((opts: TableOptions) => exitOnError('robustness-table', () => main(opts)))
  .parse();
