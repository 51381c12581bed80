import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS, TEST_MLP, useTestDatabase } from './persistence.testing';
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

describe.each(DATABASE_KINDS)('SqlRoundsRepository on %s', (kind) => {
  const t = useTestDatabase(kind);

  const client = async (name: string) => (await t.db.clients.upsertOnConnect({ name, architecture: TEST_MLP })).id;

  /** What each engine says when a statement breaks a constraint. */
  const CHECK_FAILED = kind === 'sqlite' ? /CHECK constraint failed/ : /violates check constraint/;
  const FOREIGN_KEY_FAILED = kind === 'sqlite' ? /FOREIGN KEY constraint failed/ : /violates foreign key constraint/;

  describe('creating rounds', () => {
    it('numbers rounds from 1 and continues after the last one', async () => {
      expect(await t.db.rounds.nextRoundNumber()).toBe(1);
      expect((await t.db.rounds.create({ config: CONFIG })).number).toBe(1);
      expect(await t.db.rounds.nextRoundNumber()).toBe(2);
      expect((await t.db.rounds.create({ number: 2, config: CONFIG })).number).toBe(2);
      expect((await t.db.rounds.create({ number: 7, config: CONFIG })).number).toBe(7);
      expect(await t.db.rounds.nextRoundNumber()).toBe(8);
    });

    it('stores a new round as open, with its config and its first transition', async () => {
      const created = await t.db.rounds.create({ config: CONFIG });
      expect(created).toEqual({
        number: 1,
        state: 'open',
        reason: null,
        config: CONFIG,
        openedAt: t.clock.t,
        closedAt: null,
        metrics: null,
        timings: null,
      });
      expect(await t.db.rounds.get(1)).toEqual({
        ...created,
        participants: [],
        transitions: [{ from: null, to: 'open', reason: null, at: t.clock.t }],
      });
    });

    it('refuses a round number that exists or goes backwards', async () => {
      await t.db.rounds.create({ number: 3, config: CONFIG });
      await expect(t.db.rounds.create({ number: 3, config: CONFIG })).rejects.toThrow('round 3 already exists');
      await expect(t.db.rounds.create({ number: 2, config: CONFIG })).rejects.toThrow(/round numbers increase: 2 does not come after the last round 3/);
      await expect(t.db.rounds.create({ number: 0, config: CONFIG })).rejects.toThrow(/positive integer/);
      expect(await t.db.rounds.count()).toBe(1);
    });

    it('gives every one of several rounds created at once its own number, or ALREADY_EXISTS', async () => {
      const results = await Promise.allSettled(Array.from({ length: 4 }, () => t.db.rounds.create({ config: CONFIG })));
      const numbers = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.number] : []));
      expect(new Set(numbers).size).toBe(numbers.length);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ALREADY_EXISTS' });
      expect(await t.db.rounds.count()).toBe(numbers.length);
    });

    it('refuses a config JSON would silently change', async () => {
      await expect(t.db.rounds.create({ config: { temperature: Number.NaN } })).rejects.toThrow('config of round 1.temperature is NaN');
      await expect(t.db.rounds.create({ config: { weights: new Map() } })).rejects.toThrow(/is a Map, not a plain object/);
      await expect(t.db.rounds.create({ config: [1, 2] })).rejects.toThrow(/must be a plain JSON object/);
      expect(await t.db.rounds.count()).toBe(0);
    });

    it('answers null for a round that does not exist', async () => {
      expect(await t.db.rounds.get(42)).toBeNull();
    });
  });

  describe('state changes', () => {
    it('records every transition with its time and reason, and closes the round in a terminal state', async () => {
      const openedAt = t.clock.t;
      await t.db.rounds.create({ config: CONFIG });
      t.clock.advance(10);
      await t.db.rounds.updateState(1, 'collecting');
      t.clock.advance(20);
      await t.db.rounds.updateState(1, 'aggregating');
      t.clock.advance(30);
      const failed = await t.db.rounds.updateState(1, 'failed', 'only 1 of the 2 required clients answered');
      expect(failed).toMatchObject({ state: 'failed', reason: 'only 1 of the 2 required clients answered', closedAt: openedAt + 60 });
      expect((await t.db.rounds.get(1))!.transitions).toEqual([
        { from: null, to: 'open', reason: null, at: openedAt },
        { from: 'open', to: 'collecting', reason: null, at: openedAt + 10 },
        { from: 'collecting', to: 'aggregating', reason: null, at: openedAt + 30 },
        { from: 'aggregating', to: 'failed', reason: 'only 1 of the 2 required clients answered', at: openedAt + 60 },
      ]);
    });

    it('never lets a terminal round change again', async () => {
      await t.db.rounds.create({ config: CONFIG });
      await t.db.rounds.updateState(1, 'cancelled', 'operator asked');
      await expect(t.db.rounds.updateState(1, 'collecting')).rejects.toThrow('round 1 is already cancelled; it cannot become collecting');
      expect((await t.db.rounds.get(1))!.transitions).toHaveLength(2);
    });

    it('lets only one of two writers racing to close a round do it', async () => {
      await t.db.rounds.create({ config: CONFIG });
      const results = await Promise.allSettled([t.db.rounds.updateState(1, 'failed', 'a'), t.db.rounds.updateState(1, 'cancelled', 'b')]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(refused.reason).toMatchObject({ code: 'ILLEGAL_TRANSITION' });
      expect((await t.db.rounds.get(1))!.transitions).toHaveLength(2);
    });

    it('refuses a transition to the state the round is in, and one for an unknown round', async () => {
      await t.db.rounds.create({ config: CONFIG });
      await expect(t.db.rounds.updateState(1, 'open')).rejects.toThrow('round 1 is already open');
      await expect(t.db.rounds.updateState(9, 'collecting')).rejects.toThrow('no round 9');
    });
  });

  describe('metrics and timings', () => {
    it('stores metrics and timings, leaving timings alone when not given', async () => {
      await t.db.rounds.create({ config: CONFIG });
      await t.db.rounds.setMetrics(1, { testAccuracy: 0.91, studentEpochs: 40, invited: 3, answered: 2 }, { collectMs: 812, trainMs: 9120 });
      const updated = await t.db.rounds.setMetrics(1, { testAccuracy: 0.92, studentEpochs: 40, invited: 3, answered: 2 });
      expect(updated.metrics).toEqual({ testAccuracy: 0.92, studentEpochs: 40, invited: 3, answered: 2 });
      expect(updated.timings).toEqual({ collectMs: 812, trainMs: 9120 });
      expect(await t.db.rounds.setMetrics(1, null, null)).toMatchObject({ metrics: null, timings: null });
    });

    it('refuses timings that are not milliseconds, and metrics for an unknown round', async () => {
      await t.db.rounds.create({ config: CONFIG });
      await expect(t.db.rounds.setMetrics(1, {}, { collectMs: -1 })).rejects.toThrow(/phase collectMs must be a non-negative number/);
      await expect(t.db.rounds.setMetrics(1, {}, { collectMs: 'fast' })).rejects.toThrow(/phase collectMs/);
      await expect(t.db.rounds.setMetrics(5, {})).rejects.toThrow('no round 5');
    });
  });

  describe('participants', () => {
    it('keeps one row per round and client, updating it as the round goes on', async () => {
      const a = await client('hospital-a');
      const b = await client('hospital-b');
      await t.db.rounds.create({ config: CONFIG });
      await t.db.rounds.upsertParticipants([
        { round: 1, clientId: a, status: 'invited' },
        { round: 1, clientId: b, status: 'invited' },
      ]);
      t.clock.advance(500);
      const answered = await t.db.rounds.upsertParticipant({ round: 1, clientId: a, status: 'answered', bytesUploaded: 8_000 });
      expect(answered).toEqual({
        round: 1,
        clientId: a,
        clientName: 'hospital-a',
        status: 'answered',
        reason: null,
        bytesUploaded: 8_000,
        answeredAt: t.clock.t,
      });
      await t.db.rounds.upsertParticipant({ round: 1, clientId: b, status: 'dropped', reason: 'no answer before the deadline' });
      // A later verdict on an answer keeps its size and arrival time.
      t.clock.advance(100);
      await t.db.rounds.upsertParticipant({ round: 1, clientId: a, status: 'rejected', reason: 'NOT_FINITE' });
      expect((await t.db.rounds.get(1))!.participants).toEqual([
        { ...answered, status: 'rejected', reason: 'NOT_FINITE' },
        { round: 1, clientId: b, clientName: 'hospital-b', status: 'dropped', reason: 'no answer before the deadline', bytesUploaded: 0, answeredAt: null },
      ]);
    });

    it('orders participants by client name the same way on every engine (code units, not a locale)', async () => {
      const names = ['b-2', 'B-1', 'a-3', 'Z', '_x'];
      const ids = [];
      for (const name of names) ids.push(await client(name));
      await t.db.rounds.create({ config: CONFIG });
      await t.db.rounds.upsertParticipants(ids.map((clientId) => ({ round: 1, clientId, status: 'invited' as const })));
      expect((await t.db.rounds.get(1))!.participants.map((p) => p.clientName)).toEqual(['B-1', 'Z', '_x', 'a-3', 'b-2']);
    });

    it('stores a batch of participants all or nothing: one for a missing round rolls back the others', async () => {
      const a = await client('hospital-a');
      const b = await client('hospital-b');
      await t.db.rounds.create({ config: CONFIG });
      await expect(
        t.db.rounds.upsertParticipants([
          { round: 1, clientId: a, status: 'invited' },
          { round: 2, clientId: b, status: 'invited' },
        ]),
      ).rejects.toThrow('participant ' + b + ' of round 2: no round 2');
      expect((await t.db.rounds.get(1))!.participants).toEqual([]);
    });

    it('refuses a participant that is not a known client, or a negative upload size', async () => {
      await t.db.rounds.create({ config: CONFIG });
      await expect(t.db.rounds.upsertParticipant({ round: 1, clientId: 'c-ghost', status: 'invited' })).rejects.toThrow(/no client with id c-ghost/);
      const a = await client('hospital-a');
      await expect(t.db.rounds.upsertParticipant({ round: 1, clientId: a, status: 'answered', bytesUploaded: -5 })).rejects.toThrow(/bytesUploaded/);
      expect((await t.db.rounds.get(1))!.participants).toEqual([]);
    });

    it("stores a 'not-needed' participant (the round closed at its target) and refuses an unknown status below the repository", async () => {
      const a = await client('hospital-a');
      await t.db.rounds.create({ config: CONFIG });
      expect((await t.db.rounds.upsertParticipant({ round: 1, clientId: a, status: 'not-needed', reason: 'round closed at its target of 2 answers' })).status).toBe(
        'not-needed',
      );
      const b = await client('hospital-b');
      await expect(t.db.kysely.insertInto('round_participants').values({ round: 1, client_id: b, status: 'late' }).execute()).rejects.toThrow(CHECK_FAILED);
    });

    it("counts each client's dropped and rejected invitations over the last rounds only", async () => {
      const [a, b, c] = [await client('hospital-a'), await client('hospital-b'), await client('hospital-c')];
      for (let round = 1; round <= 4; round++) await t.db.rounds.create({ config: CONFIG });
      await t.db.rounds.upsertParticipants([
        { round: 1, clientId: a, status: 'dropped' },
        { round: 2, clientId: a, status: 'rejected' },
        { round: 3, clientId: a, status: 'dropped' },
        { round: 3, clientId: b, status: 'answered' },
        { round: 4, clientId: b, status: 'dropped' },
        { round: 4, clientId: c, status: 'not-needed' },
        { round: 4, clientId: a, status: 'declined' },
      ]);
      expect(await t.db.rounds.recentFailures(2)).toEqual(new Map([[a, 1], [b, 1]]));
      expect(await t.db.rounds.recentFailures(10)).toEqual(new Map([[a, 3], [b, 1]]));
      expect(await t.db.rounds.recentFailures(0)).toEqual(new Map());
    });

    it('enforces the foreign keys below the repository too', async () => {
      const a = await client('hospital-a');
      await expect(t.db.kysely.insertInto('round_participants').values({ round: 99, client_id: a, status: 'invited' }).execute()).rejects.toThrow(
        FOREIGN_KEY_FAILED,
      );
    });
  });

  describe('listing', () => {
    it('lists rounds newest first, a page at a time', async () => {
      for (let i = 0; i < 5; i++) await t.db.rounds.create({ config: { ...CONFIG, minClients: i } });
      expect(await t.db.rounds.count()).toBe(5);
      expect((await t.db.rounds.list()).map((r) => r.number)).toEqual([5, 4, 3, 2, 1]);
      expect((await t.db.rounds.list({ limit: 2 })).map((r) => r.number)).toEqual([5, 4]);
      expect((await t.db.rounds.list({ limit: 2, offset: 2 })).map((r) => r.number)).toEqual([3, 2]);
      expect(await t.db.rounds.list({ limit: 2, offset: 10 })).toEqual([]);
      expect((await t.db.rounds.list())[0]).not.toHaveProperty('participants');
      await expect(t.db.rounds.list({ limit: -1 })).rejects.toThrow(/limit must be a non-negative integer/);
    });
  });

  describe('markInterrupted', () => {
    it('fails every round that is not terminal, with the restart reason, and leaves the others alone', async () => {
      await t.db.rounds.create({ config: CONFIG });
      await t.db.rounds.updateState(1, 'collecting');
      await t.db.rounds.updateState(1, 'aggregating');
      await t.db.rounds.updateState(1, 'training');
      await t.db.rounds.updateState(1, 'published');
      await t.db.rounds.create({ config: CONFIG });
      await t.db.rounds.updateState(2, 'cancelled', 'operator asked');
      await t.db.rounds.create({ config: CONFIG });
      await t.db.rounds.updateState(3, 'collecting');
      await t.db.rounds.create({ config: CONFIG });
      t.clock.advance(5_000);

      expect(await t.db.rounds.markInterrupted()).toBe(2);

      expect((await t.db.rounds.list()).map((r) => [r.number, r.state, r.reason])).toEqual([
        [4, 'failed', INTERRUPTED_ROUND_REASON],
        [3, 'failed', INTERRUPTED_ROUND_REASON],
        [2, 'cancelled', 'operator asked'],
        [1, 'published', null],
      ]);
      expect((await t.db.rounds.get(3))!.closedAt).toBe(t.clock.t);
      expect((await t.db.rounds.get(3))!.transitions.at(-1)).toEqual({ from: 'collecting', to: 'failed', reason: INTERRUPTED_ROUND_REASON, at: t.clock.t });
      expect(await t.db.rounds.markInterrupted()).toBe(0);
    });
  });

  describe('reading stored JSON', () => {
    it('names the table, the row and the column of a config that is not valid JSON', async () => {
      await t.db.rounds.create({ config: CONFIG });
      if (kind === 'sqlite') {
        await sql`PRAGMA ignore_check_constraints = ON`.execute(t.db.kysely);
      } else {
        // PostgreSQL's json type refuses invalid JSON when it is written...
        await expect(t.db.kysely.updateTable('rounds').set({ config: '{oops' }).where('number', '=', 1).execute()).rejects.toThrow(
          /invalid input syntax for type json/,
        );
        // ...so plant it through a column that no longer is json.
        await sql`ALTER TABLE rounds ALTER COLUMN config TYPE text`.execute(t.db.kysely);
      }
      await t.db.kysely.updateTable('rounds').set({ config: '{oops' }).where('number', '=', 1).execute();
      await expect(t.db.rounds.get(1)).rejects.toThrow(/rounds row number=1, column config holds invalid JSON/);
      await expect(t.db.rounds.list()).rejects.toThrow(/rounds row number=1, column config/);
    });

    it('names the column of metrics that are JSON but not an object', async () => {
      await t.db.rounds.create({ config: CONFIG });
      await t.db.kysely.updateTable('rounds').set({ metrics: '[0.9]' }).where('number', '=', 1).execute();
      await expect(t.db.rounds.get(1)).rejects.toThrow('rounds row number=1, column metrics: expected a JSON object');
    });
  });
});
