import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from './coordinator-database';
import { applyMigrations, appliedMigrations, MIGRATIONS, type Migration } from './migrations';
import { PersistenceError } from './persistence-error';
import { makeManualClock, makeTempDir, TEST_CNN, TEST_MLP } from './persistence.testing';
import { INTERRUPTED_ROUND_REASON } from './rounds.repository';

describe('openDatabase', () => {
  let temp: ReturnType<typeof makeTempDir>;

  beforeEach(() => {
    temp = makeTempDir();
  });

  afterEach(() => {
    temp.remove();
  });

  it('creates the file and its missing parent directories, in WAL mode with foreign keys on', () => {
    const path = join(temp.dir, 'var', 'lib', 'fedkd', 'coordinator.sqlite');
    const db = openDatabase(path);
    expect(existsSync(path)).toBe(true);
    expect(db.path).toBe(path);
    expect(db.connection.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.connection.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.schemaVersion).toBe(MIGRATIONS.length);
    db.close();
    db.close(); // a second close is harmless
  });

  it('supports an in-memory database', () => {
    const db = openDatabase(':memory:');
    db.clients.upsertOnConnect({ name: 'a', architecture: TEST_MLP });
    expect(db.clients.list()).toHaveLength(1);
    expect(db.connection.pragma('foreign_keys', { simple: true })).toBe(1);
    db.close();
  });

  it('keeps clients, rounds (with participants, transitions, metrics, timings) and models across a reopen', () => {
    const path = temp.file('coordinator.sqlite');
    const clock = makeManualClock();
    const blob = Uint8Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) & 0xff);

    const first = openDatabase(path, { now: clock.now });
    const a = first.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP, sampleCount: 1200 });
    const b = first.clients.upsertOnConnect({ name: 'hospital-b', architecture: TEST_CNN });
    first.rounds.create({ config: { aggregation: { name: 'mean' }, temperature: 3, minClients: 2 } });
    first.rounds.upsertParticipants([
      { round: 1, clientId: a.id, status: 'invited' },
      { round: 1, clientId: b.id, status: 'invited' },
    ]);
    clock.advance(100);
    first.rounds.updateState(1, 'collecting');
    first.rounds.upsertParticipant({ round: 1, clientId: a.id, status: 'answered', bytesUploaded: 4000 });
    first.rounds.upsertParticipant({ round: 1, clientId: b.id, status: 'declined', reason: 'privacy budget exhausted' });
    first.rounds.updateState(1, 'aggregating');
    first.rounds.updateState(1, 'training');
    first.transaction(() => {
      first.models.add({ version: 1, round: 1, blob, metrics: { testAccuracy: 0.88 } });
      first.rounds.setMetrics(1, { testAccuracy: 0.88, studentEpochs: 40, invited: 2, answered: 1 }, { collectMs: 100, trainMs: 900 });
      first.rounds.updateState(1, 'published');
    });
    const before = {
      clients: first.clients.list(),
      round: first.rounds.get(1),
      model: first.models.get(1),
    };
    first.close();

    const second = openDatabase(path, { now: clock.now });
    expect(second.clients.list()).toEqual(before.clients);
    expect(second.rounds.get(1)).toEqual(before.round);
    expect(second.rounds.get(1)!.participants.map((p) => p.status)).toEqual(['answered', 'declined']);
    expect(second.rounds.get(1)!.transitions.map((t) => t.to)).toEqual(['open', 'collecting', 'aggregating', 'training', 'published']);
    expect(second.rounds.get(1)!.timings).toEqual({ collectMs: 100, trainMs: 900 });
    expect(second.models.get(1)).toEqual(before.model);
    expect(Buffer.from(second.models.getBlob(1)!).equals(Buffer.from(blob))).toBe(true);
    expect(second.rounds.nextRoundNumber()).toBe(2);
    expect(second.rounds.create({ config: {} }).number).toBe(2);
    expect(second.models.nextVersion()).toBe(2);
    // The same client reconnecting after the restart keeps its id.
    expect(second.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP }).id).toBe(a.id);
    second.close();
  });

  it('after a restart, fails the round that was running so none is left hanging', () => {
    const path = temp.file('coordinator.sqlite');
    const before = openDatabase(path);
    before.rounds.create({ config: {} });
    before.rounds.updateState(1, 'collecting');
    before.rounds.updateState(1, 'aggregating');
    before.rounds.updateState(1, 'training');
    before.close(); // the process dies mid-training

    const after = openDatabase(path);
    expect(after.rounds.markInterrupted()).toBe(1);
    expect(after.rounds.get(1)).toMatchObject({ state: 'failed', reason: INTERRUPTED_ROUND_REASON });
    after.close();
  });

  it('rolls back every repository change of a failed transaction', () => {
    const db = openDatabase(temp.file('coordinator.sqlite'));
    expect(() =>
      db.transaction(() => {
        db.clients.upsertOnConnect({ name: 'a', architecture: TEST_MLP });
        db.rounds.create({ config: {} });
        db.rounds.upsertParticipant({ round: 1, clientId: 'c-missing', status: 'invited' });
      }),
    ).toThrow(/no client with id c-missing/);
    expect(db.clients.list()).toEqual([]);
    expect(db.rounds.nextRoundNumber()).toBe(1);
    db.close();
  });

  it('records each migration once: opening the same file again does not re-run them', () => {
    const path = temp.file('coordinator.sqlite');
    const clock = makeManualClock();
    openDatabase(path, { now: clock.now }).close();
    const raw = new Database(path, { readonly: true });
    const recorded = appliedMigrations(raw);
    raw.close();
    expect(recorded).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name, appliedAt: clock.t })));

    clock.advance(60_000);
    const again = openDatabase(path, { now: clock.now });
    expect(appliedMigrations(again.connection)).toEqual(recorded);
    again.close();
  });

  it('gives a clear error naming the path for a file that is not a SQLite database', () => {
    const path = temp.file('notes.sqlite');
    writeFileSync(path, 'These are my notes, not a database. '.repeat(200));
    let error: unknown;
    try {
      openDatabase(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as PersistenceError).code).toBe('OPEN_FAILED');
    expect((error as Error).message).toContain(`cannot open the coordinator database at ${path}`);
    expect((error as Error).message).toContain('is not a SQLite database');
  });

  it('gives a clear error naming the path when the path is a directory', () => {
    expect(() => openDatabase(temp.dir)).toThrow(`cannot open the coordinator database at ${temp.dir}`);
  });

  it('refuses a database written by a newer coordinator', () => {
    const path = temp.file('coordinator.sqlite');
    openDatabase(path).close();
    const raw = new Database(path);
    raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(MIGRATIONS.length + 1, 'from the future', 0);
    raw.close();
    expect(() => openDatabase(path)).toThrow(
      new RegExp(`at ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: database schema version ${MIGRATIONS.length + 1} is newer`),
    );
  });
});

