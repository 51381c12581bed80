import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_ORDERS, epsilonFromRdpClassic } from '@fedkd/privacy';
import type { PrivacySpec } from '@fedkd/protocol';
import { connectDatabase, openDatabase, type CoordinatorDatabase } from '../persistence/coordinator-database';
import { applyMigrations, MIGRATIONS } from '../persistence/migrations';
import { DATABASE_KINDS, makeManualClock, openTestDatabase, TEST_MLP, testDatabaseLocation } from '../persistence/persistence.testing';
import type { ParticipantStatus } from '../persistence/rounds.repository';
import { SqlClientsRepository } from '../persistence/sql-clients.repository';
import { SqlRoundsRepository } from '../persistence/sql-rounds.repository';
import { chargePrivateRound, readClientCurve, recomputeClientCurve } from './privacy-curves';
import { clientPrivacy, roundPrivacyMetrics } from './privacy-report';

const GNMAX: PrivacySpec = { mechanism: 'gnmax', sigma: 40, delta: 1e-5 };
const CONFIDENT: PrivacySpec = { mechanism: 'confident-gnmax', threshold: 150, sigma1: 120, sigma2: 40, delta: 1e-5 };
const GAUSSIAN: PrivacySpec = { mechanism: 'gaussian', clipNorm: 1, sigma: 8, delta: 1e-5 };

/** A round as RoundsService stores it: the config it records, then its participants with the charge, in one transaction. */
interface StoredRound {
  privacy: PrivacySpec | null;
  size: number;
  outcome: Record<string, ParticipantStatus>;
  state: 'published' | 'failed';
}

const ROUNDS: StoredRound[] = [
  { privacy: GNMAX, size: 50, outcome: { a: 'answered', b: 'answered', c: 'dropped' }, state: 'published' },
  { privacy: null, size: 80, outcome: { a: 'answered', b: 'answered', c: 'answered' }, state: 'published' },
  { privacy: CONFIDENT, size: 30, outcome: { a: 'answered', b: 'rejected', c: 'answered' }, state: 'published' },
  // Failed after collecting: its answered client still spent privacy.
  { privacy: GAUSSIAN, size: 20, outcome: { a: 'dropped', b: 'answered', c: 'not-needed' }, state: 'failed' },
  { privacy: GNMAX, size: 64, outcome: { a: 'answered', b: 'answered', c: 'answered' }, state: 'published' },
];

