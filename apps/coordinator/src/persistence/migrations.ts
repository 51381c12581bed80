import type Database from 'better-sqlite3';
import { PersistenceError } from './persistence-error';
import { backfillPrivacyCurves } from '../privacy/privacy-curves';

/**
 * One schema change. Versions start at 1 and increase by one; a migration, once released, is
 * never edited: later issues append a new one (e.g. the privacy ledgers) instead.
 */
export interface Migration {
  version: number;
  name: string;
  /** SQL run as one script, or a function for changes that need logic; both run in a transaction. */
  up: string | ((db: Database.Database) => void);
}

const PARTICIPANT_STATUSES_V6_SQL = `('invited', 'answered', 'rejected', 'dropped', 'declined', 'not-needed')`;

const ROUND_STATES_SQL = `('open', 'collecting', 'aggregating', 'training', 'published', 'failed', 'cancelled')`;

/** The coordinator's schema, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'clients, rounds, round transitions and participants, model versions',
    up: `
      CREATE TABLE clients (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        architecture TEXT NOT NULL CHECK (json_valid(architecture)),
        sample_count INTEGER CHECK (sample_count IS NULL OR sample_count >= 0),
        first_seen_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked'))
      ) STRICT;

      CREATE TABLE rounds (
        number INTEGER PRIMARY KEY CHECK (number > 0),
        state TEXT NOT NULL CHECK (state IN ${ROUND_STATES_SQL}),
        reason TEXT,
        config TEXT NOT NULL CHECK (json_valid(config)),
        opened_at INTEGER NOT NULL,
        closed_at INTEGER,
        metrics TEXT CHECK (metrics IS NULL OR json_valid(metrics)),
        timings TEXT CHECK (timings IS NULL OR json_valid(timings))
      ) STRICT;
      CREATE INDEX rounds_by_state ON rounds (state);

      CREATE TABLE round_transitions (
        id INTEGER PRIMARY KEY,
        round INTEGER NOT NULL REFERENCES rounds (number) ON DELETE CASCADE,
        from_state TEXT CHECK (from_state IS NULL OR from_state IN ${ROUND_STATES_SQL}),
        to_state TEXT NOT NULL CHECK (to_state IN ${ROUND_STATES_SQL}),
        reason TEXT,
        at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX round_transitions_by_round ON round_transitions (round, id);

      CREATE TABLE round_participants (
        round INTEGER NOT NULL REFERENCES rounds (number) ON DELETE CASCADE,
        client_id TEXT NOT NULL REFERENCES clients (id),
        status TEXT NOT NULL CHECK (status IN ('invited', 'answered', 'rejected', 'dropped', 'declined')),
        reason TEXT,
        bytes_uploaded INTEGER NOT NULL DEFAULT 0 CHECK (bytes_uploaded >= 0),
        answered_at INTEGER,
        PRIMARY KEY (round, client_id)
      ) STRICT;
      CREATE INDEX round_participants_by_client ON round_participants (client_id);

      CREATE TABLE models (
        version INTEGER PRIMARY KEY CHECK (version > 0),
        round INTEGER NOT NULL REFERENCES rounds (number),
        sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
        blob BLOB NOT NULL,
        byte_length INTEGER NOT NULL CHECK (byte_length = length(blob)),
        metrics TEXT NOT NULL CHECK (json_valid(metrics)),
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX models_by_round ON models (round);

      CREATE TRIGGER models_are_immutable BEFORE UPDATE ON models
      BEGIN
        SELECT RAISE(ABORT, 'model versions are immutable');
      END;
    `,
  },
  {
    version: 2,
    name: 'enrolment tokens and enrolled identities (Ed25519 public keys)',
    up: `
      CREATE TABLE enrolment_tokens (
        id INTEGER PRIMARY KEY,
        client_name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
      ) STRICT;
      CREATE INDEX enrolment_tokens_by_name ON enrolment_tokens (client_name);

      CREATE TABLE identities (
        client_name TEXT PRIMARY KEY,
        public_key TEXT NOT NULL UNIQUE,
        enrolled_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'learned generator of the data-free mode, after each round that trained it',
    up: `
      CREATE TABLE generator_states (
        round INTEGER PRIMARY KEY REFERENCES rounds (number),
        generator BLOB NOT NULL,
        optimiser BLOB NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 4,
    name: 'client reputations: each client\'s agreement with the robust consensus, per round (reputation rule)',
    up: `
      CREATE TABLE client_reputations (
        client_id TEXT NOT NULL REFERENCES clients (id),
        round INTEGER NOT NULL REFERENCES rounds (number),
        agreement REAL NOT NULL CHECK (agreement >= -1e-6 AND agreement <= 1 + 1e-6),
        reputation REAL NOT NULL,
        weight REAL NOT NULL CHECK (weight >= 0),
        flagged INTEGER NOT NULL CHECK (flagged IN (0, 1)),
        PRIMARY KEY (client_id, round)
      ) STRICT;
      CREATE INDEX client_reputations_by_round ON client_reputations (round);
    `,
  },
  {
    version: 5,
    name: 'REST API tokens (admin and read scopes), stored as SHA-256',
    up: `
      CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL CHECK (length(name) > 0),
        scope TEXT NOT NULL CHECK (scope IN ('admin', 'read')),
        token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
      CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;
    `,
  },
  {
    version: 6,
    name: "participant status 'not-needed' (the round closed at its target number of answers)",
    // SQLite cannot alter a CHECK constraint: rebuild the table with the new one and copy the rows.
    up: `
      CREATE TABLE round_participants_v6 (
        round INTEGER NOT NULL REFERENCES rounds (number) ON DELETE CASCADE,
        client_id TEXT NOT NULL REFERENCES clients (id),
        status TEXT NOT NULL CHECK (status IN ${PARTICIPANT_STATUSES_V6_SQL}),
        reason TEXT,
        bytes_uploaded INTEGER NOT NULL DEFAULT 0 CHECK (bytes_uploaded >= 0),
        answered_at INTEGER,
        PRIMARY KEY (round, client_id)
      ) STRICT;
      INSERT INTO round_participants_v6 (round, client_id, status, reason, bytes_uploaded, answered_at)
        SELECT round, client_id, status, reason, bytes_uploaded, answered_at FROM round_participants;
      DROP TABLE round_participants;
      ALTER TABLE round_participants_v6 RENAME TO round_participants;
      CREATE INDEX round_participants_by_client ON round_participants (client_id);
    `,
  },
  {
    version: 7,
    name: 'running per-client RDP curves (cumulative RDP over an order grid), backfilled from the stored rounds',
    up: (db) => {
      db.exec(`
        CREATE TABLE client_privacy_curves (
          client_id TEXT PRIMARY KEY REFERENCES clients (id),
          orders TEXT NOT NULL CHECK (json_valid(orders)),
          rdp BLOB NOT NULL,
          private_rounds INTEGER NOT NULL CHECK (private_rounds >= 0),
          through_round INTEGER NOT NULL CHECK (through_round >= 0)
        ) STRICT;
      `);
      // Once, with the full recomputation: an upgraded database reports the numbers it reported before.
      backfillPrivacyCurves(db);
    },
  },
  {
    version: 8,
    name: 'replay buffer: every round\'s questions and aggregated answers the student rehearses (--replay-size)',
    up: `
      CREATE TABLE replay_examples (
        round INTEGER PRIMARY KEY CHECK (round >= 1),
        count INTEGER NOT NULL CHECK (count >= 1),
        input_shape TEXT NOT NULL CHECK (json_valid(input_shape)),
        encoding TEXT NOT NULL CHECK (encoding IN ('uint8', 'float32')),
        inputs BLOB NOT NULL,
        targets BLOB NOT NULL
      ) STRICT;
    `,
  },
];

/** The table that records which migrations ran, and when (epoch milliseconds). */
export const SCHEMA_MIGRATIONS_TABLE = 'schema_migrations';

