import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_ORDERS, epsilonFromRdpClassic } from '@fedkd/privacy';
import type { PrivacySpec } from '@fedkd/protocol';
import { openDatabase, type CoordinatorDatabase } from '../persistence/coordinator-database';
import { applyMigrations, MIGRATIONS } from '../persistence/migrations';
import { makeManualClock, makeTempDir, TEST_MLP } from '../persistence/persistence.testing';
import type { ParticipantStatus } from '../persistence/rounds.repository';
import { SqliteClientsRepository } from '../persistence/sqlite-clients.repository';
import { SqliteRoundsRepository } from '../persistence/sqlite-rounds.repository';
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

describe('running per-client privacy curves', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let db: CoordinatorDatabase;
  let ids: Record<string, string>;

  beforeEach(() => {
    temp = makeTempDir();
    db = openDatabase(temp.file('coordinator.sqlite'), { now: makeManualClock().now });
    ids = Object.fromEntries(['a', 'b', 'c', 'd'].map((name) => [name, db.clients.upsertOnConnect({ name, architecture: TEST_MLP }).id]));
  });

  afterEach(() => {
    db.close();
    temp.remove();
  });

  const runRound = (round: StoredRound, charge = true): number => {
    const number = db.rounds.create({ config: { privacy: round.privacy, proxy: { kind: 'public', size: round.size } } }).number;
    const answered = Object.entries(round.outcome).filter(([, s]) => s === 'answered').map(([name]) => ids[name]);
    db.transaction(() => {
      if (charge && round.privacy) chargePrivateRound(db, number, answered, round.privacy, round.size);
      for (const [name, status] of Object.entries(round.outcome)) db.rounds.upsertParticipant({ round: number, clientId: ids[name], status });
    });
    db.rounds.updateState(number, round.state === 'published' ? 'collecting' : 'failed');
    return number;
  };

  it('equals the full recomputation for every client after several private rounds, failed ones included', () => {
    ROUNDS.forEach((round) => runRound(round));
    for (const name of ['a', 'b', 'c', 'd']) {
      const oracle = recomputeClientCurve(db.rounds, ids[name]);
      const running = readClientCurve(db, ids[name]);
      expect(running.orders).toEqual([...DEFAULT_ORDERS]);
      expect(running.privateRounds).toBe(oracle.privateRounds);
      expect(running.throughRound).toBe(oracle.throughRound);
      running.rdp.forEach((r, i) => expect(r).toBeCloseTo(oracle.rdp[i], 12));
      const epsilon = oracle.privateRounds === 0 ? 0 : epsilonFromRdpClassic(DEFAULT_ORDERS, oracle.rdp, 1e-5).epsilon;
      expect(clientPrivacy(db, ids[name], 1e-5).epsilon).toBeCloseTo(epsilon, 10);
    }
    // a: rounds 1, 3, 5; b: 1, 4, 5; c: 3, 5; d: none.
    expect(['a', 'b', 'c', 'd'].map((n) => clientPrivacy(db, ids[n], 1e-5).privateRounds)).toEqual([3, 3, 2, 0]);
    expect(clientPrivacy(db, ids.d, 1e-5)).toEqual({ clientId: ids.d, epsilon: 0, epsilonBalle2020: 0, privateRounds: 0, accounting: 'data-independent' });
  });

  it('reads one stored curve per client and never scans the rounds (GET /clients, round metrics)', () => {
    ROUNDS.forEach((round) => runRound(round));
    const list = vi.spyOn(db.rounds, 'list');
    const get = vi.spyOn(db.rounds, 'get');
    const curves = vi.spyOn(db.privacyCurves, 'get');
    for (const name of ['a', 'b', 'c', 'd']) clientPrivacy(db, ids[name], 1e-5);
    expect(curves).toHaveBeenCalledTimes(4);
    const metrics = roundPrivacyMetrics(db, 5, [ids.a, ids.b, ids.c], GNMAX, 64);
    expect(curves).toHaveBeenCalledTimes(7);
    expect(list).not.toHaveBeenCalled();
    expect(get).not.toHaveBeenCalled();
    expect(metrics.cumulativeEpsilonByClient[ids.a]).toBe(clientPrivacy(db, ids.a, 1e-5).epsilon);
    expect(metrics.releaseEpsilon).toBe(Math.max(...[ids.a, ids.b, ids.c].map((id) => clientPrivacy(db, id, 1e-5).epsilon)));
  });

  it('recomputes a curve stored on another order grid once, and charges the next round on top without counting any round twice', () => {
    ROUNDS.slice(0, 3).forEach((round) => runRound(round));
    // As a release with a coarser grid would have left it.
    db.privacyCurves.save({ clientId: ids.a, orders: [2, 3], rdp: [0.5, 0.7], privateRounds: 2, throughRound: 3 });
    runRound(ROUNDS[4]);
    const oracle = recomputeClientCurve(db.rounds, ids.a);
    expect(oracle.privateRounds).toBe(3);
    const stored = db.privacyCurves.get(ids.a)!;
    expect(stored.orders).toEqual([...DEFAULT_ORDERS]);
    expect(stored.privateRounds).toBe(3);
    stored.rdp.forEach((r, i) => expect(r).toBeCloseTo(oracle.rdp[i], 12));

    db.privacyCurves.save({ clientId: ids.b, orders: [2, 3], rdp: [0.5, 0.7], privateRounds: 9, throughRound: 4 });
    const list = vi.spyOn(db.rounds, 'list');
    expect(clientPrivacy(db, ids.b, 1e-5).privateRounds).toBe(2);
    expect(list).toHaveBeenCalledTimes(1);
    clientPrivacy(db, ids.b, 1e-5);
    expect(list).toHaveBeenCalledTimes(1);
  });

  it('refuses to charge a round twice to the same client', () => {
    const number = runRound(ROUNDS[0]);
    expect(() => chargePrivateRound(db, number, [ids.a], GNMAX, 50)).toThrow(`privacy curve of client ${ids.a}: round 1 is already charged`);
  });

  it('refuses to store a curve whose RDP values do not match its orders', () => {
    expect(() => db.privacyCurves.save({ clientId: ids.a, orders: [2, 3], rdp: [1], privateRounds: 1, throughRound: 1 })).toThrow(
      `privacy curve of client ${ids.a}: 1 RDP values for 2 orders`,
    );
  });
});

