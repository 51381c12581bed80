import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

// The demo's promise, checked by running the built command as a user would (npm test builds first).
describe('npm run demo:distill', () => {
  it('distils an MLP student within 2 points of the same MLP trained on the labelled private pool', async () => {
    const { stdout } = await run(process.execPath, ['dist/scripts/demo-distill.js', '--json', '--seed', '0'], {
      maxBuffer: 1 << 20,
    });
    const result = JSON.parse(stdout) as { teacherAccuracy: number; studentAccuracy: number; directAccuracy: number };
    expect(result.teacherAccuracy).toBeGreaterThan(0.95);
    expect(result.directAccuracy).toBeGreaterThan(0.93);
    expect(result.studentAccuracy).toBeGreaterThanOrEqual(result.directAccuracy - 0.02);
  }, 400_000);

  it('refuses a bad flag with one clear line and a non-zero exit', async () => {
    await expect(run(process.execPath, ['dist/scripts/demo-distill.js', '--temperature', '-1'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--temperature must be a number > 0'),
    });
  });
});
