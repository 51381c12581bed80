/**
 * The data-free comparison of the README: `fedkd simulate` (real processes, real sockets) once per
 * proxy source and seed, with the default clients and partition, then one table of means over the
 * seeds and the learned generator's accuracy-versus-queries curve.
 *
 *   npm run data-free-table -- [--seeds 0,1,2] [--sources public,strokes,noise,learned] [--rounds 5] [--proxy-size 2000] [--out reports/data-free]
 *
 * The teacher ensemble's accuracy comes from the public runs (they rebuild the clients' initial
 * teachers); every source of a seed has the same teachers.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { SimulationReport } from '../apps/cli/src/simulate/simulation-report';

const SOURCES = ['public', 'strokes', 'noise', 'learned'] as const;
type Source = (typeof SOURCES)[number];

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

const seeds = flag('seeds', '0,1,2').split(',').map(Number);
const sources = flag('sources', SOURCES.join(',')).split(',') as Source[];
const rounds = Number(flag('rounds', '5'));
const proxySize = Number(flag('proxy-size', '2000'));
const out = resolve(flag('out', 'reports/data-free'));
const cli = resolve(__dirname, '../apps/cli/src/main.js');
for (const s of sources) if (!SOURCES.includes(s)) throw new Error(`--sources: unknown source '${s}' (known: ${SOURCES.join(', ')})`);
if (seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new Error('--seeds must be non-negative integers, comma-separated');

function simulate(source: Source, seed: number, report: string): Promise<void> {
  const args = [cli, 'simulate', '--seed', String(seed), '--rounds', String(rounds), '--proxy-size', String(proxySize), '--report', report, '--agg', 'entropy-weighted'];
  if (source === 'public') args.push('--proxy', 'public');
  else args.push('--proxy', 'synthetic', '--generator', source, '--no-baselines');
  process.stderr.write(`data-free-table: ${source}, seed ${seed} -> ${report}\n`);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (/round \d+: published|teacher ensemble test accuracy/.test(line)) process.stderr.write(`  ${line.trim()}\n`);
    });
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`simulate ${source} seed ${seed} exited with ${code}`))));
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const fmt = (xs: number[]) => `${mean(xs).toFixed(4)} ± ${sd(xs).toFixed(4)}`;

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const reports = new Map<Source, SimulationReport[]>();
  for (const seed of seeds) {
    for (const source of sources) {
      const path = join(out, `${source}-seed${seed}.json`);
      // Reports already on disk are reused: delete them to measure again.
      if (!existsSync(path)) await simulate(source, seed, path);
      reports.set(source, [...(reports.get(source) ?? []), JSON.parse(readFileSync(path, 'utf8')) as SimulationReport]);
    }
  }
  const lines = [
    `${seeds.length} seeds (${seeds.join(', ')}), ${rounds} rounds of ${proxySize} proxy inputs, defaults of fedkd simulate otherwise`,
    '',
    '| proxy | final student (mean ± sd) | per seed | teacher queries | upload per client | proxy download per client |',
    '|---|---|---|---|---|---|',
  ];
  for (const source of sources) {
    const list = reports.get(source)!;
    const finals = list.map((r) => r.finalStudentAccuracy ?? 0);
    const queries = mean(list.map((r) => r.rounds.reduce((n, round) => n + round.queries, 0)));
    const upload = mean(list.map((r) => r.rounds.reduce((n, round) => n + mean(Object.values(round.bytesUploadedPerClient)), 0)));
    const download = mean(list.map((r) => r.rounds.reduce((n, round) => n + round.proxyBytesPerClient, 0)));
    lines.push(
      `| ${source === 'public' ? 'public (2,000 real digits)' : `synthetic ${source}`} | ${fmt(finals)} | ${finals.map((f) => f.toFixed(4)).join(' / ')} | ${queries.toLocaleString('en')} | ${(upload / 1024).toFixed(0)} KiB | ${(download / 1024).toFixed(0)} KiB |`,
    );
  }
  const ensembles = (reports.get('public') ?? []).map((r) => r.teacherEnsemble?.testAccuracy).filter((x): x is number => x !== undefined);
  if (ensembles.length) lines.push(`| teacher ensemble (the clients' initial teachers) | ${fmt(ensembles)} | ${ensembles.map((f) => f.toFixed(4)).join(' / ')} | - | - | - |`);
  const learned = reports.get('learned');
  if (learned) {
    lines.push('', 'learned generator, accuracy versus teacher queries (mean over seeds):', '', '| round | teacher queries | student | inputs in their intended class |', '|---|---|---|---|');
    for (let r = 0; r < rounds; r++) {
      const at = learned.map((rep) => rep.rounds[r]);
      const queries = mean(learned.map((rep) => rep.rounds.slice(0, r + 1).reduce((n, x) => n + x.queries, 0)));
      lines.push(`| ${r + 1} | ${queries.toLocaleString('en')} | ${mean(at.map((x) => x.studentAccuracy ?? 0)).toFixed(4)} | ${mean(at.map((x) => x.generator?.intendedClassAgreement ?? 0)).toFixed(3)} |`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

void main().catch((error: unknown) => {
  process.stderr.write(`data-free-table: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
