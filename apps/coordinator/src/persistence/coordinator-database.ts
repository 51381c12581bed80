import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { ClientsRepository } from './clients.repository';
import { applyMigrations, MIGRATIONS } from './migrations';
import type { ModelsRepository } from './models.repository';
import { PersistenceError } from './persistence-error';
import type { RoundsRepository } from './rounds.repository';
import type { IdentitiesRepository } from './identities.repository';
import type { GeneratorsRepository } from './generators.repository';
import type { ApiTokensRepository } from './api-tokens.repository';
import type { ReputationsRepository } from './reputations.repository';
import type { PrivacyCurvesRepository } from './privacy-curves.repository';
import type { ReplayRepository } from './replay.repository';
import type { CoordinatorSchema } from './schema';
import { isPostgresUrl, redactedDatabaseUrl, type DatabaseKind } from './sql-dialect';
import { SqlApiTokensRepository } from './sql-api-tokens.repository';
import { SqlReputationsRepository } from './sql-reputations.repository';
import { SqlPrivacyCurvesRepository } from './sql-privacy-curves.repository';
import { SqlGeneratorsRepository } from './sql-generators.repository';
import { SqlReplayRepository } from './sql-replay.repository';
import { SqlClientsRepository } from './sql-clients.repository';
import { SqlIdentitiesRepository } from './sql-identities.repository';
import { SqlModelsRepository } from './sql-models.repository';
import { SqlRoundsRepository } from './sql-rounds.repository';

/** One repository per stored thing. */
export interface CoordinatorRepositories {
  readonly clients: ClientsRepository;
  readonly rounds: RoundsRepository;
  readonly models: ModelsRepository;
  readonly identities: IdentitiesRepository;
  readonly generators: GeneratorsRepository;
  /** The replay buffer the student rehearses (`--replay-size`). */
  readonly replay: ReplayRepository;
  readonly apiTokens: ApiTokensRepository;
  /** Clients' agreement with the consensus per round, and their reputations (the reputation rule). */
  readonly reputations: ReputationsRepository;
  /** Each client's running RDP curve over the private rounds it answered (GET /clients, round metrics). */
  readonly privacyCurves: PrivacyCurvesRepository;
}

/** The coordinator's store: its repositories over one SQLite file or one PostgreSQL database. */
export interface CoordinatorDatabase extends CoordinatorRepositories {
  readonly kind: DatabaseKind;
  /** As given to openDatabase, a PostgreSQL URL with its password redacted (':memory:' for an in-memory SQLite database). */
  readonly path: string;
  /** The last migration applied. */
  readonly schemaVersion: number;
  /**
   * Runs `fn` in one transaction: every call on the repositories it is given is committed together
   * or not at all (e.g. add a model version and mark its round published). Inside `fn`, use only
   * those repositories: on SQLite, a call on the outer ones waits for the transaction to end.
   */
  transaction<T>(fn: (tx: CoordinatorRepositories) => Promise<T>): Promise<T>;
  /** The query builder over the connection, for tests and for stores that later migrations add. */
  readonly kysely: Kysely<CoordinatorSchema>;
  /** Closes the connection(s); calling it again does nothing. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Clock for every timestamp the repositories fill in (epoch milliseconds); Date.now by default. */
  now?: () => number;
  /** SQLite: how long to wait for another process's write lock, in milliseconds (default 5000). */
  busyTimeoutMs?: number;
  /** PostgreSQL: connections in the pool (default 10). */
  poolSize?: number;
}

export const IN_MEMORY_DATABASE = ':memory:';

/** PostgreSQL's type ids whose text the coordinator reads differently from node-postgres' default. */
const PG_INT8 = 20;
const PG_JSON = 114;

function pgTypes(): pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
      if (oid === PG_INT8) {
        return (text: string) => {
          const value = Number(text);
          if (!Number.isSafeInteger(value)) throw new PersistenceError('CORRUPT_ROW', `a bigint column holds ${text}, beyond the integers this coordinator handles`);
          return value;
        };
      }
      // JSON columns are read as their text, as from SQLite: the repositories parse and check them.
      if (oid === PG_JSON) return (text: string) => text;
      return pg.types.getTypeParser(oid, format);
    }) as pg.CustomTypesConfig['getTypeParser'],
  };
}

