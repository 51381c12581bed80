import { sql, type Kysely } from 'kysely';
import { PersistenceError } from './persistence-error';
import { backfillPrivacyCurves } from '../privacy/privacy-curves';
import { columnTypes, createTable, jsonCheck, type DatabaseKind } from './sql-dialect';
import type { CoordinatorSchema } from './schema';

/**
 * One schema change, for both engines (SQLite and PostgreSQL), written with Kysely's schema
 * builder. Versions start at 1 and increase by one; a migration, once released, is never edited in
 * what it makes: later issues append a new one instead. Each runs in a transaction with its record.
 */
export interface Migration {
  version: number;
  name: string;
  up(db: Kysely<any>, kind: DatabaseKind): Promise<void>;
}

const ROUND_STATES_SQL = `('open', 'collecting', 'aggregating', 'training', 'published', 'failed', 'cancelled')`;
const PARTICIPANT_STATUSES_V1_SQL = `('invited', 'answered', 'rejected', 'dropped', 'declined')`;
const PARTICIPANT_STATUSES_V6_SQL = `('invited', 'answered', 'rejected', 'dropped', 'declined', 'not-needed')`;

/** round_participants as migration 1 made it, with the statuses `statuses` allows (migration 6 widened them). */
async function createParticipantsTable(db: Kysely<any>, kind: DatabaseKind, name: string, statuses: string): Promise<void> {
  const t = columnTypes(kind);
  await createTable(db, kind, name)
    .addColumn('round', t.integer, (c) => c.notNull().references('rounds.number').onDelete('cascade'))
    .addColumn('client_id', t.text, (c) => c.notNull().references('clients.id'))
    .addColumn('status', t.text, (c) => c.notNull())
    .addColumn('reason', t.text)
    .addColumn('bytes_uploaded', t.integer, (c) => c.notNull().defaultTo(0).check(sql`bytes_uploaded >= 0`))
    .addColumn('answered_at', t.integer)
    .addPrimaryKeyConstraint(`${name}_pkey`, ['round', 'client_id'])
    .addCheckConstraint('round_participants_status', sql.raw(`status IN ${statuses}`))
    .execute();
}

