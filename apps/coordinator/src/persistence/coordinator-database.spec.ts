import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectDatabase, openDatabase, type CoordinatorDatabase } from './coordinator-database';
import { applyMigrations, appliedMigrations, MIGRATIONS, type Migration } from './migrations';
import { PersistenceError } from './persistence-error';
import { createTestPostgresDatabase, DATABASE_KINDS, makeManualClock, makeTempDir, TEST_CNN, TEST_MLP, testDatabaseLocation } from './persistence.testing';
import { INTERRUPTED_ROUND_REASON } from './rounds.repository';
import type { DatabaseKind } from './sql-dialect';

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('openDatabase on sqlite', () => {
  let temp: ReturnType<typeof makeTempDir>;

  beforeEach(() => {
    temp = makeTempDir();
  });

  afterEach(() => {
    temp.remove();
  });

  const pragma = async (db: CoordinatorDatabase, name: string): Promise<unknown> => {
    const { rows } = await sql<Record<string, unknown>>`PRAGMA ${sql.raw(name)}`.execute(db.kysely);
    return Object.values(rows[0])[0];
  };

  it('creates the file and its missing parent directories, in WAL mode with foreign keys on', async () => {
    const path = join(temp.dir, 'var', 'lib', 'fedkd', 'coordinator.sqlite');
    const db = await openDatabase(path);
    expect(existsSync(path)).toBe(true);
    expect(db.kind).toBe('sqlite');
    expect(db.path).toBe(path);
    expect(await pragma(db, 'journal_mode')).toBe('wal');
    expect(await pragma(db, 'foreign_keys')).toBe(1);
    expect(db.schemaVersion).toBe(MIGRATIONS.length);
    await db.close();
    await db.close(); // a second close is harmless
  });

  it('supports an in-memory database', async () => {
    const db = await openDatabase(':memory:');
    await db.clients.upsertOnConnect({ name: 'a', architecture: TEST_MLP });
    expect(await db.clients.list()).toHaveLength(1);
    expect(await pragma(db, 'foreign_keys')).toBe(1);
    await db.close();
  });

  it('gives a clear error naming the path for a file that is not a SQLite database', async () => {
    const path = temp.file('notes.sqlite');
    writeFileSync(path, 'These are my notes, not a database. '.repeat(200));
    const error = await rejection(openDatabase(path));
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as PersistenceError).code).toBe('OPEN_FAILED');
    expect(error.message).toContain(`cannot open the coordinator database at ${path}`);
    expect(error.message).toContain('is not a SQLite database');
  });

  it('gives a clear error naming the path when the path is a directory', async () => {
    await expect(openDatabase(temp.dir)).rejects.toThrow(`cannot open the coordinator database at ${temp.dir}`);
  });
});

describe('openDatabase on postgres', () => {
  it('gives OPEN_FAILED naming the URL without its password for an unreachable server', async () => {
    const error = await rejection(openDatabase('postgres://fedkd:secret@127.0.0.1:1/nope'));
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as PersistenceError).code).toBe('OPEN_FAILED');
    expect(error.message).toContain('cannot open the coordinator database at postgres://fedkd:***@127.0.0.1:1/nope');
    expect(error.message).not.toContain('secret');
  });

  it('gives OPEN_FAILED naming the URL without its password for a database that does not exist', async () => {
    const url = new URL(await createTestPostgresDatabase());
    url.pathname = '/fedkd_no_such_database';
    url.password = 'secret';
    const error = await rejection(openDatabase(url.toString()));
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as PersistenceError).code).toBe('OPEN_FAILED');
    url.password = '***';
    expect(error.message).toContain(`cannot open the coordinator database at ${url.toString()}`);
    expect(error.message).toContain('fedkd_no_such_database');
    expect(error.message).not.toContain('secret');
  });

  it('migrates a fresh database once when two coordinators open it at the same time', async () => {
    // A few times: the two must meet at every step of the migration, the first one included.
    for (let attempt = 0; attempt < 3; attempt++) {
      const url = await createTestPostgresDatabase();
      const opened = await Promise.allSettled([openDatabase(url), openDatabase(url)]);
      const dbs = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      try {
        for (const o of opened) if (o.status === 'rejected') throw o.reason;
        const [a, b] = dbs;
        expect([a.schemaVersion, b.schemaVersion]).toEqual([MIGRATIONS.length, MIGRATIONS.length]);
        expect((await appliedMigrations(a.kysely)).map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
        // Both work on the one schema.
        await a.rounds.create({ config: {} });
        expect(await b.rounds.count()).toBe(1);
      } finally {
        await Promise.all(dbs.map((db) => db.close()));
      }
    }
  });
});

