import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseAttackers } from '@fedkd/distill';
import { tempDir } from './support/federation-harness';

const run = promisify(execFile);
const CLI = 'dist/apps/cli/src/main.js';

/** The CLI's exit code and stderr for arguments it must refuse before any work starts. */
async function refused(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [CLI, 'simulate', ...args], { timeout: 60_000 });
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
  throw new Error(`fedkd simulate ${args.join(' ')} was accepted`);
}

interface Report {
  config: { agg: string; transport: string };
  rounds: { state: string; answered: number }[];
  robustness: { attack: string; attackers: string[]; flagged: { name: string; attacker: boolean; flaggedRounds: number[]; history: { round: number; agreement: number; flagged: boolean }[] }[] };
}

describe('fedkd simulate --attackers', () => {
  const dir = tempDir('fedkd-attackers-test-');
  afterAll(() => dir.remove());

  it('refuses an attacker share out of range, an unknown attack, and either flag without the other, naming the flag', async () => {
    const [tooMany, unknown, noAttack, noShare] = await Promise.all([
      refused(['--attackers', '0.5', '--attack', 'flip']),
      refused(['--attackers', '0.2', '--attack', 'poison']),
      refused(['--attackers', '0.2']),
      refused(['--attack', 'flip']),
    ]);
    expect(tooMany.code).not.toBe(0);
    expect(tooMany.stderr).toContain("--attackers: must be a fraction in [0, 0.5), got '0.5'");
    expect(unknown.stderr).toContain("--attack: unknown attack 'poison' (known: flip, targeted, uniform, confident-wrong, scaled, collude, sybil)");
    expect(noAttack.stderr).toContain('--attackers 0.2 needs --attack NAME');
    expect(noShare.stderr).toContain('--attack flip needs --attackers FRACTION');
  }, 120_000);

  it('names the attackers in its report, and the default reputation rule flags them from the first round, with the evidence of GET /clients', async () => {
    const report = join(dir.path, 'attacked.json');
    const { stdout } = await run(
      process.execPath,
      [
        CLI, 'simulate', '--clients', '5', '--attackers', '0.4', '--attack', 'flip', '--rounds', '2', '--workers', '2', '--teacher', 'mlp', '--teacher-epochs', '1',
        '--local-epochs', '0', '--digest-epochs', '0', '--student-epochs', '1', '--proxy-size', '100', '--partition', 'iid', '--no-baselines', '--report', report,
      ],
      { maxBuffer: 16 << 20, timeout: 240_000 },
    );
    const json = JSON.parse(readFileSync(report, 'utf8')) as Report;
    expect(json.config).toMatchObject({ agg: 'reputation', transport: 'memory' });
    expect(json.rounds.map((r) => [r.state, r.answered])).toEqual([['published', 5], ['published', 5]]);
    const attackers = chooseAttackers(5, 0.4, 0).map((i) => `client-${i}`);
    expect(attackers).toHaveLength(2);
    expect(json.robustness.attack).toBe('flip');
    expect(json.robustness.attackers).toEqual(attackers);
    expect(json.robustness.flagged.map((f) => f.name)).toEqual(attackers);
    for (const flagged of json.robustness.flagged) {
      expect(flagged).toMatchObject({ attacker: true, flaggedRounds: [1, 2] });
      expect(flagged.history.map((h) => h.round)).toEqual([1, 2]);
      expect(flagged.history.every((h) => h.flagged && h.agreement >= 0 && h.agreement < 1)).toBe(true);
    }
    expect(stdout).toContain(`attack flip: ${attackers.join(', ')}`);
    expect(stdout).toContain(`flagged by reputation: ${attackers.map((a) => `${a} (attacker) in rounds 1, 2`).join('; ')}`);
  }, 300_000);
});