/** The coordinator's schema, in order. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'clients, rounds, round transitions and participants, model versions',
    async up(db, kind) {
      const t = columnTypes(kind);
      await createTable(db, kind, 'clients')
        .addColumn('id', t.text, (c) => c.primaryKey())
        .addColumn('name', t.text, (c) => c.notNull().unique())
        .addColumn('architecture', t.json, (c) => c.notNull().check(jsonCheck(kind, 'architecture')))
        .addColumn('sample_count', t.integer, (c) => c.check(sql`sample_count IS NULL OR sample_count >= 0`))
        .addColumn('first_seen_at', t.integer, (c) => c.notNull())
        .addColumn('last_seen_at', t.integer, (c) => c.notNull())
        .addColumn('status', t.text, (c) => c.notNull().defaultTo('active').check(sql`status IN ('active', 'revoked')`))
        .execute();

      await createTable(db, kind, 'rounds')
        .addColumn('number', t.integer, (c) => c.primaryKey().check(sql`number > 0`))
        .addColumn('state', t.text, (c) => c.notNull().check(sql.raw(`state IN ${ROUND_STATES_SQL}`)))
        .addColumn('reason', t.text)
        .addColumn('config', t.json, (c) => c.notNull().check(jsonCheck(kind, 'config')))
        .addColumn('opened_at', t.integer, (c) => c.notNull())
        .addColumn('closed_at', t.integer)
        .addColumn('metrics', t.json, (c) => c.check(jsonCheck(kind, 'metrics', true)))
        .addColumn('timings', t.json, (c) => c.check(jsonCheck(kind, 'timings', true)))
        .execute();
      await db.schema.createIndex('rounds_by_state').on('rounds').column('state').execute();

      await createTable(db, kind, 'round_transitions')
        .addColumn('id', t.integer, (c) => (kind === 'sqlite' ? c.primaryKey() : c.primaryKey().generatedByDefaultAsIdentity()))
        .addColumn('round', t.integer, (c) => c.notNull().references('rounds.number').onDelete('cascade'))
        .addColumn('from_state', t.text, (c) => c.check(sql.raw(`from_state IS NULL OR from_state IN ${ROUND_STATES_SQL}`)))
        .addColumn('to_state', t.text, (c) => c.notNull().check(sql.raw(`to_state IN ${ROUND_STATES_SQL}`)))
        .addColumn('reason', t.text)
        .addColumn('at', t.integer, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('round_transitions_by_round').on('round_transitions').columns(['round', 'id']).execute();

      await createParticipantsTable(db, kind, 'round_participants', PARTICIPANT_STATUSES_V1_SQL);
      await db.schema.createIndex('round_participants_by_client').on('round_participants').column('client_id').execute();

      await createTable(db, kind, 'models')
        .addColumn('version', t.integer, (c) => c.primaryKey().check(sql`version > 0`))
        .addColumn('round', t.integer, (c) => c.notNull().references('rounds.number'))
        .addColumn('sha256', t.text, (c) => c.notNull().check(sql`length(sha256) = 64`))
        .addColumn('blob', t.blob, (c) => c.notNull())
        .addColumn('byte_length', t.integer, (c) => c.notNull().check(sql`byte_length = length(blob)`))
        .addColumn('metrics', t.json, (c) => c.notNull().check(jsonCheck(kind, 'metrics')))
        .addColumn('created_at', t.integer, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('models_by_round').on('models').column('round').execute();

      // Published models are immutable: the engine itself refuses an UPDATE.
      if (kind === 'sqlite') {
        await sql`CREATE TRIGGER models_are_immutable BEFORE UPDATE ON models
          BEGIN SELECT RAISE(ABORT, 'model versions are immutable'); END`.execute(db);
      } else {
        await sql`CREATE FUNCTION fedkd_models_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'model versions are immutable'; END $$`.execute(db);
        await sql`CREATE TRIGGER models_are_immutable BEFORE UPDATE ON models
          FOR EACH ROW EXECUTE FUNCTION fedkd_models_are_immutable()`.execute(db);
      }
    },
  },
  {
    version: 2,
    name: 'enrolment tokens and enrolled identities (Ed25519 public keys)',
    async up(db, kind) {
      const t = columnTypes(kind);
      await createTable(db, kind, 'enrolment_tokens')
        .addColumn('id', t.integer, (c) => (kind === 'sqlite' ? c.primaryKey() : c.primaryKey().generatedByDefaultAsIdentity()))
        .addColumn('client_name', t.text, (c) => c.notNull())
        .addColumn('token_hash', t.text, (c) => c.notNull().unique())
        .addColumn('created_at', t.integer, (c) => c.notNull())
        .addColumn('expires_at', t.integer, (c) => c.notNull())
        .addColumn('used_at', t.integer)
        .execute();
      await db.schema.createIndex('enrolment_tokens_by_name').on('enrolment_tokens').column('client_name').execute();

      await createTable(db, kind, 'identities')
        .addColumn('client_name', t.text, (c) => c.primaryKey())
        .addColumn('public_key', t.text, (c) => c.notNull().unique())
        .addColumn('enrolled_at', t.integer, (c) => c.notNull())
        .addColumn('revoked_at', t.integer)
        .execute();
    },
  },
  {
    version: 3,
    name: 'learned generator of the data-free mode, after each round that trained it',
    async up(db, kind) {
      const t = columnTypes(kind);
      await createTable(db, kind, 'generator_states')
        .addColumn('round', t.integer, (c) => c.primaryKey().references('rounds.number'))
        .addColumn('generator', t.blob, (c) => c.notNull())
        .addColumn('optimiser', t.blob, (c) => c.notNull())
        .addColumn('created_at', t.integer, (c) => c.notNull())
        .execute();
    },
  },
  {
    version: 4,
    name: "client reputations: each client's agreement with the robust consensus, per round (reputation rule)",
    async up(db, kind) {
      const t = columnTypes(kind);
      await createTable(db, kind, 'client_reputations')
        .addColumn('client_id', t.text, (c) => c.notNull().references('clients.id'))
        .addColumn('round', t.integer, (c) => c.notNull().references('rounds.number'))
        .addColumn('agreement', t.real, (c) => c.notNull().check(sql`agreement >= -1e-6 AND agreement <= 1 + 1e-6`))
        .addColumn('reputation', t.real, (c) => c.notNull())
        .addColumn('weight', t.real, (c) => c.notNull().check(sql`weight >= 0`))
        .addColumn('flagged', t.integer, (c) => c.notNull().check(sql`flagged IN (0, 1)`))
        .addPrimaryKeyConstraint('client_reputations_pkey', ['client_id', 'round'])
        .execute();
      await db.schema.createIndex('client_reputations_by_round').on('client_reputations').column('round').execute();
    },
  },
  {
    version: 5,
    name: 'REST API tokens (admin and read scopes), stored as SHA-256',
    async up(db, kind) {
      const t = columnTypes(kind);
      await createTable(db, kind, 'api_tokens')
        .addColumn('id', t.integer, (c) => (kind === 'sqlite' ? c.primaryKey() : c.primaryKey().generatedByDefaultAsIdentity()))
        .addColumn('name', t.text, (c) => c.notNull().check(sql`length(name) > 0`))
        .addColumn('scope', t.text, (c) => c.notNull().check(sql`scope IN ('admin', 'read')`))
        .addColumn('token_hash', t.text, (c) => c.notNull().unique().check(sql`length(token_hash) = 64`))
        .addColumn('created_at', t.integer, (c) => c.notNull())
        .addColumn('revoked_at', t.integer)
        .execute();
      await db.schema.createIndex('api_tokens_active_name').unique().on('api_tokens').column('name').where(sql.ref('revoked_at'), 'is', null).execute();
    },
  },
  {
    version: 6,
    name: "participant status 'not-needed' (the round closed at its target number of answers)",
    async up(db, kind) {
      if (kind === 'postgres') {
        await sql`ALTER TABLE round_participants DROP CONSTRAINT round_participants_status`.execute(db);
        await sql`ALTER TABLE round_participants ADD CONSTRAINT round_participants_status CHECK (status IN ${sql.raw(PARTICIPANT_STATUSES_V6_SQL)})`.execute(db);
        return;
      }
      // SQLite cannot alter a CHECK constraint: rebuild the table with the new one and copy the rows.
      await createParticipantsTable(db, kind, 'round_participants_v6', PARTICIPANT_STATUSES_V6_SQL);
      await sql`INSERT INTO round_participants_v6 (round, client_id, status, reason, bytes_uploaded, answered_at)
        SELECT round, client_id, status, reason, bytes_uploaded, answered_at FROM round_participants`.execute(db);
      await db.schema.dropTable('round_participants').execute();
      await db.schema.alterTable('round_participants_v6').renameTo('round_participants').execute();
      await db.schema.createIndex('round_participants_by_client').on('round_participants').column('client_id').execute();
    },
  },
  {
    version: 7,
    name: 'running per-client RDP curves (cumulative RDP over an order grid), backfilled from the stored rounds',
    async up(db, kind) {
      const t = columnTypes(kind);
      await createTable(db, kind, 'client_privacy_curves')
        .addColumn('client_id', t.text, (c) => c.primaryKey().references('clients.id'))
        .addColumn('orders', t.json, (c) => c.notNull().check(jsonCheck(kind, 'orders')))
        .addColumn('rdp', t.blob, (c) => c.notNull())
        .addColumn('private_rounds', t.integer, (c) => c.notNull().check(sql`private_rounds >= 0`))
        .addColumn('through_round', t.integer, (c) => c.notNull().check(sql`through_round >= 0`))
        .execute();
      // Once, with the full recomputation: an upgraded database reports the numbers it reported before.
      await backfillPrivacyCurves(db as Kysely<CoordinatorSchema>);
    },
  },
  {
    version: 8,
    name: "replay buffer: every round's questions and aggregated answers the student rehearses (--replay-size)",
    async up(db, kind) {
      const t = columnTypes(kind);
      await createTable(db, kind, 'replay_examples')
        .addColumn('round', t.integer, (c) => c.primaryKey().check(sql`round >= 1`))
        .addColumn('count', t.integer, (c) => c.notNull().check(sql`count >= 1`))
        .addColumn('input_shape', t.json, (c) => c.notNull().check(jsonCheck(kind, 'input_shape')))
        .addColumn('encoding', t.text, (c) => c.notNull().check(sql`encoding IN ('uint8', 'float32')`))
        .addColumn('inputs', t.blob, (c) => c.notNull())
        .addColumn('targets', t.blob, (c) => c.notNull())
        .execute();
    },
  },
];

/** The table that records which migrations ran, and when (epoch milliseconds). */
export const SCHEMA_MIGRATIONS_TABLE = 'schema_migrations';