export interface AppliedMigration {
  version: number;
  name: string;
  appliedAt: number;
}

/**
 * Brings the schema up to the last of `migrations`, each migration and its record in one
 * transaction (a failing migration leaves the previous version intact). The check of what is
 * already applied happens inside an IMMEDIATE transaction, so two processes opening the same file
 * at once do not both run a migration. Returns the schema version afterwards.
 */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS, now: () => number = Date.now): number {
  checkMigrationList(migrations);
  db.exec(`CREATE TABLE IF NOT EXISTS ${SCHEMA_MIGRATIONS_TABLE} (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const currentVersion = db.prepare<[], { version: number | null }>(`SELECT max(version) AS version FROM ${SCHEMA_MIGRATIONS_TABLE}`);
  const record = db.prepare<[number, string, number]>(`INSERT INTO ${SCHEMA_MIGRATIONS_TABLE} (version, name, applied_at) VALUES (?, ?, ?)`);
  const known = migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
  const readVersion = (): number => {
    const version = currentVersion.get()?.version ?? 0;
    if (version > known) {
      throw new PersistenceError(
        'SCHEMA_TOO_NEW',
        `database schema version ${version} is newer than this coordinator understands (up to ${known}); use a newer coordinator`,
      );
    }
    return version;
  };
  const migrate = db.transaction((migration: Migration) => {
    if (migration.version <= readVersion()) return;
    if (typeof migration.up === 'string') db.exec(migration.up);
    else migration.up(db);
    record.run(migration.version, migration.name, now());
  });

  for (const migration of migrations) migrate.immediate(migration);
  return readVersion();
}

/** What the schema_migrations table holds, oldest first. */
export function appliedMigrations(db: Database.Database): AppliedMigration[] {
  return db
    .prepare<[], AppliedMigration>(`SELECT version, name, applied_at AS appliedAt FROM ${SCHEMA_MIGRATIONS_TABLE} ORDER BY version`)
    .all();
}

function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`migration list is malformed: entry ${i} has version ${m.version}, expected ${i + 1}`);
    }
  });
}
