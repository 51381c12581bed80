/**
 * The data-free comparison of the README: `fedkd simulate` (real processes, real sockets) once per
 * proxy source and seed, with the default clients and partition, then one table of means over the
 * seeds and each source's accuracy against teacher queries, round by round.
 *
 *   npm run data-free-table -- [--seeds 0,1,2] [--sources public,strokes,noise,learned,student-guided]
 *     [--rounds 10] [--proxy-size 2000] [--dataset embedded:mnist] [--teacher-epochs 15]
 *     [--parallel 1] [--out reports/data-free] [--json] [--no-run]
 *
 * Reports already in --out are reused (delete them to measure again), so a table can be built in
 * parts; --no-run prints the table from the reports there are (a source's mean over the seeds it
 * has) and runs nothing. The teacher ensemble's accuracy comes from the public runs (they rebuild the clients'
 * initial teachers); every source of a seed has the same teachers.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SimulationReport } from '../apps/cli/src/simulate/simulation-report';

const SOURCES = ['public', 'strokes', 'noise', 'learned', 'student-guided'] as const;
type Source = (typeof SOURCES)[number];

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

const seeds = flag('seeds', '0,1,2').split(',').map(Number);
const sources = flag('sources', SOURCES.join(',')).split(',') as Source[];
const rounds = Number(flag('rounds', '10'));
const proxySize = Number(flag('proxy-size', '2000'));
const dataset = flag('dataset', 'embedded:mnist');
const teacherEpochs = Number(flag('teacher-epochs', '15'));
const parallel = Number(flag('parallel', '1'));
const json = process.argv.includes('--json');
const noRun = process.argv.includes('--no-run');
const out = resolve(flag('out', 'reports/data-free'));
const cli = resolve(__dirname, '../apps/cli/src/main.js');
for (const s of sources) if (!SOURCES.includes(s)) throw new Error(`--sources: unknown source '${s}' (known: ${SOURCES.join(', ')})`);
if (seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error('--seeds must be non-negative integers, comma-separated');
for (const [name, v] of [['rounds', rounds], ['proxy-size', proxySize], ['teacher-epochs', teacherEpochs], ['parallel', parallel]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${flag(name, '')}`);
}

function simulate(source: Source, seed: number, report: string): Promise<void> {
  const args = [cli, 'simulate', '--seed', String(seed), '--rounds', String(rounds), '--proxy-size', String(proxySize), '--report', report, '--agg', 'entropy-weighted'];
  args.push('--dataset', dataset, '--teacher-epochs', String(teacherEpochs));
  if (source === 'public') args.push('--proxy', 'public');
  else args.push('--proxy', 'synthetic', '--generator', source, '--no-baselines');
  if (source === 'student-guided') args.push('--samples-dir', join(out, `samples-${source}-seed${seed}`));
  process.stderr.write(`data-free-table: ${source}, seed ${seed} -> ${report}\n`);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (/round \d+: published|teacher ensemble test accuracy/.test(line)) process.stderr.write(`  [${source} ${seed}] ${line.trim()}\n`);
    });
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`simulate ${source} seed ${seed} exited with ${code}`))));
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const fmt = (xs: number[]) => `${mean(xs).toFixed(4)} ± ${sd(xs).toFixed(4)}`;
const label = (source: Source) => (source === 'public' ? `public (${proxySize.toLocaleString('en')} real digits)` : `synthetic ${source}`);

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const tag = dataset === 'embedded:mnist' ? '' : `${dataset.replace(/^embedded:/, '')}-`;
  const planned = seeds.flatMap((seed) => sources.map((source) => ({ source, seed, path: join(out, `${tag}${source}-seed${seed}.json`) })));
  const jobs = noRun ? planned.filter((j) => existsSync(j.path)) : planned;
  const pending = jobs.filter((j) => !existsSync(j.path));
  // --parallel N: N simulations at once (each is one coordinator and its clients; the machine has 2 cores).
  await Promise.all(
    Array.from({ length: Math.min(parallel, pending.length) }, async () => {
      for (let job = pending.shift(); job; job = pending.shift()) await simulate(job.source, job.seed, job.path);
    }),
  );
  const reports = new Map<Source, SimulationReport[]>();
  for (const j of jobs) reports.set(j.source, [...(reports.get(j.source) ?? []), JSON.parse(readFileSync(j.path, 'utf8')) as SimulationReport]);

  const rows = sources.filter((source) => reports.has(source)).map((source) => {
    const list = reports.get(source)!;
    const sourceSeeds = jobs.filter((j) => j.source === source).map((j) => j.seed);
    const finals = list.map((r) => r.finalStudentAccuracy ?? 0);
    const curve = Array.from({ length: rounds }, (_, r) => mean(list.map((rep) => rep.rounds[r]?.studentAccuracy ?? 0)));
    return {
      source,
      seeds: sourceSeeds,
      finals,
      mean: mean(finals),
      sd: sd(finals),
      // The student at the end against its best round (means over the seeds): 1 means no drift.
      endOverPeak: mean(list.map((rep) => (rep.finalStudentAccuracy ?? 0) / Math.max(...rep.rounds.map((x) => x.studentAccuracy ?? 0)))),
      queries: mean(list.map((r) => r.rounds.reduce((n, round) => n + round.queries, 0))),
      uploadPerClient: mean(list.map((r) => r.rounds.reduce((n, round) => n + mean(Object.values(round.bytesUploadedPerClient)), 0))),
      downloadPerClient: mean(list.map((r) => r.rounds.reduce((n, round) => n + round.proxyBytesPerClient, 0))),
      roundSeconds: mean(list.map((r) => mean(r.rounds.map((x) => x.wallSeconds)))),
      curve,
      cumulativeQueries: Array.from({ length: rounds }, (_, r) => mean(list.map((rep) => rep.rounds.slice(0, r + 1).reduce((n, x) => n + x.queries, 0)))),
    };
  });
  const ensembles = (reports.get('public') ?? []).map((r) => r.teacherEnsemble?.testAccuracy).filter((x): x is number => x !== undefined);
  if (json) {
    process.stdout.write(`${JSON.stringify({ seeds, rounds, proxySize, dataset, teacherEpochs, sources: rows, teacherEnsemble: ensembles }, null, 2)}\n`);
    return;
  }
  const lines = [
    `${dataset}, ${seeds.length} seeds (${seeds.join(', ')}), ${rounds} rounds of ${proxySize} proxy inputs, teachers trained ${teacherEpochs} epochs, defaults of fedkd simulate otherwise`,
    '',
    '| proxy | seeds | final student (mean ± sd) | per seed | end / peak | teacher queries | upload per client | question download per client | round wall |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${label(row.source)} | ${row.seeds.join(', ')} | ${fmt(row.finals)} | ${row.finals.map((f) => f.toFixed(4)).join(' / ')} | ${row.endOverPeak.toFixed(3)} | ${row.queries.toLocaleString('en')} | ${(row.uploadPerClient / 1024).toFixed(0)} KiB | ${(row.downloadPerClient / 1024).toFixed(0)} KiB | ${row.roundSeconds.toFixed(0)} s |`,
    );
  }
  const publicSeeds = jobs.filter((j) => j.source === 'public').map((j) => j.seed);
  if (ensembles.length) lines.push(`| teacher ensemble (the clients' initial teachers) | ${publicSeeds.join(', ')} | ${fmt(ensembles)} | ${ensembles.map((f) => f.toFixed(4)).join(' / ')} | - | - | - | - | - |`);
  if (rows.length === 0) throw new Error(`no reports in ${out} for these seeds and sources`);
  lines.push('', 'student accuracy against teacher queries (mean over each source\'s seeds):', '', `| teacher queries | ${rows.map((r) => r.source).join(' | ')} |`, `|---|${rows.map(() => '---|').join('')}`);
  for (let r = 0; r < rounds; r++) {
    lines.push(`| ${rows[0].cumulativeQueries[r].toLocaleString('en')} | ${rows.map((row) => row.curve[r].toFixed(4)).join(' | ')} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

void main().catch((error: unknown) => {
  process.stderr.write(`data-free-table: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
