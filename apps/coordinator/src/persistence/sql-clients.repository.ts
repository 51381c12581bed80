import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { ArchitectureDescription } from '@fedkd/engine';
import type { ClientConnection, ClientRecord, ClientsRepository, ClientStatus } from './clients.repository';
import { isPlainObject, readJsonColumn, toJsonObjectText } from './json-column';
import { PersistenceError } from './persistence-error';
import type { CoordinatorSchema } from './schema';
import { asPersistenceError } from './sql-dialect';

type ClientRow = Selectable<CoordinatorSchema['clients']>;

const CLIENT_STATUSES: readonly ClientStatus[] = ['active', 'revoked'];

/** The clients table, on SQLite or PostgreSQL. */
export class SqlClientsRepository implements ClientsRepository {
  constructor(
    private readonly db: Kysely<CoordinatorSchema>,
    private readonly now: () => number = Date.now,
  ) {}

  async upsertOnConnect(connection: ClientConnection): Promise<ClientRecord> {
    const { name } = connection;
    if (typeof name !== 'string' || name.length === 0) {
      throw new PersistenceError('INVALID_VALUE', 'client name must be a non-empty string');
    }
    const architecture = toJsonObjectText(connection.architecture, `architecture of client ${name}`);
    const sampleCount = connection.sampleCount ?? null;
    if (sampleCount !== null && !(Number.isSafeInteger(sampleCount) && sampleCount >= 0)) {
      throw new PersistenceError('INVALID_VALUE', `sample count of client ${name} must be a non-negative integer, got ${sampleCount}`);
    }
    const seenAt = connection.seenAt ?? this.now();
    // One statement: two replicas registering the same new client at once both get its one row.
    const row = await this.db
      .insertInto('clients')
      .values({ id: newClientId(), name, architecture, sample_count: sampleCount, first_seen_at: seenAt, last_seen_at: seenAt, status: 'active' })
      .onConflict((oc) =>
        oc.column('name').doUpdateSet((eb) => ({
          architecture: eb.ref('excluded.architecture'),
          sample_count: eb.ref('excluded.sample_count'),
          last_seen_at: eb.ref('excluded.last_seen_at'),
        })),
      )
      .returningAll()
      .executeTakeFirstOrThrow()
      .catch((error: unknown) => {
        throw asPersistenceError(error, `cannot store client ${name}`);
      });
    return toClientRecord(row);
  }

  async getById(id: string): Promise<ClientRecord | null> {
    const row = await this.db.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toClientRecord(row) : null;
  }

  async getByName(name: string): Promise<ClientRecord | null> {
    const row = await this.db.selectFrom('clients').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? toClientRecord(row) : null;
  }

  async list(): Promise<ClientRecord[]> {
    const rows = await this.db.selectFrom('clients').selectAll().execute();
    return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(toClientRecord);
  }

  async setStatus(id: string, status: ClientStatus): Promise<ClientRecord> {
    if (!CLIENT_STATUSES.includes(status)) {
      throw new PersistenceError('INVALID_VALUE', `client status must be one of ${CLIENT_STATUSES.join(', ')}, got ${String(status)}`);
    }
    const row = await this.db.updateTable('clients').set({ status }).where('id', '=', id).returningAll().executeTakeFirst();
    if (!row) throw new PersistenceError('NOT_FOUND', `no client with id ${id}`);
    return toClientRecord(row);
  }
}

/** 48 random bits: unique among any realistic federation, short enough for logs. */
function newClientId(): string {
  return `c-${randomBytes(6).toString('hex')}`;
}

function toClientRecord(row: ClientRow): ClientRecord {
  const at = { table: 'clients', row: `id='${row.id}'` };
  if (!CLIENT_STATUSES.includes(row.status as ClientStatus)) {
    throw new PersistenceError('CORRUPT_ROW', `clients row ${at.row}, column status: unknown status ${row.status}`);
  }
  return {
    id: row.id,
    name: row.name,
    architecture: readJsonColumn<ArchitectureDescription>(row.architecture, { ...at, column: 'architecture' }, describeArchitectureProblem),
    sampleCount: row.sample_count,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    status: row.status as ClientStatus,
  };
}

/**
 * A light structural check of a stored ModelSpec (kind, input shape, classes). The full check is
 * libs/engine's, at the protocol boundary; this one only catches a row that is not a spec at all.
 */
function describeArchitectureProblem(value: unknown): string | null {
  if (!isPlainObject(value)) return 'expected a ModelSpec object';
  if (value.kind !== 'mlp' && value.kind !== 'cnn' && value.kind !== 'layers') return `expected a ModelSpec with kind 'mlp', 'cnn' or 'layers', got ${JSON.stringify(value.kind)}`;
  if (!Array.isArray(value.inputShape) || (value.inputShape.length !== 3 && value.inputShape.length !== 1)) return 'expected a ModelSpec with a 1- or 3-element inputShape';
  if (typeof value.classes !== 'number') return 'expected a ModelSpec with a numeric classes';
  return null;
}
