import { sql, type ColumnDataType, type CreateTableBuilder, type Expression, type Kysely } from 'kysely';

/** A column's type as Kysely's schema builder takes it. */
type DataTypeExpression = ColumnDataType | Expression<unknown>;
import { PersistenceError } from './persistence-error';

/** The engines the coordinator stores its state in: SQLite (a file, the default) or PostgreSQL (replicas). */
export type DatabaseKind = 'sqlite' | 'postgres';

/** Whether a --db value names a PostgreSQL server (postgres:// or postgresql://) rather than a SQLite file. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** A PostgreSQL URL with its password replaced by `***`, for logs and error messages. */
export function redactedDatabaseUrl(location: string): string {
  if (!isPostgresUrl(location)) return location;
  try {
    const url = new URL(location);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return location.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

/**
 * The column types the migrations use, per engine: integers are 64-bit on PostgreSQL (epoch
 * milliseconds do not fit 32 bits), reals are double precision, JSON is validated text.
 */
export interface ColumnTypes {
  integer: DataTypeExpression;
  real: DataTypeExpression;
  text: DataTypeExpression;
  blob: DataTypeExpression;
  json: DataTypeExpression;
}

export function columnTypes(kind: DatabaseKind): ColumnTypes {
  return kind === 'sqlite'
    ? { integer: 'integer', real: 'real', text: 'text', blob: 'blob', json: 'text' }
    : { integer: 'bigint', real: 'double precision', text: 'text', blob: 'bytea', json: 'json' };
}

/** CREATE TABLE, STRICT on SQLite (values must match their column's type, as PostgreSQL requires anyway). */
export function createTable(db: Kysely<any>, kind: DatabaseKind, name: string): CreateTableBuilder<string, never> {
  const builder = db.schema.createTable(name);
  return kind === 'sqlite' ? builder.modifyEnd(sql`strict`) : builder;
}

/**
 * The check that a JSON column holds JSON: SQLite's json_valid; on PostgreSQL the json type
 * itself refuses anything else, so the check is always true there.
 */
export function jsonCheck(kind: DatabaseKind, column: string, nullable = false) {
  if (kind === 'postgres') return sql`true`;
  return nullable ? sql`${sql.ref(column)} IS NULL OR json_valid(${sql.ref(column)})` : sql`json_valid(${sql.ref(column)})`;
}

/** Runs `fn` in the transaction `db` is already in, or in a new one. */
export async function inTransaction<DB, T>(db: Kysely<DB>, fn: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}

/** What a constraint violation was, on either engine. */
export type ConstraintKind = 'unique' | 'foreign-key' | 'check' | 'not-null' | 'immutable';

/**
 * Classifies an error thrown by a statement as a constraint violation (SQLite's SQLITE_CONSTRAINT_*
 * codes, PostgreSQL's SQLSTATE class 23 and the models trigger), or undefined for anything else.
 */
export function constraintViolation(error: unknown): ConstraintKind | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  if (/model versions are immutable/.test(message)) return 'immutable';
  if (typeof code !== 'string') return undefined;
  switch (code) {
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
    case 'SQLITE_CONSTRAINT_UNIQUE':
    case '23505':
      return 'unique';
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
    case '23503':
      return 'foreign-key';
    case 'SQLITE_CONSTRAINT_CHECK':
    case '23514':
      return 'check';
    case 'SQLITE_CONSTRAINT_NOTNULL':
    case '23502':
      return 'not-null';
    default:
      return undefined;
  }
}

/** A constraint violation as a PersistenceError (unique → ALREADY_EXISTS, foreign key → NOT_FOUND, else INVALID_VALUE); other errors unchanged. */
export function asPersistenceError(error: unknown, what: string): unknown {
  const kind = constraintViolation(error);
  if (!kind) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const code = kind === 'unique' ? 'ALREADY_EXISTS' : kind === 'foreign-key' ? 'NOT_FOUND' : 'INVALID_VALUE';
  return new PersistenceError(code, `${what}: ${detail}`, { cause: error });
}