describe.each(DATABASE_KINDS)('openDatabase on %s', (kind) => {
  let location: Awaited<ReturnType<typeof testDatabaseLocation>>;

  beforeEach(async () => {
    location = await testDatabaseLocation(kind);
  });

  afterEach(() => {
    location.remove();
  });

  it('keeps clients, rounds (with participants, transitions, metrics, timings) and models across a reopen', async () => {
    const clock = makeManualClock();
    const blob = Uint8Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) & 0xff);

    const first = await openDatabase(location.location, { now: clock.now });
    expect(first.kind).toBe(kind);
    const a = await first.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP, sampleCount: 1200 });
    const b = await first.clients.upsertOnConnect({ name: 'hospital-b', architecture: TEST_CNN });
    await first.rounds.create({ config: { aggregation: { name: 'mean' }, temperature: 3, minClients: 2 } });
    await first.rounds.upsertParticipants([
      { round: 1, clientId: a.id, status: 'invited' },
      { round: 1, clientId: b.id, status: 'invited' },
    ]);
    clock.advance(100);
    await first.rounds.updateState(1, 'collecting');
    await first.rounds.upsertParticipant({ round: 1, clientId: a.id, status: 'answered', bytesUploaded: 4000 });
    await first.rounds.upsertParticipant({ round: 1, clientId: b.id, status: 'declined', reason: 'privacy budget exhausted' });
    await first.rounds.updateState(1, 'aggregating');
    await first.rounds.updateState(1, 'training');
    await first.transaction(async (tx) => {
      await tx.models.add({ version: 1, round: 1, blob, metrics: { testAccuracy: 0.88 } });
      await tx.rounds.setMetrics(1, { testAccuracy: 0.88, studentEpochs: 40, invited: 2, answered: 1 }, { collectMs: 100, trainMs: 900 });
      await tx.rounds.updateState(1, 'published');
    });
    const before = {
      clients: await first.clients.list(),
      round: await first.rounds.get(1),
      model: await first.models.get(1),
    };
    await first.close();

    const second = await openDatabase(location.location, { now: clock.now });
    try {
      expect(await second.clients.list()).toEqual(before.clients);
      const round = await second.rounds.get(1);
      expect(round).toEqual(before.round);
      expect(round!.participants.map((p) => p.status)).toEqual(['answered', 'declined']);
      expect(round!.transitions.map((t) => t.to)).toEqual(['open', 'collecting', 'aggregating', 'training', 'published']);
      expect(round!.timings).toEqual({ collectMs: 100, trainMs: 900 });
      expect(await second.models.get(1)).toEqual(before.model);
      expect(Buffer.from((await second.models.getBlob(1))!).equals(Buffer.from(blob))).toBe(true);
      expect(await second.rounds.nextRoundNumber()).toBe(2);
      expect((await second.rounds.create({ config: {} })).number).toBe(2);
      expect(await second.models.nextVersion()).toBe(2);
      // The same client reconnecting after the restart keeps its id.
      expect((await second.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP })).id).toBe(a.id);
    } finally {
      await second.close();
    }
  });

  it('after a restart, fails the round that was running so none is left hanging', async () => {
    const before = await openDatabase(location.location);
    await before.rounds.create({ config: {} });
    await before.rounds.updateState(1, 'collecting');
    await before.rounds.updateState(1, 'aggregating');
    await before.rounds.updateState(1, 'training');
    await before.close(); // the process dies mid-training

    const after = await openDatabase(location.location);
    try {
      expect(await after.rounds.markInterrupted()).toBe(1);
      expect(await after.rounds.get(1)).toMatchObject({ state: 'failed', reason: INTERRUPTED_ROUND_REASON });
    } finally {
      await after.close();
    }
  });

  it('rolls back every repository change of a failed transaction', async () => {
    const db = await openDatabase(location.location);
    try {
      await expect(
        db.transaction(async (tx) => {
          await tx.clients.upsertOnConnect({ name: 'a', architecture: TEST_MLP });
          await tx.rounds.create({ config: {} });
          await tx.rounds.upsertParticipant({ round: 1, clientId: 'c-missing', status: 'invited' });
        }),
      ).rejects.toThrow(/no client with id c-missing/);
      expect(await db.clients.list()).toEqual([]);
      expect(await db.rounds.nextRoundNumber()).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('publishes in one transaction: a model version and its round published together, or neither', async () => {
    const db = await openDatabase(location.location);
    try {
      await db.rounds.create({ config: {} });
      await db.rounds.updateState(1, 'training');
      const blob = Uint8Array.from({ length: 512 }, (_, i) => i & 0xff);
      await expect(
        db.transaction(async (tx) => {
          await tx.models.add({ version: 1, round: 1, blob, metrics: { testAccuracy: 0.9 } });
          await tx.rounds.updateState(1, 'published');
          // Inside the transaction, its repositories see its own writes.
          expect((await tx.models.latest())!.version).toBe(1);
          expect((await tx.rounds.get(1))!.state).toBe('published');
          throw new Error('signing failed');
        }),
      ).rejects.toThrow('signing failed');
      expect(await db.models.latest()).toBeNull();
      expect((await db.rounds.get(1))!.state).toBe('training');

      const published = await db.transaction(async (tx) => {
        const model = await tx.models.add({ version: 1, round: 1, blob, metrics: { testAccuracy: 0.9 } });
        await tx.rounds.updateState(1, 'published');
        return model;
      });
      expect(await db.models.latest()).toEqual(published);
      expect((await db.rounds.get(1))!.state).toBe('published');
    } finally {
      await db.close();
    }
  });

  it('records each migration once: opening the same database again, or migrating it again, runs none', async () => {
    const clock = makeManualClock();
    const first = await openDatabase(location.location, { now: clock.now });
    const recorded = await appliedMigrations(first.kysely);
    expect(recorded).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name, appliedAt: clock.t })));
    clock.advance(60_000);
    expect(await applyMigrations(first.kysely, kind, MIGRATIONS, clock.now)).toBe(MIGRATIONS.length);
    await first.close();

    const again = await openDatabase(location.location, { now: clock.now });
    try {
      expect(again.schemaVersion).toBe(MIGRATIONS.length);
      expect(await appliedMigrations(again.kysely)).toEqual(recorded);
    } finally {
      await again.close();
    }
  });

  it('refuses a database written by a newer coordinator', async () => {
    const db = await openDatabase(location.location);
    await db.kysely.insertInto('schema_migrations').values({ version: MIGRATIONS.length + 1, name: 'from the future', applied_at: 0 }).execute();
    await db.close();
    const error = await rejection(openDatabase(location.location));
    expect((error as PersistenceError).code).toBe('SCHEMA_TOO_NEW');
    expect(error.message).toMatch(new RegExp(`at ${escapeRegExp(db.path)}: database schema version ${MIGRATIONS.length + 1} is newer`));
  });
});

