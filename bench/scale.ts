/**
 * `npm run bench:scale [-- --json] [-- --sizes 10,100,1000] [-- --rounds 3]`: `fedkd simulate
 * --transport memory` at growing federation sizes (MLP teachers on embedded:mnist-full partitions,
 * dirichlet 0.5, fraction 0.1 from 1,000 clients on), and the worker pool's scaling (the same
 * 100-client round with 1 and with 2 worker processes). Per size: wall time per round and its
 * phases, the coordinator's RSS, bytes each way, the final student, and the share of a round spent
 * outside training and inference. Numbers, not assertions: the aims are printed beside them.
 * With --json, stdout gets exactly one JSON object and the progress goes to stderr.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = join(__dirname, '..', 'apps', 'cli', 'src', 'main.js');

interface RoundReport {
  round: number;
  state: string;
  studentAccuracy: number | null;
  invited: number;
  answered: number;
  wallSeconds: number;
  timings: Record<string, number>;
  clientComputeSeconds: { median: number; max: number } | null;
}

interface SimulationReport {
  rounds: RoundReport[];
  transportBytes: { up: number; down: number };
  coordinatorRssBytes: number;
  finalStudentAccuracy: number | null;
  wallSeconds: number;
}

interface SizeResult {
  clients: number;
  fraction: number;
  workers: number;
  rounds: number;
  sampledPerRound: number;
  registerAndRunSeconds: number;
  roundWallSeconds: number[];
  /** Mean over rounds, milliseconds. */
  phases: Record<string, number>;
  /** Sum over the round's clients of their compute time, divided by the workers: what the pool needed at best. */
  clientComputePerWorkerSeconds: number;
  /** Of a round's wall time, what is neither client training/inference (spread over the workers) nor the student's training and evaluation. */
  overheadShare: number;
  coordinatorRssMiB: number;
  bytesUpMiB: number;
  bytesDownMiB: number;
  finalStudentAccuracy: number | null;
}

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

const json = process.argv.includes('--json');
const say = (line: string) => process.stderr.write(`${line}\n`);

async function simulate(clients: number, rounds: number, workers: number, dir: string): Promise<SizeResult> {
  const fraction = clients >= 1000 ? 0.1 : 1;
  const report = join(dir, `scale-${clients}-${workers}.json`);
  say(`bench:scale: ${clients} clients (fraction ${fraction}), ${rounds} rounds, ${workers} workers`);
  const started = Date.now();
  await run(
    process.execPath,
    [CLI, 'simulate', '--transport', 'memory', '--dataset', 'embedded:mnist-full', '--clients', String(clients), '--fraction', String(fraction),
      '--rounds', String(rounds), '--workers', String(workers), '--teacher', 'mlp', '--agg', 'entropy-weighted', '--no-baselines', '--report', report,
      '--round-deadline-ms', '1800000'],
    { maxBuffer: 256 << 20, timeout: 4 * 3_600_000 },
  );
  const result = JSON.parse(readFileSync(report, 'utf8')) as SimulationReport;
  const published = result.rounds.filter((r) => r.state === 'published');
  const mean = (pick: (r: RoundReport) => number) => published.reduce((s, r) => s + pick(r), 0) / Math.max(1, published.length);
  const phaseNames = ['openMs', 'firstAnswerMs', 'medianAnswerMs', 'lastAnswerMs', 'collectMs', 'aggregateMs', 'trainMs', 'evaluateMs', 'publishMs', 'roundMs'];
  const phases = Object.fromEntries(phaseNames.map((p) => [p, Math.round(mean((r) => r.timings[p] ?? 0))]));
  // Client compute: what the answering clients reported, summed, spread over the workers (the best the pool could do).
  const computeSeconds = mean((r) => (r.clientComputeSeconds ? r.answered * r.clientComputeSeconds.median : 0)) / workers;
  const wall = mean((r) => r.wallSeconds);
  const modelSeconds = (phases.trainMs + phases.evaluateMs) / 1000;
  return {
    clients,
    fraction,
    workers,
    rounds,
    sampledPerRound: Math.ceil(clients * fraction),
    registerAndRunSeconds: (Date.now() - started) / 1000,
    roundWallSeconds: result.rounds.map((r) => r.wallSeconds),
    phases,
    clientComputePerWorkerSeconds: computeSeconds,
    overheadShare: Math.max(0, wall - computeSeconds - modelSeconds) / wall,
    coordinatorRssMiB: result.coordinatorRssBytes / 2 ** 20,
    bytesUpMiB: result.transportBytes.up / 2 ** 20,
    bytesDownMiB: result.transportBytes.down / 2 ** 20,
    finalStudentAccuracy: result.finalStudentAccuracy,
  };
}

