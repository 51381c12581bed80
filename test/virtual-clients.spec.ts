import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testWorkspace } from './support/federation-harness';

/**
 * Hundreds of clients through the in-memory transport, on the code path deployments run (the
 * client core, the coordinator's endpoint and validators, signatures, secure aggregation and
 * differential privacy), at small sizes: few proxy inputs, one epoch.
 */
const run = promisify(execFile);

interface Report {
  rounds: { state: string; reason: string | null; invited: number; answered: number; declined: number; otherOutcomes: string[]; privacy: { releaseEpsilon: number } | null; timings: Record<string, number>; bytesUploadedPerClient: Record<string, number> }[];
  coordinatorRssBytes: number;
}

describe('virtual clients', () => {
  const { dir } = testWorkspace('fedkd-virtual-');

  async function simulate(name: string, args: string[], output?: { stderr: string }): Promise<Report> {
    const report = join(dir, `${name}.json`);
    const { stderr } = await run(
      process.execPath,
      ['dist/apps/cli/src/main.js', 'simulate', '--transport', 'memory', '--workers', '2', '--rounds', '1', '--teacher', 'mlp', '--teacher-epochs', '1',
        '--local-epochs', '0', '--digest-epochs', '0', '--student-epochs', '2', '--proxy-size', '40', '--partition', 'iid', '--no-baselines', '--report', report, ...args],
      { maxBuffer: 64 << 20, timeout: 600_000 },
    );
    if (output) output.stderr = stderr;
    return JSON.parse(readFileSync(report, 'utf8')) as Report;
  }

  it('runs 100 clients under secure aggregation on a k-regular neighbour graph: every one answers', async () => {
    const report = await simulate('secure', ['--clients', '100', '--agg', 'mean', '--secure-agg', '--secagg-degree', '6']);
    const [round] = report.rounds;
    expect(round).toMatchObject({ state: 'published', invited: 100, answered: 100 });
    expect(round.otherOutcomes).toEqual([]);
    expect(round.timings.lastAnswerMs).toBeGreaterThanOrEqual(round.timings.firstAnswerMs);
  }, 600_000);

  it('runs 200 clients with differentially private votes: every sampled client answers or declines with a reason', async () => {
    // A budget that admits one round of 40 queries at sigma 40 but not two: all answer round 1, all decline round 2.
    const report = await simulate('private', ['--clients', '200', '--rounds', '2', '--dp', 'gnmax', '--dp-sigma', '40', '--teachers-per-client', '1', '--epsilon-max', '1.2', '--min-answers', '1']);
    const [first, second] = report.rounds;
    expect(first).toMatchObject({ state: 'published', invited: 200, answered: 200 });
    expect(first.privacy!.releaseEpsilon).toBeGreaterThan(0);
    expect(second).toMatchObject({ state: 'failed', invited: 200, answered: 0, declined: 200 });
    expect(second.otherOutcomes).toHaveLength(1);
    expect(second.otherOutcomes[0]).toMatch(/^declined: privacy budget: /);
  }, 600_000);

  it('samples a fraction of the clients each round and carries top-k answers: 2 values and their classes per row', async () => {
    const report = await simulate('sparse', ['--clients', '30', '--fraction', '0.2', '--rounds', '2', '--encoding', 'top-k:2', '--proxy-resample']);
    for (const round of report.rounds) {
      expect(round).toMatchObject({ state: 'published', invited: 6, answered: 6 });
      // 40 rows x (2 class bytes + 2 float16 values) = 240 bytes per answer.
      expect(Object.values(round.bytesUploadedPerClient)).toEqual(Array(6).fill(240));
    }
    const [first, second] = report.rounds.map((r) => Object.keys(r.bytesUploadedPerClient).sort());
    expect(second).not.toEqual(first);
  }, 600_000);

  it('runs data-free rounds (synthetic strokes) aggregated by the median through virtual clients', async () => {
    const report = await simulate('data-free', ['--clients', '20', '--rounds', '2', '--proxy', 'synthetic', '--generator', 'strokes', '--agg', 'median']);
    expect(report.rounds.map((r) => [r.state, r.invited, r.answered])).toEqual([
      ['published', 20, 20],
      ['published', 20, 20],
    ]);
  }, 600_000);

  it('runs selective rounds through virtual clients: each trains its coverage selector once, keeps it between rounds, and uploads its coverage with its answer', async () => {
    const output = { stderr: '' };
    // 10 clients: simulate prints the virtual clients' own log lines up to 10.
    const report = await simulate('selective', ['--clients', '10', '--rounds', '2', '--partition', 'shards', '--agg', 'selective'], output);
    expect(report.rounds.map((r) => [r.state, r.invited, r.answered])).toEqual([
      ['published', 10, 10],
      ['published', 10, 10],
    ]);
    // 40 inputs x (10 float16 probabilities + 1 float16 coverage weight) = 880 bytes per answer.
    for (const round of report.rounds) expect(Object.values(round.bytesUploadedPerClient)).toEqual(Array(10).fill(880));
    // Released between rounds and materialised again, each client restored its selector rather than training another.
    expect(output.stderr.match(/training its coverage selector/g)).toHaveLength(10);
  }, 600_000);
});