/** The PostgreSQL advisory lock that serialises replicas migrating the same database at once. */
const MIGRATION_LOCK = 0x66_6b_64_01;

export interface AppliedMigration {
  version: number;
  name: string;
  appliedAt: number;
}

/**
 * Brings the schema up to the last of `migrations`, each migration and its record in one
 * transaction (a failing migration leaves the previous version intact). What is already applied
 * is read inside a transaction that holds the database's write lock (SQLite's BEGIN IMMEDIATE, a
 * PostgreSQL advisory lock), so two processes opening the same database at once do not both run a
 * migration. Returns the schema version afterwards.
 */
export async function applyMigrations(
  db: Kysely<any>,
  kind: DatabaseKind,
  migrations: readonly Migration[] = MIGRATIONS,
  now: () => number = Date.now,
): Promise<number> {
  checkMigrationList(migrations);
  const t = columnTypes(kind);
  // Under the lock too: two PostgreSQL sessions running CREATE TABLE IF NOT EXISTS at once can both try to create it.
  await locked(db, kind, (conn) =>
    createTable(conn, kind, SCHEMA_MIGRATIONS_TABLE)
      .ifNotExists()
      .addColumn('version', t.integer, (c) => c.primaryKey())
      .addColumn('name', t.text, (c) => c.notNull())
      .addColumn('applied_at', t.integer, (c) => c.notNull())
      .execute(),
  );
  const known = migrations.length === 0 ? 0 : migrations[migrations.length - 1].version;
  const readVersion = async (conn: Kysely<any>): Promise<number> => {
    const row = await conn.selectFrom(SCHEMA_MIGRATIONS_TABLE).select((eb) => eb.fn.max('version').as('version')).executeTakeFirst();
    const version = Number(row?.version ?? 0);
    if (version > known) {
      throw new PersistenceError(
        'SCHEMA_TOO_NEW',
        `database schema version ${version} is newer than this coordinator understands (up to ${known}); use a newer coordinator`,
      );
    }
    return version;
  };

  for (const migration of migrations) {
    await locked(db, kind, async (conn) => {
      if (migration.version <= (await readVersion(conn))) return;
      await migration.up(conn, kind);
      await conn.insertInto(SCHEMA_MIGRATIONS_TABLE).values({ version: migration.version, name: migration.name, applied_at: now() }).execute();
    });
  }
  return readVersion(db);
}

/** Runs `fn` on one connection in a transaction that holds the database's write lock (SQLite's BEGIN IMMEDIATE, a PostgreSQL advisory lock). */
async function locked(db: Kysely<any>, kind: DatabaseKind, fn: (conn: Kysely<any>) => Promise<unknown>): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql.raw(kind === 'sqlite' ? 'BEGIN IMMEDIATE' : 'BEGIN').execute(conn);
    try {
      if (kind === 'postgres') await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(conn);
      await fn(conn);
      await sql.raw('COMMIT').execute(conn);
    } catch (error) {
      await sql.raw('ROLLBACK').execute(conn).catch(() => undefined);
      throw error;
    }
  });
}

/** What the schema_migrations table holds, oldest first. */
export async function appliedMigrations(db: Kysely<any>): Promise<AppliedMigration[]> {
  const rows = await db.selectFrom(SCHEMA_MIGRATIONS_TABLE).select(['version', 'name', 'applied_at']).orderBy('version').execute();
  return rows.map((r) => ({ version: Number(r.version), name: String(r.name), appliedAt: Number(r.applied_at) }));
}

function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`migration list is malformed: entry ${i} has version ${m.version}, expected ${i + 1}`);
    }
  });
}
