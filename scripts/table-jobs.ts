import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';

/** How a measurement table runs its independent jobs: here, or one child process of the script per job. */
export interface TableJobs<J, C> {
  /** The table's name, for errors. */
  table: string;
  jobs: readonly J[];
  /** Child processes at once (1: every job in this process, in order). */
  workers: number;
  /** Runs one job in this process. */
  run(job: J): Promise<C[]>;
  /** The script's arguments that make a child run exactly this job and print `{ cells }` as JSON on stdout. */
  childArgs(job: J): string[];
  /** The job, for an error naming it. */
  describe(job: J): string;
}

/**
 * Runs a table's jobs and returns their cells in the order they finish (one process per job, at
 * most `workers` at once: a fresh process each, so that the wasm backend's memory is returned).
 * `script` is the table's own compiled file (__filename), forked with the job's arguments.
 */
export async function runTableJobs<J, C>(script: string, spec: TableJobs<J, C>): Promise<C[]> {
  const cells: C[] = [];
  if (spec.workers <= 1 || spec.jobs.length === 1) {
    for (const job of spec.jobs) cells.push(...(await spec.run(job)));
    return cells;
  }
  const queue = [...spec.jobs];
  const worker = async (): Promise<void> => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      const child = fork(script, spec.childArgs(job), { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      if (code !== 0) throw new Error(`${spec.table}: the job ${spec.describe(job)} exited with code ${code}`);
      cells.push(...(JSON.parse(out) as { cells: C[] }).cells);
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.workers, spec.jobs.length) }, worker));
  return cells;
}

/**
 * A table's output: the JSON object { backend, options, wallSeconds, cells } to `options.report`
 * when given, and to stdout with `options.json`; otherwise the rendered table (`render` gets the
 * wall time as text).
 */
export function writeTableOutput(
  result: { backend: string; options: { json: boolean; report?: string }; startedMs: number; cells: readonly unknown[] },
  render: (wall: string) => string,
): void {
  const wallSeconds = (Date.now() - result.startedMs) / 1000;
  const json = JSON.stringify({ backend: result.backend, options: result.options, wallSeconds, cells: result.cells });
  if (result.options.report) writeFileSync(result.options.report, `${json}\n`);
  process.stdout.write(result.options.json ? `${json}\n` : render(`${wallSeconds.toFixed(0)} s`));
}
