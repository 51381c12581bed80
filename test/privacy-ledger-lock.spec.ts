import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ORDERS, PrivacyLedger, ledgerLockPath, rdpGnmaxDataIndependent } from '@fedkd/privacy';

// Two processes of one client (same ledger file) spend at the same time; the ledger's file lock
// must let exactly one of them take the last of the budget. Runs test/support/ledger-spend-child.js
// against dist/ (build first).
const CHILD = path.join(__dirname, 'support', 'ledger-spend-child.js');
const DELTA = 1e-5;

interface Child {
  process: ChildProcessWithoutNullStreams;
  lines: AsyncIterator<string>;
}

function startChild(args: string[]): Child {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    process: child,
    lines: {
      next: async () => {
        const line = await lines.next();
        if (line.done) throw new Error(`ledger child exited early: ${stderr}`);
        return line;
      },
    },
  };
}

describe('privacy ledger file lock across processes', () => {
  const children: Child[] = [];
  let dir = '';

  afterEach(() => {
    for (const child of children.splice(0)) child.process.kill();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lets exactly one of two processes of a client spend a budget that allows one more round', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedkd-ledger-lock-'));
    const file = path.join(dir, 'privacy-ledger.json');
    const cost = rdpGnmaxDataIndependent(40, DEFAULT_ORDERS).map((r) => r * 10);
    const ledger = PrivacyLedger.load(file);
    expect(ledger.charge(1, cost, { mechanism: 'gnmax', queries: 10, answered: 10, delta: DELTA }).ok).toBe(true);
    const epsilonAfter = (rounds: number) => ledger.check(cost.map((r) => r * rounds), Infinity, DELTA).epsilonAfter;
    const budget = (epsilonAfter(1) + epsilonAfter(2)) / 2; // room for one more round, not two

    for (const round of [2, 3]) children.push(startChild([file, String(round), String(budget), JSON.stringify(cost)]));
    for (const child of children) expect((await child.lines.next()).value).toBe('ready'); // both loaded the same ledger
    // Hold the lock while both are told to spend, so both are waiting on it when it frees.
    fs.mkdirSync(ledgerLockPath(file));
    for (const child of children) child.process.stdin.write('go\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    fs.rmdirSync(ledgerLockPath(file));
    const outcomes = await Promise.all(children.map(async (child) => JSON.parse((await child.lines.next()).value as string)));

    const spent = outcomes.filter((o) => o.ok);
    const refused = outcomes.filter((o) => !o.ok);
    expect(spent).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ code: 'OVER_BUDGET' });
    expect(refused[0].reason).toMatch(/^round [23] would spend epsilon [\d.]+ > budget [\d.]+ \(spent [\d.]+ at delta 0\.00001\)$/);
    // The loser checked the latest ledger (rounds 1 and the winner's), not the one it had loaded.
    expect(refused[0].reason).toContain(`(spent ${Number(epsilonAfter(1).toPrecision(3))} at`);
    const rounds = PrivacyLedger.load(file).entries.map((e) => e.round);
    expect(rounds).toEqual([1, spent[0].entry.round]);
    expect(fs.existsSync(ledgerLockPath(file))).toBe(false);
  });
});