describe('migration 7', () => {
  it('backfills the running curves of a database written before it from its stored rounds', () => {
    const temp = makeTempDir();
    try {
      const path = temp.file('coordinator.sqlite');
      const raw = new Database(path);
      raw.pragma('foreign_keys = ON');
      applyMigrations(raw, MIGRATIONS.slice(0, 6));
      const clients = new SqliteClientsRepository(raw, Date.now);
      const rounds = new SqliteRoundsRepository(raw, Date.now);
      const ids = ['a', 'b', 'c'].map((name) => clients.upsertOnConnect({ name, architecture: TEST_MLP }).id);
      ROUNDS.forEach((round) => {
        const number = rounds.create({ config: { privacy: round.privacy, proxy: { kind: 'public', size: round.size } } }).number;
        Object.entries(round.outcome).forEach(([name, status]) => rounds.upsertParticipant({ round: number, clientId: ids['abc'.indexOf(name)], status }));
      });
      raw.close();

      const db = openDatabase(path);
      try {
        expect(db.schemaVersion).toBe(MIGRATIONS.length);
        expect(db.privacyCurves.list().map((c) => [c.clientId, c.privateRounds])).toEqual(
          ids.map((id, i) => [id, [3, 3, 2][i]]).sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
        );
        for (const id of ids) {
          const oracle = recomputeClientCurve(db.rounds, id);
          expect(db.privacyCurves.get(id)).toEqual(oracle);
        }
      } finally {
        db.close();
      }
    } finally {
      temp.remove();
    }
  });
});