describe.each(DATABASE_KINDS)('running per-client privacy curves on %s', (kind) => {
  let db: CoordinatorDatabase;
  let ids: Record<string, string>;

  beforeEach(async () => {
    db = await openTestDatabase(kind, { now: makeManualClock().now });
    ids = {};
    for (const name of ['a', 'b', 'c', 'd']) ids[name] = (await db.clients.upsertOnConnect({ name, architecture: TEST_MLP })).id;
  });

  afterEach(async () => {
    await db.close();
  });

  const runRound = async (round: StoredRound, charge = true): Promise<number> => {
    const number = (await db.rounds.create({ config: { privacy: round.privacy, proxy: { kind: 'public', size: round.size } } })).number;
    const answered = Object.entries(round.outcome).filter(([, s]) => s === 'answered').map(([name]) => ids[name]);
    await db.transaction(async (tx) => {
      if (charge && round.privacy) await chargePrivateRound(tx, number, answered, round.privacy, round.size);
      for (const [name, status] of Object.entries(round.outcome)) await tx.rounds.upsertParticipant({ round: number, clientId: ids[name], status });
    });
    await db.rounds.updateState(number, round.state === 'published' ? 'collecting' : 'failed');
    return number;
  };

  const runRounds = async (rounds: readonly StoredRound[]) => {
    for (const round of rounds) await runRound(round);
  };

  it('equals the full recomputation for every client after several private rounds, failed ones included', async () => {
    await runRounds(ROUNDS);
    for (const name of ['a', 'b', 'c', 'd']) {
      const oracle = await recomputeClientCurve(db.rounds, ids[name]);
      const running = await readClientCurve(db, ids[name]);
      expect(running.orders).toEqual([...DEFAULT_ORDERS]);
      expect(running.privateRounds).toBe(oracle.privateRounds);
      expect(running.throughRound).toBe(oracle.throughRound);
      running.rdp.forEach((r, i) => expect(r).toBeCloseTo(oracle.rdp[i], 12));
      const epsilon = oracle.privateRounds === 0 ? 0 : epsilonFromRdpClassic(DEFAULT_ORDERS, oracle.rdp, 1e-5).epsilon;
      expect((await clientPrivacy(db, ids[name], 1e-5)).epsilon).toBeCloseTo(epsilon, 10);
    }
    // a: rounds 1, 3, 5; b: 1, 4, 5; c: 3, 5; d: none.
    const privateRounds = [];
    for (const n of ['a', 'b', 'c', 'd']) privateRounds.push((await clientPrivacy(db, ids[n], 1e-5)).privateRounds);
    expect(privateRounds).toEqual([3, 3, 2, 0]);
    expect(await clientPrivacy(db, ids.d, 1e-5)).toEqual({ clientId: ids.d, epsilon: 0, epsilonBalle2020: 0, privateRounds: 0, accounting: 'data-independent' });
  });

  it('reads one stored curve per client and never scans the rounds (GET /clients, round metrics)', async () => {
    await runRounds(ROUNDS);
    const list = vi.spyOn(db.rounds, 'list');
    const get = vi.spyOn(db.rounds, 'get');
    const curves = vi.spyOn(db.privacyCurves, 'get');
    for (const name of ['a', 'b', 'c', 'd']) await clientPrivacy(db, ids[name], 1e-5);
    expect(curves).toHaveBeenCalledTimes(4);
    const metrics = await roundPrivacyMetrics(db, 5, [ids.a, ids.b, ids.c], GNMAX, 64);
    expect(curves).toHaveBeenCalledTimes(7);
    expect(list).not.toHaveBeenCalled();
    expect(get).not.toHaveBeenCalled();
    expect(metrics.cumulativeEpsilonByClient[ids.a]).toBe((await clientPrivacy(db, ids.a, 1e-5)).epsilon);
    const epsilons = [];
    for (const id of [ids.a, ids.b, ids.c]) epsilons.push((await clientPrivacy(db, id, 1e-5)).epsilon);
    expect(metrics.releaseEpsilon).toBe(Math.max(...epsilons));
  });

  it('recomputes a curve stored on another order grid once, and charges the next round on top without counting any round twice', async () => {
    await runRounds(ROUNDS.slice(0, 3));
    // As a release with a coarser grid would have left it.
    await db.privacyCurves.save({ clientId: ids.a, orders: [2, 3], rdp: [0.5, 0.7], privateRounds: 2, throughRound: 3 });
    await runRound(ROUNDS[4]);
    const oracle = await recomputeClientCurve(db.rounds, ids.a);
    expect(oracle.privateRounds).toBe(3);
    const stored = (await db.privacyCurves.get(ids.a))!;
    expect(stored.orders).toEqual([...DEFAULT_ORDERS]);
    expect(stored.privateRounds).toBe(3);
    stored.rdp.forEach((r, i) => expect(r).toBeCloseTo(oracle.rdp[i], 12));

    await db.privacyCurves.save({ clientId: ids.b, orders: [2, 3], rdp: [0.5, 0.7], privateRounds: 9, throughRound: 4 });
    const list = vi.spyOn(db.rounds, 'list');
    expect((await clientPrivacy(db, ids.b, 1e-5)).privateRounds).toBe(2);
    expect(list).toHaveBeenCalledTimes(1);
    await clientPrivacy(db, ids.b, 1e-5);
    expect(list).toHaveBeenCalledTimes(1);
  });

  it('refuses to charge a round twice to the same client', async () => {
    const number = await runRound(ROUNDS[0]);
    await expect(chargePrivateRound(db, number, [ids.a], GNMAX, 50)).rejects.toThrow(`privacy curve of client ${ids.a}: round 1 is already charged`);
  });

  it('refuses to store a curve whose RDP values do not match its orders', async () => {
    await expect(db.privacyCurves.save({ clientId: ids.a, orders: [2, 3], rdp: [1], privateRounds: 1, throughRound: 1 })).rejects.toThrow(
      `privacy curve of client ${ids.a}: 1 RDP values for 2 orders`,
    );
  });

  it('keeps an RDP of Infinity (an order where the mechanism has no bound) exactly', async () => {
    await db.privacyCurves.save({ clientId: ids.a, orders: [2, 3], rdp: [0.25, Infinity], privateRounds: 1, throughRound: 1 });
    expect(await db.privacyCurves.get(ids.a)).toEqual({ clientId: ids.a, orders: [2, 3], rdp: [0.25, Infinity], privateRounds: 1, throughRound: 1 });
  });
});

describe.each(DATABASE_KINDS)('migration 7 on %s', (kind) => {
  it('backfills the running curves of a database written before it from its stored rounds', async () => {
    const { location, remove } = await testDatabaseLocation(kind);
    try {
      const raw = connectDatabase(location);
      const ids: string[] = [];
      try {
        await applyMigrations(raw, kind, MIGRATIONS.slice(0, 6));
        const clients = new SqlClientsRepository(raw, Date.now);
        const rounds = new SqlRoundsRepository(raw, Date.now);
        for (const name of ['a', 'b', 'c']) ids.push((await clients.upsertOnConnect({ name, architecture: TEST_MLP })).id);
        for (const round of ROUNDS) {
          const number = (await rounds.create({ config: { privacy: round.privacy, proxy: { kind: 'public', size: round.size } } })).number;
          for (const [name, status] of Object.entries(round.outcome)) await rounds.upsertParticipant({ round: number, clientId: ids['abc'.indexOf(name)], status });
        }
      } finally {
        await raw.destroy();
      }

      const db = await openDatabase(location);
      try {
        expect(db.schemaVersion).toBe(MIGRATIONS.length);
        expect((await db.privacyCurves.list()).map((c) => [c.clientId, c.privateRounds])).toEqual(
          ids.map((id, i) => [id, [3, 3, 2][i]]).sort((x, y) => (String(x[0]) < String(y[0]) ? -1 : 1)),
        );
        for (const id of ids) {
          const oracle = await recomputeClientCurve(db.rounds, id);
          expect(await db.privacyCurves.get(id)).toEqual(oracle);
        }
      } finally {
        await db.close();
      }
    } finally {
      remove();
    }
  });
});