describe('applyMigrations', () => {
  let temp: ReturnType<typeof makeTempDir>;

  beforeEach(() => {
    temp = makeTempDir();
  });

  afterEach(() => {
    temp.remove();
  });

  function counting(version: number, runs: number[]): Migration {
    return {
      version,
      name: `migration ${version}`,
      up: (db) => {
        runs.push(version);
        db.exec(`CREATE TABLE t${version} (x INTEGER)`);
      },
    };
  }

  it("keeps a version-3 database's round participants when migration 6 rebuilds the table for 'not-needed'", () => {
    const db = new Database(temp.file('v3.sqlite'));
    db.pragma('foreign_keys = ON');
    applyMigrations(db, MIGRATIONS.slice(0, 3));
    db.exec(`INSERT INTO clients (id, name, architecture, first_seen_at, last_seen_at) VALUES ('c-1', 'a', '{}', 1, 1);
      INSERT INTO rounds (number, state, config, opened_at) VALUES (1, 'published', '{}', 1);
      INSERT INTO round_participants (round, client_id, status, reason, bytes_uploaded, answered_at) VALUES (1, 'c-1', 'dropped', 'late', 7, 2);`);
    expect(() => db.exec("UPDATE round_participants SET status = 'not-needed'")).toThrow(/CHECK constraint failed/);
    expect(applyMigrations(db)).toBe(MIGRATIONS.length);
    expect(db.prepare('SELECT * FROM round_participants').all()).toEqual([{ round: 1, client_id: 'c-1', status: 'dropped', reason: 'late', bytes_uploaded: 7, answered_at: 2 }]);
    db.exec("UPDATE round_participants SET status = 'not-needed'");
    expect(() => db.exec("INSERT INTO round_participants (round, client_id, status) VALUES (2, 'c-1', 'invited')")).toThrow(/FOREIGN KEY constraint failed/);
    db.close();
  });

  it('runs each migration once, in order, and only the new ones when the list grows', () => {
    const path = temp.file('m.sqlite');
    const runs: number[] = [];
    let db = new Database(path);
    expect(applyMigrations(db, [counting(1, runs), counting(2, runs)])).toBe(2);
    expect(applyMigrations(db, [counting(1, runs), counting(2, runs)])).toBe(2);
    db.close();
    expect(runs).toEqual([1, 2]);

    db = new Database(path);
    expect(applyMigrations(db, [counting(1, runs), counting(2, runs), counting(3, runs)])).toBe(3);
    expect(runs).toEqual([1, 2, 3]);
    expect(appliedMigrations(db).map((m) => m.version)).toEqual([1, 2, 3]);
    db.close();
  });

  it('leaves the schema at the last good version when a migration fails', () => {
    const db = new Database(temp.file('m.sqlite'));
    const runs: number[] = [];
    const broken: Migration = { version: 2, name: 'broken', up: 'CREATE TABLE t2 (x INTEGER); CREATE TABLE t2 (y INTEGER);' };
    expect(() => applyMigrations(db, [counting(1, runs), broken])).toThrow(/table t2 already exists/);
    expect(appliedMigrations(db).map((m) => m.version)).toEqual([1]);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 't2'").get()).toBeUndefined();
    db.close();
  });

  it('refuses a malformed migration list', () => {
    const db = new Database(':memory:');
    expect(() => applyMigrations(db, [counting(2, [])])).toThrow(/entry 0 has version 2, expected 1/);
    db.close();
  });
});