async function main(): Promise<void> {
  const sizes = argument('--sizes', '10,100,1000').split(',').map(Number);
  const rounds = Number(argument('--rounds', '3'));
  const dir = mkdtempSync(join(tmpdir(), 'fedkd-bench-scale-'));
  try {
    const results: SizeResult[] = [];
    for (const clients of sizes) results.push(await simulate(clients, rounds, 2, dir));
    // The pool's scaling: the same 100-client round with one worker process and with two.
    const one = await simulate(100, 1, 1, dir);
    const two = await simulate(100, 1, 2, dir);
    const throughput = (r: SizeResult) => r.sampledPerRound / (r.phases.lastAnswerMs / 1000);
    const pool = { clientsPerSecondOneWorker: throughput(one), clientsPerSecondTwoWorkers: throughput(two), speedup: throughput(two) / throughput(one) };
    const rss = (n: number) => results.find((r) => r.clients === n)?.coordinatorRssMiB;
    const aims = {
      '100 clients x 10 rounds <= 10 min (from 3 rounds)': results.find((r) => r.clients === 100) ? `${(((results.find((r) => r.clients === 100)!.roundWallSeconds.reduce((a, b) => a + b, 0) / rounds) * 10) / 60).toFixed(1)} min` : '-',
      '1,000-client round (100 sampled) <= 2 min': results.find((r) => r.clients === 1000) ? `${(results.find((r) => r.clients === 1000)!.roundWallSeconds.reduce((a, b) => Math.max(a, b), 0) / 60).toFixed(2)} min (slowest round)` : '-',
      'coordinator RSS at 1,000 <= 1.5 x at 10': rss(1000) && rss(10) ? `${(rss(1000)! / rss(10)!).toFixed(2)} x` : '-',
      'overhead <= 5 % of a round at 100 clients': results.find((r) => r.clients === 100) ? `${(100 * results.find((r) => r.clients === 100)!.overheadShare).toFixed(1)} %` : '-',
      'client throughput, 2 workers / 1 >= 1.8': `${pool.speedup.toFixed(2)} x`,
    };
    if (json) {
      process.stdout.write(`${JSON.stringify({ sizes: results, pool, aims }, null, 2)}\n`);
      return;
    }
    const rows = results.map(
      (r) =>
        `| ${r.clients} | ${r.sampledPerRound} | ${(r.roundWallSeconds.reduce((a, b) => a + b, 0) / r.roundWallSeconds.length).toFixed(1)} s | ` +
        `${r.phases.openMs} / ${r.phases.firstAnswerMs} / ${r.phases.medianAnswerMs} / ${r.phases.lastAnswerMs} / ${r.phases.aggregateMs} / ${r.phases.trainMs} / ${r.phases.evaluateMs} / ${r.phases.publishMs} ms | ` +
        `${(100 * r.overheadShare).toFixed(1)} % | ${r.coordinatorRssMiB.toFixed(0)} MiB | ${r.bytesUpMiB.toFixed(1)} / ${r.bytesDownMiB.toFixed(1)} MiB | ${r.finalStudentAccuracy?.toFixed(4) ?? '-'} |`,
    );
    process.stdout.write(
      [
        `embedded:mnist-full, MLP teachers, dirichlet 0.5, entropy-weighted, ${rounds} rounds, 2 worker processes`,
        '',
        '| clients | sampled/round | round wall (mean) | open / first / median / last answer / aggregate / train / evaluate / publish | outside training | coordinator RSS | up / down | final student |',
        '|---|---|---|---|---|---|---|---|',
        ...rows,
        '',
        `worker pool, one 100-client round: ${pool.clientsPerSecondOneWorker.toFixed(2)} clients/s with 1 worker, ${pool.clientsPerSecondTwoWorkers.toFixed(2)} with 2 (${pool.speedup.toFixed(2)} x)`,
        '',
        ...Object.entries(aims).map(([aim, got]) => `aim: ${aim}: ${got}`),
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`bench:scale: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
