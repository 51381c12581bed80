import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DEFAULT_ORDERS, RdpAccountant, rdpGaussian, rdpGnmaxDataIndependent } from '../accountant';
import { PrivacyLedgerError } from './errors';
import { PRIVACY_LEDGER_FORMAT } from './ledger-file';
import { LEDGER_LOCK_STALE_MS, ledgerLockPath } from './ledger-lock';
import { PrivacyLedger } from './privacy-ledger';

const DELTA = 1e-5;

/** Data-independent GNMax RDP of `queries` queries at noise sigma, on the given orders. */
function gnmaxRounds(sigma: number, queries: number, orders: readonly number[] = DEFAULT_ORDERS): number[] {
  return rdpGnmaxDataIndependent(sigma, orders).map((r) => r * queries);
}

function expectLedgerError(action: () => unknown, code: string, pattern: RegExp): void {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(PrivacyLedgerError);
    expect((error as PrivacyLedgerError).code).toBe(code);
    expect((error as Error).message).toMatch(pattern);
    return;
  }
  throw new Error(`expected a PrivacyLedgerError ${code}`);
}

describe('PrivacyLedger', () => {
  let dir: string;
  let file: string;
  const details = { mechanism: 'gnmax', queries: 100, answered: 100, delta: DELTA };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedkd-ledger-'));
    file = path.join(dir, 'client-3', 'privacy-ledger.json');
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is created empty, on disk, when missing: nothing spent', () => {
    const ledger = PrivacyLedger.load(file);
    expect(fs.existsSync(file)).toBe(true);
    expect(ledger.epsilon(DELTA)).toBe(0);
    expect(ledger.orders).toEqual(DEFAULT_ORDERS);
    expect(ledger.rdp.every((r) => r === 0)).toBe(true);
    expect(ledger.entries).toEqual([]);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).format).toBe(PRIVACY_LEDGER_FORMAT);
  });

  it('accumulates charges per order and records an entry per round', () => {
    let clock = Date.parse('2026-11-25T12:00:00Z');
    const ledger = PrivacyLedger.load(file, { now: () => new Date((clock += 1000)) });
    const perRound = gnmaxRounds(40, 100);
    const epsilons: number[] = [];
    for (let round = 1; round <= 3; round++) {
      const result = ledger.charge(round, perRound, details);
      expect(result.ok).toBe(true);
      epsilons.push(ledger.epsilon(DELTA));
    }
    expect(ledger.rdp).toEqual(perRound.map((r) => r + r + r));
    expect(epsilons[0]).toBeGreaterThan(0);
    expect(epsilons[1]).toBeGreaterThan(epsilons[0]!);
    expect(epsilons[2]).toBeGreaterThan(epsilons[1]!);
    expect(ledger.entries.map((e) => [e.round, e.mechanism, e.queries, e.answered, e.epsilonAfter, e.at])).toEqual([
      [1, 'gnmax', 100, 100, epsilons[0], '2026-11-25T12:00:01.000Z'],
      [2, 'gnmax', 100, 100, epsilons[1], '2026-11-25T12:00:02.000Z'],
      [3, 'gnmax', 100, 100, epsilons[2], '2026-11-25T12:00:03.000Z'],
    ]);
  });

  it('converts with the classic bound by hand: epsilon = rdp + log(1/delta) / (alpha - 1) at a single order', () => {
    const ledger = PrivacyLedger.load(file, { orders: [32], conversion: 'classic' });
    const sigma = 10;
    ledger.charge(1, rdpGaussian(sigma, [32]).map((r) => r * 50), details);
    expect(ledger.epsilon(DELTA)).toBeCloseTo((50 * 32) / (2 * sigma * sigma) + Math.log(1 / DELTA) / 31, 10);
  });

  it('takes a charge that names its orders, and refuses one on other orders', () => {
    const ledger = PrivacyLedger.load(file, { orders: [2, 8, 32] });
    expect(ledger.charge(1, { orders: [2, 8, 32], rdp: [0.1, 0.4, 1.6] }, details).ok).toBe(true);
    const round = new RdpAccountant([2, 8, 32]).compose(rdpGaussian(5, [2, 8, 32]), { count: 10 });
    expect(ledger.charge(3, round, details).ok).toBe(true);
    expect(ledger.charge(4, round.toJSON(), details).ok).toBe(true);
    expect(ledger.rdp).toEqual([0.1, 0.4, 1.6].map((r, j) => r + 2 * round.rdp[j]!));
    expectLedgerError(() => ledger.charge(2, { orders: [2, 8, 64], rdp: [0.1, 0.4, 3.2] }, details), 'ORDERS_MISMATCH', /orders \[2, 8, 64\]/);
    expectLedgerError(() => ledger.charge(2, [0.1, 0.4], details), 'ORDERS_MISMATCH', /2 values.*3 orders/);
    expect(ledger.entries).toHaveLength(3);
  });

  it('survives a restart: a new instance on the same path sees the same spend and entries', () => {
    const first = PrivacyLedger.load(file);
    first.charge(1, gnmaxRounds(30, 200), { ...details, queries: 200, answered: 200 });
    first.charge(2, gnmaxRounds(30, 150), { ...details, mechanism: 'confident-gnmax', queries: 200, answered: 150 });
    const second = PrivacyLedger.load(file);
    expect(second.rdp).toEqual(first.rdp);
    expect(second.entries).toEqual(first.entries);
    expect(second.epsilon(DELTA)).toBe(first.epsilon(DELTA));
    expect(second.accountant().toJSON()).toEqual({ orders: [...DEFAULT_ORDERS], rdp: [...first.rdp], dataDependent: false });
    expect(second.basis).toBe('data-independent');
    expect(second.charge(3, gnmaxRounds(30, 10), details).ok).toBe(true);
    expect(PrivacyLedger.load(file).entries.map((e) => e.round)).toEqual([1, 2, 3]);
  });

  it('refuses a round beyond the budget with a reason naming the round and the numbers, and writes nothing', () => {
    const ledger = PrivacyLedger.load(file);
    const perRound = gnmaxRounds(40, 100);
    for (let round = 1; round <= 6; round++) ledger.charge(round, perRound, details);
    const spent = ledger.epsilon(DELTA);
    const next = ledger.check(perRound, Infinity, DELTA, 7);
    expect(next.ok).toBe(true);
    const budget = Number(((spent + next.epsilonAfter) / 2).toFixed(2)); // between spent and after
    expect(budget).toBeGreaterThan(spent);
    expect(budget).toBeLessThan(next.epsilonAfter);

    const verdict = ledger.check(perRound, budget, DELTA, 7);
    expect(verdict.ok).toBe(false);
    if (verdict.ok) return;
    expect(verdict.code).toBe('OVER_BUDGET');
    const match = /^round 7 would spend epsilon ([\d.]+) > budget ([\d.]+) \(spent ([\d.]+) at delta 0\.00001\)$/.exec(verdict.reason);
    expect(match, verdict.reason).not.toBeNull();
    expect(Number(match![1])).toBeCloseTo(next.epsilonAfter, 2);
    expect(Number(match![2])).toBe(budget);
    expect(Number(match![3])).toBeCloseTo(spent, 2);

    const before = fs.readFileSync(file, 'utf8');
    const refused = ledger.charge(7, perRound, { ...details, epsilonMax: budget });
    expect(refused).toEqual({ ok: false, code: 'OVER_BUDGET', reason: verdict.reason });
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    expect(ledger.epsilon(DELTA)).toBe(spent);
    // within budget, the same round goes through
    expect(ledger.charge(7, perRound, { ...details, epsilonMax: next.epsilonAfter }).ok).toBe(true);
  });

  it('a client at its budget refuses the next round, whatever its size', () => {
    const ledger = PrivacyLedger.load(file);
    ledger.charge(1, gnmaxRounds(20, 100), details);
    const atBudget = ledger.epsilon(DELTA);
    const verdict = ledger.check(gnmaxRounds(1000, 1), atBudget, DELTA, 2);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.reason).toMatch(/^round 2 would spend epsilon .* > budget .*\(spent /);
  });

  it('refuses a second charge for the same round, also after a restart, and does not change the spend', () => {
    const ledger = PrivacyLedger.load(file);
    const perRound = gnmaxRounds(40, 100);
    expect(ledger.charge(4, perRound, details).ok).toBe(true);
    const spent = ledger.epsilon(DELTA);
    const again = ledger.charge(4, perRound, details);
    expect(again.ok).toBe(false);
    expect(!again.ok && again.code).toBe('ALREADY_CHARGED');
    expect(!again.ok && again.reason).toMatch(/round 4 is already charged/);
    expect(ledger.check(perRound, Infinity, DELTA, 4).ok).toBe(false);
    expect(ledger.hasCharged(4)).toBe(true);
    expect(ledger.entryFor(4)?.epsilonAfter).toBe(spent);

    const restarted = PrivacyLedger.load(file);
    const retry = restarted.charge(4, perRound, details);
    expect(!retry.ok && retry.code).toBe('ALREADY_CHARGED');
    expect(restarted.epsilon(DELTA)).toBe(spent);
    expect(restarted.entries).toHaveLength(1);
  });

  it('writes the file with mode 0600 whatever the umask, and leaves no temporary file', () => {
    const previous = process.umask(0o000);
    try {
      const ledger = PrivacyLedger.load(file);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      ledger.charge(1, gnmaxRounds(40, 10), details);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
    expect(fs.readdirSync(path.dirname(file))).toEqual(['privacy-ledger.json']);
  });

  it('a corrupt file is a clear error naming the path, and is left as it was', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const cases: [string, RegExp][] = [
      ['', /the file is empty/],
      ['{"format": "fedkd-privacy-ledger/v1", "accountant": ', /not JSON/],
      ['[1, 2, 3]', /not a JSON object/],
      [JSON.stringify({ format: 'something-else', accountant: { orders: [2], rdp: [0] }, entries: [] }), /format is "something-else"/],
      [JSON.stringify({ format: PRIVACY_LEDGER_FORMAT, accountant: { orders: [2], rdp: [-1] }, entries: [] }), /"accountant": .*got -1 at order 2/],
    ];
    for (const [text, detail] of cases) {
      fs.writeFileSync(file, text);
      expectLedgerError(() => PrivacyLedger.load(file), 'CORRUPT', new RegExp(`privacy ledger ${escape(file)} is corrupt: .*${detail.source}`));
      expect(fs.readFileSync(file, 'utf8')).toBe(text);
    }
  });

  it('detects a tampered cumulative RDP or a duplicated round', () => {
    const ledger = PrivacyLedger.load(file, { orders: [2, 8] });
    ledger.charge(1, [0.5, 2], details);
    ledger.charge(2, [0.5, 2], details);
    const document = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...document, accountant: { orders: [2, 8], rdp: [0.5, 2] } }));
    expectLedgerError(() => PrivacyLedger.load(file), 'CORRUPT', /cumulative RDP at order 2 is 0\.5, but its entries add up to 1/);
    document.entries[1].round = 1;
    fs.writeFileSync(file, JSON.stringify(document));
    expectLedgerError(() => PrivacyLedger.load(file), 'CORRUPT', /round 1 is charged twice/);
  });

  it('charges on the latest file, so another instance\'s spend counts against the budget instead of being overwritten', () => {
    const a = PrivacyLedger.load(file);
    const b = PrivacyLedger.load(file);
    const cost = gnmaxRounds(40, 10);
    const probe = PrivacyLedger.load(path.join(dir, 'probe.json'));
    const oneRound = probe.check(cost, Infinity, DELTA).epsilonAfter;
    const twoRounds = probe.check(cost.map((r) => 2 * r), Infinity, DELTA).epsilonAfter;
    const budget = { ...details, epsilonMax: (oneRound + twoRounds) / 2 }; // room for exactly one round
    expect(a.charge(1, cost, budget).ok).toBe(true);
    expect(b.charge(1, cost, budget)).toMatchObject({ ok: false, code: 'ALREADY_CHARGED' });
    expect(b.charge(2, cost, budget)).toMatchObject({ ok: false, code: 'OVER_BUDGET' });
    expect(b.entries.map((e) => e.round)).toEqual([1]);
    expect(PrivacyLedger.load(file).entries.map((e) => e.round)).toEqual([1]);
  });

  it('refuses to recreate a ledger removed under an open instance', () => {
    const a = PrivacyLedger.load(file);
    fs.rmSync(file);
    expectLedgerError(() => a.charge(1, gnmaxRounds(40, 10), details), 'STALE', /was removed/);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('fails with LOCKED naming the ledger when another process holds its lock past the wait', () => {
    const ledger = PrivacyLedger.load(file, { lockWaitMs: 100 });
    fs.mkdirSync(ledgerLockPath(file)); // a fresh lock, as a live holder keeps it
    try {
      expectLedgerError(() => ledger.charge(1, gnmaxRounds(40, 10), details), 'LOCKED', new RegExp(`privacy ledger ${file} is locked by another process`));
    } finally {
      fs.rmdirSync(ledgerLockPath(file));
    }
    expect(PrivacyLedger.load(file).entries).toEqual([]);
  });

  it('rejects a lock wait that is not a finite number of milliseconds >= 0', () => {
    for (const lockWaitMs of [-1, Number.NaN, Infinity]) {
      expect(() => PrivacyLedger.load(file, { lockWaitMs })).toThrow(/lockWaitMs must be a finite number of milliseconds >= 0/);
    }
  });

  it('takes over a lock left by a crashed process once it is stale', () => {
    const ledger = PrivacyLedger.load(file);
    fs.mkdirSync(ledgerLockPath(file));
    const old = new Date(Date.now() - LEDGER_LOCK_STALE_MS - 60_000);
    fs.utimesSync(ledgerLockPath(file), old, old);
    expect(ledger.charge(1, gnmaxRounds(40, 10), details).ok).toBe(true);
    expect(fs.existsSync(ledgerLockPath(file))).toBe(false);
  });

  it('records a noise-free release as infinite epsilon, which only an infinite budget allows', () => {
    const ledger = PrivacyLedger.load(file, { orders: [2, 8] });
    const noiseFree = rdpGaussian(0, [2, 8]);
    expect(ledger.check(noiseFree, 1e6, DELTA, 1).ok).toBe(false);
    expect(ledger.charge(1, noiseFree, { ...details, epsilonMax: Infinity }).ok).toBe(true);
    expect(ledger.epsilon(DELTA)).toBe(Infinity);
    expect(PrivacyLedger.load(file).epsilon(DELTA)).toBe(Infinity);
  });

  it('marks the spend unsanitised once a data-dependent charge is recorded, also after a restart', () => {
    const ledger = PrivacyLedger.load(file);
    ledger.charge(1, gnmaxRounds(40, 10), details);
    expect(ledger.basis).toBe('data-independent');
    ledger.charge(2, gnmaxRounds(80, 10), { ...details, dataDependent: true });
    expect(ledger.basis).toBe('data-dependent-unsanitised');
    const restarted = PrivacyLedger.load(file);
    expect(restarted.basis).toBe('data-dependent-unsanitised');
    expect(restarted.entries.map((e) => e.dataDependent)).toEqual([false, true]);
  });

  it('refuses bad arguments', () => {
    const ledger = PrivacyLedger.load(file);
    const rdp = gnmaxRounds(40, 1);
    expect(() => ledger.epsilon(0)).toThrow(/delta/);
    expect(() => ledger.check(rdp, -1, DELTA)).toThrow(/epsilonMax/);
    expect(() => ledger.charge(-1, rdp, details)).toThrow(/round/);
    expect(() => ledger.charge(1, rdp, { ...details, answered: 101 })).toThrow(/answered <= queries/);
    expect(() => ledger.charge(1, rdp.map(() => Number.NaN), details)).toThrow(/RDP charge/);
    expect(ledger.entries).toEqual([]);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
