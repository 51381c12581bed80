import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type CoordinatorDatabase } from './coordinator-database';
import { makeManualClock, makeTempDir, TEST_MLP } from './persistence.testing';
import { INTERRUPTED_ROUND_REASON } from './rounds.repository';

const CONFIG = {
  aggregation: { name: 'trimmed-mean', trim: 0.1 },
  loss: { name: 'response', temperature: 3 },
  temperature: 3,
  proxy: { kind: 'public', splitSeed: 0, size: 2000 },
  minClients: 2,
  deadline: 1_700_000_120_000,
  encoding: 'float16',
};

describe('SqliteRoundsRepository', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let clock: ReturnType<typeof makeManualClock>;
  let db: CoordinatorDatabase;

  beforeEach(() => {
    temp = makeTempDir();
    clock = makeManualClock();
    db = openDatabase(temp.file('coordinator.sqlite'), { now: clock.now });
  });

  afterEach(() => {
    db.close();
    temp.remove();
  });

  const client = (name: string) => db.clients.upsertOnConnect({ name, architecture: TEST_MLP }).id;

  describe('creating rounds', () => {
    it('numbers rounds from 1 and continues after the last one', () => {
      expect(db.rounds.nextRoundNumber()).toBe(1);
      expect(db.rounds.create({ config: CONFIG }).number).toBe(1);
      expect(db.rounds.nextRoundNumber()).toBe(2);
      expect(db.rounds.create({ number: 2, config: CONFIG }).number).toBe(2);
      expect(db.rounds.create({ number: 7, config: CONFIG }).number).toBe(7);
      expect(db.rounds.nextRoundNumber()).toBe(8);
    });

    it('stores a new round as open, with its config and its first transition', () => {
      const created = db.rounds.create({ config: CONFIG });
      expect(created).toEqual({
        number: 1,
        state: 'open',
        reason: null,
        config: CONFIG,
        openedAt: clock.t,
        closedAt: null,
        metrics: null,
        timings: null,
      });
      expect(db.rounds.get(1)).toEqual({
        ...created,
        participants: [],
        transitions: [{ from: null, to: 'open', reason: null, at: clock.t }],
      });
    });

    it('refuses a round number that exists or goes backwards', () => {
      db.rounds.create({ number: 3, config: CONFIG });
      expect(() => db.rounds.create({ number: 3, config: CONFIG })).toThrow('round 3 already exists');
      expect(() => db.rounds.create({ number: 2, config: CONFIG })).toThrow(/round numbers increase: 2 does not come after the last round 3/);
      expect(() => db.rounds.create({ number: 0, config: CONFIG })).toThrow(/positive integer/);
      expect(db.rounds.count()).toBe(1);
    });

    it('refuses a config JSON would silently change', () => {
      expect(() => db.rounds.create({ config: { temperature: Number.NaN } })).toThrow('config of round 1.temperature is NaN');
      expect(() => db.rounds.create({ config: { weights: new Map() } })).toThrow(/is a Map, not a plain object/);
      expect(() => db.rounds.create({ config: [1, 2] })).toThrow(/must be a plain JSON object/);
      expect(db.rounds.count()).toBe(0);
    });

    it('answers null for a round that does not exist', () => {
      expect(db.rounds.get(42)).toBeNull();
    });
  });

  describe('state changes', () => {
    it('records every transition with its time and reason, and closes the round in a terminal state', () => {
      const openedAt = clock.t;
      db.rounds.create({ config: CONFIG });
      clock.advance(10);
      db.rounds.updateState(1, 'collecting');
      clock.advance(20);
      db.rounds.updateState(1, 'aggregating');
      clock.advance(30);
      const failed = db.rounds.updateState(1, 'failed', 'only 1 of the 2 required clients answered');
      expect(failed).toMatchObject({ state: 'failed', reason: 'only 1 of the 2 required clients answered', closedAt: openedAt + 60 });
      expect(db.rounds.get(1)!.transitions).toEqual([
        { from: null, to: 'open', reason: null, at: openedAt },
        { from: 'open', to: 'collecting', reason: null, at: openedAt + 10 },
        { from: 'collecting', to: 'aggregating', reason: null, at: openedAt + 30 },
        { from: 'aggregating', to: 'failed', reason: 'only 1 of the 2 required clients answered', at: openedAt + 60 },
      ]);
    });

    it('never lets a terminal round change again', () => {
      db.rounds.create({ config: CONFIG });
      db.rounds.updateState(1, 'cancelled', 'operator asked');
      expect(() => db.rounds.updateState(1, 'collecting')).toThrow('round 1 is already cancelled; it cannot become collecting');
      expect(db.rounds.get(1)!.transitions).toHaveLength(2);
    });

    it('refuses a transition to the state the round is in, and one for an unknown round', () => {
      db.rounds.create({ config: CONFIG });
      expect(() => db.rounds.updateState(1, 'open')).toThrow('round 1 is already open');
      expect(() => db.rounds.updateState(9, 'collecting')).toThrow('no round 9');
    });
  });

  describe('metrics and timings', () => {
    it('stores metrics and timings, leaving timings alone when not given', () => {
      db.rounds.create({ config: CONFIG });
      db.rounds.setMetrics(1, { testAccuracy: 0.91, studentEpochs: 40, invited: 3, answered: 2 }, { collectMs: 812, trainMs: 9120 });
      const updated = db.rounds.setMetrics(1, { testAccuracy: 0.92, studentEpochs: 40, invited: 3, answered: 2 });
      expect(updated.metrics).toEqual({ testAccuracy: 0.92, studentEpochs: 40, invited: 3, answered: 2 });
      expect(updated.timings).toEqual({ collectMs: 812, trainMs: 9120 });
      expect(db.rounds.setMetrics(1, null, null)).toMatchObject({ metrics: null, timings: null });
    });

    it('refuses timings that are not milliseconds, and metrics for an unknown round', () => {
      db.rounds.create({ config: CONFIG });
      expect(() => db.rounds.setMetrics(1, {}, { collectMs: -1 })).toThrow(/phase collectMs must be a non-negative number/);
      expect(() => db.rounds.setMetrics(1, {}, { collectMs: 'fast' })).toThrow(/phase collectMs/);
      expect(() => db.rounds.setMetrics(5, {})).toThrow('no round 5');
    });
  });

  describe('participants', () => {
    it('keeps one row per round and client, updating it as the round goes on', () => {
      const a = client('hospital-a');
      const b = client('hospital-b');
      db.rounds.create({ config: CONFIG });
      db.rounds.upsertParticipants([
        { round: 1, clientId: a, status: 'invited' },
        { round: 1, clientId: b, status: 'invited' },
      ]);
      clock.advance(500);
      const answered = db.rounds.upsertParticipant({ round: 1, clientId: a, status: 'answered', bytesUploaded: 8_000 });
      expect(answered).toEqual({
        round: 1,
        clientId: a,
        clientName: 'hospital-a',
        status: 'answered',
        reason: null,
        bytesUploaded: 8_000,
        answeredAt: clock.t,
      });
      db.rounds.upsertParticipant({ round: 1, clientId: b, status: 'dropped', reason: 'no answer before the deadline' });
      // A later verdict on an answer keeps its size and arrival time.
      clock.advance(100);
      db.rounds.upsertParticipant({ round: 1, clientId: a, status: 'rejected', reason: 'NOT_FINITE' });
      expect(db.rounds.get(1)!.participants).toEqual([
        { ...answered, status: 'rejected', reason: 'NOT_FINITE' },
        { round: 1, clientId: b, clientName: 'hospital-b', status: 'dropped', reason: 'no answer before the deadline', bytesUploaded: 0, answeredAt: null },
      ]);
    });

    it('stores a batch of participants all or nothing: one for a missing round rolls back the others', () => {
      const a = client('hospital-a');
      const b = client('hospital-b');
      db.rounds.create({ config: CONFIG });
      expect(() =>
        db.rounds.upsertParticipants([
          { round: 1, clientId: a, status: 'invited' },
          { round: 2, clientId: b, status: 'invited' },
        ]),
      ).toThrow('participant ' + b + ' of round 2: no round 2');
      expect(db.rounds.get(1)!.participants).toEqual([]);
    });

    it('refuses a participant that is not a known client, or a negative upload size', () => {
      db.rounds.create({ config: CONFIG });
      expect(() => db.rounds.upsertParticipant({ round: 1, clientId: 'c-ghost', status: 'invited' })).toThrow(/no client with id c-ghost/);
      const a = client('hospital-a');
      expect(() => db.rounds.upsertParticipant({ round: 1, clientId: a, status: 'answered', bytesUploaded: -5 })).toThrow(/bytesUploaded/);
      expect(db.rounds.get(1)!.participants).toEqual([]);
    });

    it("stores a 'not-needed' participant (the round closed at its target) and refuses an unknown status below the repository", () => {
      const a = client('hospital-a');
      db.rounds.create({ config: CONFIG });
      expect(db.rounds.upsertParticipant({ round: 1, clientId: a, status: 'not-needed', reason: 'round closed at its target of 2 answers' }).status).toBe('not-needed');
      const insert = db.connection.prepare("INSERT INTO round_participants (round, client_id, status) VALUES (1, ?, 'late')");
      expect(() => insert.run(client('hospital-b'))).toThrow(/CHECK constraint failed/);
    });

    it('counts each client\'s dropped and rejected invitations over the last rounds only', () => {
      const [a, b, c] = [client('hospital-a'), client('hospital-b'), client('hospital-c')];
      for (let round = 1; round <= 4; round++) db.rounds.create({ config: CONFIG });
      db.rounds.upsertParticipants([
        { round: 1, clientId: a, status: 'dropped' },
        { round: 2, clientId: a, status: 'rejected' },
        { round: 3, clientId: a, status: 'dropped' },
        { round: 3, clientId: b, status: 'answered' },
        { round: 4, clientId: b, status: 'dropped' },
        { round: 4, clientId: c, status: 'not-needed' },
        { round: 4, clientId: a, status: 'declined' },
      ]);
      expect(db.rounds.recentFailures(2)).toEqual(new Map([[a, 1], [b, 1]]));
      expect(db.rounds.recentFailures(10)).toEqual(new Map([[a, 3], [b, 1]]));
      expect(db.rounds.recentFailures(0)).toEqual(new Map());
    });

    it('enforces the foreign keys below the repository too', () => {
      const a = client('hospital-a');
      const insert = db.connection.prepare("INSERT INTO round_participants (round, client_id, status) VALUES (?, ?, 'invited')");
      expect(() => insert.run(99, a)).toThrow(/FOREIGN KEY constraint failed/);
    });
  });

  describe('listing', () => {
    it('lists rounds newest first, a page at a time', () => {
      for (let i = 0; i < 5; i++) db.rounds.create({ config: { ...CONFIG, minClients: i } });
      expect(db.rounds.count()).toBe(5);
      expect(db.rounds.list().map((r) => r.number)).toEqual([5, 4, 3, 2, 1]);
      expect(db.rounds.list({ limit: 2 }).map((r) => r.number)).toEqual([5, 4]);
      expect(db.rounds.list({ limit: 2, offset: 2 }).map((r) => r.number)).toEqual([3, 2]);
      expect(db.rounds.list({ limit: 2, offset: 10 })).toEqual([]);
      expect(db.rounds.list()[0]).not.toHaveProperty('participants');
      expect(() => db.rounds.list({ limit: -1 })).toThrow(/limit must be a non-negative integer/);
    });
  });

  describe('markInterrupted', () => {
    it('fails every round that is not terminal, with the restart reason, and leaves the others alone', () => {
      db.rounds.create({ config: CONFIG });
      db.rounds.updateState(1, 'collecting');
      db.rounds.updateState(1, 'aggregating');
      db.rounds.updateState(1, 'training');
      db.rounds.updateState(1, 'published');
      db.rounds.create({ config: CONFIG });
      db.rounds.updateState(2, 'cancelled', 'operator asked');
      db.rounds.create({ config: CONFIG });
      db.rounds.updateState(3, 'collecting');
      db.rounds.create({ config: CONFIG });
      clock.advance(5_000);

      expect(db.rounds.markInterrupted()).toBe(2);

      expect(db.rounds.list().map((r) => [r.number, r.state, r.reason])).toEqual([
        [4, 'failed', INTERRUPTED_ROUND_REASON],
        [3, 'failed', INTERRUPTED_ROUND_REASON],
        [2, 'cancelled', 'operator asked'],
        [1, 'published', null],
      ]);
      expect(db.rounds.get(3)!.closedAt).toBe(clock.t);
      expect(db.rounds.get(3)!.transitions.at(-1)).toEqual({ from: 'collecting', to: 'failed', reason: INTERRUPTED_ROUND_REASON, at: clock.t });
      expect(db.rounds.markInterrupted()).toBe(0);
    });
  });

  describe('reading stored JSON', () => {
    it('names the table, the row and the column of a config that is not valid JSON', () => {
      db.rounds.create({ config: CONFIG });
      db.connection.pragma('ignore_check_constraints = ON');
      db.connection.prepare('UPDATE rounds SET config = ? WHERE number = 1').run('{oops');
      expect(() => db.rounds.get(1)).toThrow(/rounds row number=1, column config holds invalid JSON/);
      expect(() => db.rounds.list()).toThrow(/rounds row number=1, column config/);
    });

    it('names the column of metrics that are JSON but not an object', () => {
      db.rounds.create({ config: CONFIG });
      db.connection.prepare('UPDATE rounds SET metrics = ? WHERE number = 1').run('[0.9]');
      expect(() => db.rounds.get(1)).toThrow('rounds row number=1, column metrics: expected a JSON object');
    });
  });
});
