import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { ClientsRepository } from './clients.repository';
import { applyMigrations, MIGRATIONS } from './migrations';
import type { ModelsRepository } from './models.repository';
import { PersistenceError } from './persistence-error';
import type { RoundsRepository } from './rounds.repository';
import type { IdentitiesRepository } from './identities.repository';
import type { GeneratorsRepository } from './generators.repository';
import type { ApiTokensRepository } from './api-tokens.repository';
import { SqliteApiTokensRepository } from './sqlite-api-tokens.repository';
import type { ReputationsRepository } from './reputations.repository';
import { SqliteReputationsRepository } from './sqlite-reputations.repository';
import type { PrivacyCurvesRepository } from './privacy-curves.repository';
import { SqlitePrivacyCurvesRepository } from './sqlite-privacy-curves.repository';
import { SqliteGeneratorsRepository } from './sqlite-generators.repository';
import { SqliteReplayRepository } from './sqlite-replay.repository';
import type { ReplayRepository } from './replay.repository';
import { SqliteClientsRepository } from './sqlite-clients.repository';
import { SqliteIdentitiesRepository } from './sqlite-identities.repository';
import { SqliteModelsRepository } from './sqlite-models.repository';
import { SqliteRoundsRepository } from './sqlite-rounds.repository';

/** The coordinator's store: one repository per stored thing, over one SQLite connection. */
export interface CoordinatorDatabase {
  /** As given to openDatabase (':memory:' for an in-memory database). */
  readonly path: string;
  /** The last migration applied. */
  readonly schemaVersion: number;
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
  /**
   * Runs `fn` in one transaction: every repository call inside it is committed together or not at
   * all (e.g. add a model version and mark its round published). `fn` must be synchronous.
   */
  transaction<T>(fn: () => T): T;
  /** The underlying connection, for repositories that later migrations add (e.g. privacy ledgers). */
  readonly connection: Database.Database;
  /** Closes the connection; calling it again does nothing. */
  close(): void;
}

export interface OpenDatabaseOptions {
  /** Clock for every timestamp the repositories fill in (epoch milliseconds); Date.now by default. */
  now?: () => number;
  /** How long to wait for another process's write lock, in milliseconds (default 5000). */
  busyTimeoutMs?: number;
}

export const IN_MEMORY_DATABASE = ':memory:';

/**
 * Opens (creating if needed) the coordinator's SQLite database at `path`, creating its parent
 * directory when missing; ':memory:' gives a private in-memory database. WAL journal, foreign keys
 * on, pending migrations applied. Anything that prevents this (a file that is not SQLite, an
 * unreadable path, a schema from a newer coordinator) throws a PersistenceError naming the path.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): CoordinatorDatabase {
  const now = options.now ?? Date.now;
  let connection: Database.Database | undefined;
  let schemaVersion: number;
  try {
    if (path !== IN_MEMORY_DATABASE && path !== '') mkdirSync(dirname(resolve(path)), { recursive: true });
    connection = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
    // The first statements read the file header: a file that is not SQLite fails here.
    connection.pragma('journal_mode = WAL');
    connection.pragma('synchronous = NORMAL');
    connection.pragma('foreign_keys = ON');
    if (connection.pragma('foreign_keys', { simple: true }) !== 1) throw new Error('SQLite refused to enable foreign keys');
    schemaVersion = applyMigrations(connection, MIGRATIONS, now);
  } catch (error) {
    if (connection?.open) connection.close();
    const detail = error instanceof Error ? error.message : String(error);
    const hint = /not a database/i.test(detail) ? ' (the file exists but is not a SQLite database)' : '';
    throw new PersistenceError(
      error instanceof PersistenceError ? error.code : 'OPEN_FAILED',
      `cannot open the coordinator database at ${path}: ${detail}${hint}`,
      { cause: error },
    );
  }

  const db = connection;
  return {
    path,
    schemaVersion,
    clients: new SqliteClientsRepository(db, now),
    rounds: new SqliteRoundsRepository(db, now),
    models: new SqliteModelsRepository(db, now),
    identities: new SqliteIdentitiesRepository(db, now),
    generators: new SqliteGeneratorsRepository(db, now),
    replay: new SqliteReplayRepository(db),
    apiTokens: new SqliteApiTokensRepository(db, now),
    reputations: new SqliteReputationsRepository(db),
    privacyCurves: new SqlitePrivacyCurvesRepository(db),
    connection: db,
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    close: () => {
      if (db.open) db.close();
    },
  };
}
