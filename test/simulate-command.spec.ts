import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/federation-harness';

const run = promisify(execFile);

describe('fedkd simulate', () => {
  const dir = tempDir('fedkd-simulate-test-');
  afterAll(() => dir.remove());

  it('runs client processes against a coordinator process and writes the report with every reference', async () => {
    const report = join(dir.path, 'report.json');
    const { stdout } = await run(
      process.execPath,
      [
        'dist/apps/cli/src/main.js', 'simulate', '--clients', '2', '--rounds', '2', '--teacher', 'mlp', '--teacher-epochs', '2',
        '--student-epochs', '5', '--centralised-epochs', '2', '--fedavg-local-epochs', '1', '--partition', 'iid', '--report', report,
      ],
      { maxBuffer: 16 << 20, timeout: 240_000 },
    );
    expect(stdout).toMatch(/round \| fedkd student/);
    expect(stdout).toContain(`report written to ${report}`);
    const json = JSON.parse(readFileSync(report, 'utf8'));
    expect(json.rounds.map((r: { state: string }) => r.state)).toEqual(['published', 'published']);
    expect(json.rounds[1].studentAccuracy).toBeGreaterThan(0.7);
    // float16 soft predictions on 2,000 proxy inputs x 10 classes: 40,000 bytes per client per round.
    expect(Object.values(json.rounds[0].bytesUploadedPerClient)).toEqual([40_000, 40_000]);
    expect(json.clients).toHaveLength(2);
    expect(json.clients[0].localOnlyAccuracy).toBeGreaterThan(0.5);
    expect(json.centralised.testAccuracy).toBeGreaterThan(0.8);
    // The clients' teachers rebuilt from their seeds and aggregated: at least as good as the best of them alone.
    expect(json.teacherEnsemble.teachers).toBe(2);
    expect(json.teacherEnsemble.testAccuracy).toBeGreaterThan(Math.max(...json.clients.map((c: { localOnlyAccuracy: number }) => c.localOnlyAccuracy)) - 0.02);
    expect(json.rounds.map((r: { queries: number }) => r.queries)).toEqual([4000, 4000]);
    expect(stdout).toMatch(/teacher ensemble \(the 2 initial teachers, same rule\)/);
    expect(json.fedavg.rounds).toHaveLength(2);
    // FedAvg uploads the whole float32 MLP: 235,146 parameters.
    expect(json.fedavg.rounds[0].bytesUploadedPerClient[0]).toBeGreaterThan(4 * 235_146);
    // Over the run each of the 2 clients sent 2 answers of 40,000 bytes, and 2 FedAvg uploads.
    expect(json.uploadPerClientOverRun.fedkd).toBe(80_000);
    expect(json.uploadPerClientOverRun.fedavg).toBe(2 * json.fedavg.rounds[0].bytesUploadedPerClient[0]);
    expect(stdout).toMatch(/upload per client over the run: fedkd 78\.1 KiB, FedAvg [\d.]+ KiB \(fedkd [\d.]+ % of it\)/);
  }, 300_000);

  it('gives a bit-identical student through the in-memory transport and over sockets, from the same seed', async () => {
    const args = ['--clients', '3', '--rounds', '2', '--teacher', 'mlp', '--teacher-epochs', '2', '--student-epochs', '4', '--proxy-size', '300', '--no-baselines'];
    const students = async (transport: string) => {
      const report = join(dir.path, `${transport}.json`);
      await run(process.execPath, ['dist/apps/cli/src/main.js', 'simulate', ...args, '--transport', transport, '--workers', '2', '--report', report], { maxBuffer: 16 << 20, timeout: 240_000 });
      return JSON.parse(readFileSync(report, 'utf8')) as { rounds: { studentSha256: string; state: string }[]; transportBytes: { up: number; down: number } | null };
    };
    const [memory, socket] = [await students('memory'), await students('socket')];
    expect(memory.rounds.map((r) => r.state)).toEqual(['published', 'published']);
    expect(memory.rounds.map((r) => r.studentSha256)).toEqual(socket.rounds.map((r) => r.studentSha256));
    expect(memory.rounds[1].studentSha256).toMatch(/^[0-9a-f]{64}$/);
    // The in-memory transport counts what sockets would have carried: at least the answers (3 clients x 2 rounds x 300 x 10 float16).
    expect(memory.transportBytes!.up).toBeGreaterThan(3 * 2 * 300 * 10 * 2);
  }, 300_000);

  it('refuses an unknown aggregation rule with one line before starting anything', async () => {
    await expect(run(process.execPath, ['dist/apps/cli/src/main.js', 'simulate', '--agg', 'majority'])).rejects.toMatchObject({
      stderr: expect.stringMatching(/--agg: .*majority/),
    });
  });

  it('refuses a rule option out of range, or an unknown one, at parsing, naming the value', async () => {
    await expect(run(process.execPath, ['dist/apps/cli/src/main.js', 'simulate', '--agg', 'selective:2'])).rejects.toMatchObject({
      stderr: expect.stringMatching(/argument 'selective:2' is invalid\. --agg: selective: maxEntropy must be in \(0, 1\]/),
    });
    await expect(run(process.execPath, ['dist/apps/cli/src/main.js', 'simulate', '--agg', 'selective:depth=2'])).rejects.toMatchObject({
      stderr: expect.stringMatching(/unknown option depth \(known: maxEntropy, minCoverage, selectorEpochs, oddsScale\)/),
    });
  });
});