describe('compatibility with databases written by the previous coordinator', () => {
  let temp: ReturnType<typeof makeTempDir>;

  beforeEach(() => {
    temp = makeTempDir();
  });

  afterEach(() => {
    temp.remove();
  });

  it('opens a schema-version-8 SQLite file as it left it, runs no migration and reads its clients, rounds and models', async () => {
    const path = temp.file('coordinator.sqlite');
    const blob = Uint8Array.from({ length: 2048 }, (_, i) => (i * 17 + 3) & 0xff);
    const sha256 = createHash('sha256').update(blob).digest('hex');
    const architecture = JSON.stringify(TEST_MLP);
    const raw = new Database(path);
    raw.pragma('journal_mode = WAL');
    raw.pragma('foreign_keys = ON');
    raw.exec(readFileSync(join(__dirname, 'fixtures', 'schema-v8.sqlite.sql'), 'utf8'));
    // As the previous coordinator's repositories wrote them.
    raw.prepare('INSERT INTO clients (id, name, architecture, sample_count, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)').run(
      'c-0123456789ab',
      'hospital-a',
      architecture,
      600,
      1_700_000_000_000,
      1_700_000_050_000,
    );
    raw.prepare(`INSERT INTO rounds (number, state, config, opened_at, closed_at, metrics, timings) VALUES (1, 'published', ?, ?, ?, ?, ?)`).run(
      JSON.stringify({ temperature: 3, proxy: { kind: 'public', size: 100 } }),
      1_700_000_001_000,
      1_700_000_009_000,
      JSON.stringify({ testAccuracy: 0.87 }),
      JSON.stringify({ collectMs: 5000, trainMs: 3000 }),
    );
    const transition = raw.prepare('INSERT INTO round_transitions (round, from_state, to_state, reason, at) VALUES (1, ?, ?, NULL, ?)');
    transition.run(null, 'open', 1_700_000_001_000);
    transition.run('open', 'collecting', 1_700_000_002_000);
    transition.run('collecting', 'published', 1_700_000_009_000);
    raw.prepare(`INSERT INTO round_participants (round, client_id, status, bytes_uploaded, answered_at) VALUES (1, 'c-0123456789ab', 'answered', 4000, ?)`).run(
      1_700_000_006_000,
    );
    raw.prepare('INSERT INTO models (version, round, sha256, blob, byte_length, metrics, created_at) VALUES (1, 1, ?, ?, ?, ?, ?)').run(
      sha256,
      Buffer.from(blob),
      blob.byteLength,
      JSON.stringify({ testAccuracy: 0.87 }),
      1_700_000_009_000,
    );
    raw.close();

    const db = await openDatabase(path);
    try {
      expect(db.schemaVersion).toBe(8);
      expect((await appliedMigrations(db.kysely)).map((m) => [m.version, m.appliedAt])).toEqual(MIGRATIONS.map((m) => [m.version, 1_700_000_000_000]));
      expect(await db.clients.list()).toEqual([
        {
          id: 'c-0123456789ab',
          name: 'hospital-a',
          architecture: TEST_MLP,
          sampleCount: 600,
          firstSeenAt: 1_700_000_000_000,
          lastSeenAt: 1_700_000_050_000,
          status: 'active',
        },
      ]);
      expect(await db.rounds.get(1)).toEqual({
        number: 1,
        state: 'published',
        reason: null,
        config: { temperature: 3, proxy: { kind: 'public', size: 100 } },
        openedAt: 1_700_000_001_000,
        closedAt: 1_700_000_009_000,
        metrics: { testAccuracy: 0.87 },
        timings: { collectMs: 5000, trainMs: 3000 },
        participants: [
          { round: 1, clientId: 'c-0123456789ab', clientName: 'hospital-a', status: 'answered', reason: null, bytesUploaded: 4000, answeredAt: 1_700_000_006_000 },
        ],
        transitions: [
          { from: null, to: 'open', reason: null, at: 1_700_000_001_000 },
          { from: 'open', to: 'collecting', reason: null, at: 1_700_000_002_000 },
          { from: 'collecting', to: 'published', reason: null, at: 1_700_000_009_000 },
        ],
      });
      expect(await db.models.list()).toEqual([
        { version: 1, round: 1, sha256, byteLength: 2048, metrics: { testAccuracy: 0.87 }, createdAt: 1_700_000_009_000 },
      ]);
      expect(Buffer.from((await db.models.getBlob(1))!).equals(Buffer.from(blob))).toBe(true);

      // Its model versions are still immutable, and the new repositories carry on where it stopped.
      await expect(db.kysely.updateTable('models').set({ metrics: '{}' }).where('version', '=', 1).execute()).rejects.toThrow('model versions are immutable');
      await expect(db.models.add({ version: 1, round: 1, blob, metrics: {} })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      expect((await db.rounds.create({ config: {} })).number).toBe(2);
      await db.rounds.upsertParticipant({ round: 2, clientId: 'c-0123456789ab', status: 'not-needed' });
      expect((await db.models.add({ version: 2, round: 2, blob, metrics: {} })).version).toBe(2);
    } finally {
      await db.close();
    }
  });
});

/** A bare Kysely over a new database of `kind` (no migrations), reopenable, for applyMigrations itself. */
async function bareDatabase(kind: DatabaseKind) {
  const { location, remove } = await testDatabaseLocation(kind);
  const open = (): Kysely<any> => connectDatabase(location, { poolSize: 2 });
  return { open, remove };
}

describe.each(DATABASE_KINDS)('applyMigrations on %s', (kind) => {
  let bare: Awaited<ReturnType<typeof bareDatabase>>;
  let db: Kysely<any>;

  beforeEach(async () => {
    bare = await bareDatabase(kind);
    db = bare.open();
  });

  afterEach(async () => {
    await db.destroy();
    bare.remove();
  });

  const tables = async () => (await db.introspection.getTables()).map((t) => t.name);

  function counting(version: number, runs: number[]): Migration {
    return {
      version,
      name: `migration ${version}`,
      up: async (conn) => {
        runs.push(version);
        await conn.schema.createTable(`t${version}`).addColumn('x', 'integer').execute();
      },
    };
  }

  it("keeps a version-3 database's round participants when migration 6 changes the statuses for 'not-needed'", async () => {
    const CHECK_FAILED = kind === 'sqlite' ? /CHECK constraint failed/ : /violates check constraint/;
    const FOREIGN_KEY_FAILED = kind === 'sqlite' ? /FOREIGN KEY constraint failed/ : /violates foreign key constraint/;
    expect(await applyMigrations(db, kind, MIGRATIONS.slice(0, 3))).toBe(3);
    await db.insertInto('clients').values({ id: 'c-1', name: 'a', architecture: '{}', first_seen_at: 1, last_seen_at: 1 }).execute();
    await db.insertInto('rounds').values({ number: 1, state: 'published', config: '{}', opened_at: 1 }).execute();
    await db.insertInto('round_participants').values({ round: 1, client_id: 'c-1', status: 'dropped', reason: 'late', bytes_uploaded: 7, answered_at: 2 }).execute();
    await expect(db.updateTable('round_participants').set({ status: 'not-needed' }).execute()).rejects.toThrow(CHECK_FAILED);
    expect(await applyMigrations(db, kind)).toBe(MIGRATIONS.length);
    const rows = await db.selectFrom('round_participants').selectAll().execute();
    expect(rows.map((r) => ({ ...r, bytes_uploaded: Number(r.bytes_uploaded), answered_at: Number(r.answered_at), round: Number(r.round) }))).toEqual([
      { round: 1, client_id: 'c-1', status: 'dropped', reason: 'late', bytes_uploaded: 7, answered_at: 2 },
    ]);
    await db.updateTable('round_participants').set({ status: 'not-needed' }).execute();
    await expect(db.updateTable('round_participants').set({ status: 'late' }).execute()).rejects.toThrow(CHECK_FAILED);
    await expect(db.insertInto('round_participants').values({ round: 2, client_id: 'c-1', status: 'invited' }).execute()).rejects.toThrow(FOREIGN_KEY_FAILED);
  });

  it('runs each migration once, in order, and only the new ones when the list grows', async () => {
    const runs: number[] = [];
    expect(await applyMigrations(db, kind, [counting(1, runs), counting(2, runs)])).toBe(2);
    expect(await applyMigrations(db, kind, [counting(1, runs), counting(2, runs)])).toBe(2);
    await db.destroy();
    expect(runs).toEqual([1, 2]);

    db = bare.open();
    expect(await applyMigrations(db, kind, [counting(1, runs), counting(2, runs), counting(3, runs)])).toBe(3);
    expect(runs).toEqual([1, 2, 3]);
    expect((await appliedMigrations(db)).map((m) => m.version)).toEqual([1, 2, 3]);
    expect(await tables()).toEqual(expect.arrayContaining(['t1', 't2', 't3']));
  });

  it('leaves the schema at the last good version when a migration fails', async () => {
    const runs: number[] = [];
    const broken: Migration = {
      version: 2,
      name: 'broken',
      up: async (conn) => {
        await conn.schema.createTable('t2').addColumn('x', 'integer').execute();
        await conn.schema.createTable('t2').addColumn('y', 'integer').execute();
      },
    };
    await expect(applyMigrations(db, kind, [counting(1, runs), broken])).rejects.toThrow(/t2.* already exists/);
    expect((await appliedMigrations(db)).map((m) => m.version)).toEqual([1]);
    expect(await tables()).toContain('t1');
    expect(await tables()).not.toContain('t2');
  });

  it('refuses a malformed migration list', async () => {
    await expect(applyMigrations(db, kind, [counting(2, [])])).rejects.toThrow(/entry 0 has version 2, expected 1/);
  });
});