/** The repositories over `db` (the database or one of its transactions). */
function repositories(db: Kysely<CoordinatorSchema>, now: () => number): CoordinatorRepositories {
  return {
    clients: new SqlClientsRepository(db, now),
    rounds: new SqlRoundsRepository(db, now),
    models: new SqlModelsRepository(db, now),
    identities: new SqlIdentitiesRepository(db, now),
    generators: new SqlGeneratorsRepository(db, now),
    replay: new SqlReplayRepository(db),
    apiTokens: new SqlApiTokensRepository(db, now),
    reputations: new SqlReputationsRepository(db),
    privacyCurves: new SqlPrivacyCurvesRepository(db),
  };
}

/**
 * The query builder over `location` (a SQLite file or a postgres:// URL) as the repositories need
 * it: SQLite with WAL and foreign keys on; PostgreSQL's bigint read as a number and json as its
 * text. No migration is applied (openDatabase does that).
 */
export function connectDatabase(location: string, options: Omit<OpenDatabaseOptions, 'now'> = {}): Kysely<CoordinatorSchema> {
  if (isPostgresUrl(location)) {
    const pool = new pg.Pool({ connectionString: location, max: options.poolSize ?? 10, connectionTimeoutMillis: 10_000, types: pgTypes() });
    // An idle client that loses its server emits 'error' on the pool; the next query reconnects.
    pool.on('error', () => undefined);
    return new Kysely<CoordinatorSchema>({ dialect: new PostgresDialect({ pool }) });
  }
  if (location !== IN_MEMORY_DATABASE && location !== '') mkdirSync(dirname(resolve(location)), { recursive: true });
  const connection = new Database(location, { timeout: options.busyTimeoutMs ?? 5000 });
  try {
    // The first statements read the file header: a file that is not SQLite fails here.
    connection.pragma('journal_mode = WAL');
    connection.pragma('synchronous = NORMAL');
    connection.pragma('foreign_keys = ON');
    if (connection.pragma('foreign_keys', { simple: true }) !== 1) throw new Error('SQLite refused to enable foreign keys');
  } catch (error) {
    connection.close();
    throw error;
  }
  return new Kysely<CoordinatorSchema>({ dialect: new SqliteDialect({ database: connection }) });
}

/**
 * Opens the coordinator's database, applying pending migrations. `location` is a SQLite file path
 * (created with its parent directory when missing; ':memory:' for a private in-memory database;
 * WAL journal, foreign keys on) or a `postgres://` URL (the database must exist; its tables are
 * created). Anything that prevents this (a file that is not SQLite, an unreadable path, an
 * unreachable server, a schema from a newer coordinator) throws a PersistenceError naming the
 * location, without its password.
 */
export async function openDatabase(location: string, options: OpenDatabaseOptions = {}): Promise<CoordinatorDatabase> {
  const now = options.now ?? Date.now;
  const kind: DatabaseKind = isPostgresUrl(location) ? 'postgres' : 'sqlite';
  const shown = redactedDatabaseUrl(location);
  let kysely: Kysely<CoordinatorSchema> | undefined;
  let schemaVersion: number;
  try {
    kysely = connectDatabase(location, options);
    schemaVersion = await applyMigrations(kysely, kind, MIGRATIONS, now);
  } catch (error) {
    await kysely?.destroy().catch(() => undefined);
    const detail = error instanceof Error ? error.message : String(error);
    const hint = /not a database/i.test(detail) ? ' (the file exists but is not a SQLite database)' : '';
    throw new PersistenceError(
      error instanceof PersistenceError ? error.code : 'OPEN_FAILED',
      `cannot open the coordinator database at ${shown}: ${detail}${hint}`,
      { cause: error },
    );
  }

  const db = kysely;
  let closed: Promise<void> | undefined;
  return {
    kind,
    path: shown,
    schemaVersion,
    ...repositories(db, now),
    kysely: db,
    transaction: <T>(fn: (tx: CoordinatorRepositories) => Promise<T>): Promise<T> =>
      db.transaction().execute((trx) => fn(repositories(trx, now))),
    close: () => (closed ??= db.destroy()),
  };
}
