import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, inject } from 'vitest';
import type { MlpSpec, CnnSpec } from '@fedkd/engine';
import { openDatabase, type CoordinatorDatabase, type OpenDatabaseOptions } from './coordinator-database';
import type { DatabaseKind } from './sql-dialect';

/** A fresh directory under the OS temp dir; `remove()` deletes it with everything inside. */
export function makeTempDir(prefix = 'fedkd-persistence-'): { dir: string; file(name: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    file: (name) => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A clock the test moves by hand (epoch milliseconds). */
export function makeManualClock(start = 1_700_000_000_000): { now: () => number; advance(ms: number): number; readonly t: number } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => (t += ms),
    get t() {
      return t;
    },
  };
}

/** Both engines: repository tests run once per kind (`describe.each(DATABASE_KINDS)`). */
export const DATABASE_KINDS: readonly DatabaseKind[] = ['sqlite', 'postgres'];

/** The URL of a new, empty PostgreSQL database on the test run's server (test/support/postgres-global-setup.ts). */
export async function createTestPostgresDatabase(): Promise<string> {
  const server = inject('postgresUrl');
  if (!server) throw new Error('no PostgreSQL server for this test run: vitest.config.mts starts one in its globalSetup');
  const name = `fedkd_test_${randomBytes(6).toString('hex')}`;
  const admin = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: server, max: 1 }) }) });
  try {
    await sql`CREATE DATABASE ${sql.id(name)}`.execute(admin);
  } finally {
    await admin.destroy();
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Where a test database of `kind` lives: a file in a new temporary directory (SQLite) or a new
 * database on the run's PostgreSQL server. Open it (again) with openDatabase(location).
 */
export async function testDatabaseLocation(kind: DatabaseKind): Promise<{ location: string; remove(): void }> {
  if (kind === 'postgres') return { location: await createTestPostgresDatabase(), remove: () => undefined };
  const tmp = makeTempDir();
  return { location: tmp.file('coordinator.sqlite'), remove: tmp.remove };
}

/** A new, empty, migrated coordinator database of `kind`; close() also removes a SQLite file's directory. */
export async function openTestDatabase(kind: DatabaseKind, options: OpenDatabaseOptions = {}): Promise<CoordinatorDatabase> {
  const { location, remove } = await testDatabaseLocation(kind);
  const db = await openDatabase(location, options);
  const close = db.close;
  return Object.assign(db, {
    close: async () => {
      await close();
      remove();
    },
  });
}

export const TEST_MLP: MlpSpec = { kind: 'mlp', inputShape: [28, 28, 1], hidden: [32], classes: 10 };
export const TEST_CNN: CnnSpec = { kind: 'cnn', inputShape: [28, 28, 1], convFilters: [8], kernelSize: 3, hidden: [], classes: 10 };

/**
 * Inside a `describe`: a new, empty database of `kind` for each test, on a manual clock, closed
 * (and a SQLite file's directory removed) after it. Read `t.db` and `t.clock` inside the tests;
 * `t.reopen()` closes the database and opens the same one again, as a restarted coordinator would.
 */
export function useTestDatabase(kind: DatabaseKind): {
  readonly db: CoordinatorDatabase;
  readonly clock: ReturnType<typeof makeManualClock>;
  reopen(): Promise<CoordinatorDatabase>;
} {
  let db: CoordinatorDatabase | undefined;
  let place: { location: string; remove(): void } | undefined;
  let clock = makeManualClock();
  beforeEach(async () => {
    clock = makeManualClock();
    place = await testDatabaseLocation(kind);
    db = await openDatabase(place.location, { now: clock.now });
  });
  afterEach(async () => {
    await db?.close();
    place?.remove();
    db = place = undefined;
  });
  return {
    get db() {
      if (!db) throw new Error('useTestDatabase: the database exists only inside a test');
      return db;
    },
    get clock() {
      return clock;
    },
    async reopen() {
      await db?.close();
      db = await openDatabase(place!.location, { now: clock.now });
      return db;
    },
  };
}
