import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { ArchitectureDescription } from '@fedkd/engine';
import type { ClientConnection, ClientRecord, ClientsRepository, ClientStatus } from './clients.repository';
import { isPlainObject, readJsonColumn, toJsonObjectText } from './json-column';
import { PersistenceError } from './persistence-error';

interface ClientRow {
  id: string;
  name: string;
  architecture: string;
  sample_count: number | null;
  first_seen_at: number;
  last_seen_at: number;
  status: string;
}

const CLIENT_STATUSES: readonly ClientStatus[] = ['active', 'revoked'];

export class SqliteClientsRepository implements ClientsRepository {
  private readonly selectById: Database.Statement<[string], ClientRow>;
  private readonly selectByName: Database.Statement<[string], ClientRow>;
  private readonly selectAll: Database.Statement<[], ClientRow>;
  private readonly insert: Database.Statement<[string, string, string, number | null, number, number]>;
  private readonly refresh: Database.Statement<[string, number | null, number, string]>;
  private readonly updateStatus: Database.Statement<[string, string]>;
  private readonly upsertTransaction: (connection: ClientConnection) => ClientRecord;

  constructor(
    db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {
    this.selectById = db.prepare('SELECT * FROM clients WHERE id = ?');
    this.selectByName = db.prepare('SELECT * FROM clients WHERE name = ?');
    this.selectAll = db.prepare('SELECT * FROM clients ORDER BY name');
    this.insert = db.prepare(
      `INSERT INTO clients (id, name, architecture, sample_count, first_seen_at, last_seen_at, status)
       VALUES (?, ?, ?, ?, ?, ?, 'active')`,
    );
    this.refresh = db.prepare('UPDATE clients SET architecture = ?, sample_count = ?, last_seen_at = ? WHERE id = ?');
    this.updateStatus = db.prepare('UPDATE clients SET status = ? WHERE id = ?');
    this.upsertTransaction = db.transaction((connection: ClientConnection): ClientRecord => {
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
      const existing = this.selectByName.get(name);
      if (existing) {
        this.refresh.run(architecture, sampleCount, seenAt, existing.id);
        return this.getById(existing.id)!;
      }
      const id = newClientId();
      this.insert.run(id, name, architecture, sampleCount, seenAt, seenAt);
      return this.getById(id)!;
    });
  }

  upsertOnConnect(connection: ClientConnection): ClientRecord {
    return this.upsertTransaction(connection);
  }

  getById(id: string): ClientRecord | null {
    const row = this.selectById.get(id);
    return row ? toClientRecord(row) : null;
  }

  getByName(name: string): ClientRecord | null {
    const row = this.selectByName.get(name);
    return row ? toClientRecord(row) : null;
  }

  list(): ClientRecord[] {
    return this.selectAll.all().map(toClientRecord);
  }

  setStatus(id: string, status: ClientStatus): ClientRecord {
    if (!CLIENT_STATUSES.includes(status)) {
      throw new PersistenceError('INVALID_VALUE', `client status must be one of ${CLIENT_STATUSES.join(', ')}, got ${String(status)}`);
    }
    if (this.updateStatus.run(status, id).changes === 0) {
      throw new PersistenceError('NOT_FOUND', `no client with id ${id}`);
    }
    return this.getById(id)!;
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
