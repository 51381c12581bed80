import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { expectJsonObject, readJsonColumn, toJsonObjectText, type JsonObject } from './json-column';
import type { ModelsRepository, ModelVersionInfo, NewModelVersion } from './models.repository';
import { PersistenceError } from './persistence-error';

interface ModelInfoRow {
  version: number;
  round: number;
  sha256: string;
  byte_length: number;
  metrics: string;
  created_at: number;
}

interface ModelBlobRow {
  sha256: string;
  byte_length: number;
  blob: Buffer;
}

const INFO_COLUMNS = 'version, round, sha256, byte_length, metrics, created_at';
const SHA256_HEX = /^[0-9a-f]{64}$/;

export class SqliteModelsRepository implements ModelsRepository {
  private readonly selectMaxVersion: Database.Statement<[], { v: number | null }>;
  private readonly selectInfo: Database.Statement<[number], ModelInfoRow>;
  private readonly selectLatest: Database.Statement<[], ModelInfoRow>;
  private readonly selectAll: Database.Statement<[], ModelInfoRow>;
  private readonly selectBlob: Database.Statement<[number], ModelBlobRow>;
  private readonly roundExists: Database.Statement<[number], { number: number }>;
  private readonly insert: Database.Statement<[number, number, string, Buffer, number, string, number]>;
  private readonly addTransaction: (model: NewModelVersion, sha256: string, metrics: string) => ModelVersionInfo;

  constructor(
    db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {
    this.selectMaxVersion = db.prepare('SELECT max(version) AS v FROM models');
    this.selectInfo = db.prepare(`SELECT ${INFO_COLUMNS} FROM models WHERE version = ?`);
    this.selectLatest = db.prepare(`SELECT ${INFO_COLUMNS} FROM models ORDER BY version DESC LIMIT 1`);
    this.selectAll = db.prepare(`SELECT ${INFO_COLUMNS} FROM models ORDER BY version DESC`);
    this.selectBlob = db.prepare('SELECT sha256, byte_length, blob FROM models WHERE version = ?');
    this.roundExists = db.prepare('SELECT number FROM rounds WHERE number = ?');
    this.insert = db.prepare(
      'INSERT INTO models (version, round, sha256, blob, byte_length, metrics, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.addTransaction = db.transaction((model: NewModelVersion, sha256: string, metrics: string): ModelVersionInfo => {
      const { version, round } = model;
      const existing = this.selectInfo.get(version);
      if (existing) {
        throw new PersistenceError(
          'ALREADY_EXISTS',
          `model version ${version} already exists (sha256 ${existing.sha256}); model versions are immutable`,
        );
      }
      const latest = this.selectMaxVersion.get()?.v ?? 0;
      if (version <= latest) {
        throw new PersistenceError('INVALID_VALUE', `model versions increase: ${version} does not come after the latest version ${latest}`);
      }
      if (!this.roundExists.get(round)) {
        throw new PersistenceError('NOT_FOUND', `model version ${version}: no round ${round}`);
      }
      const bytes = Buffer.from(model.blob.buffer, model.blob.byteOffset, model.blob.byteLength);
      this.insert.run(version, round, sha256, bytes, bytes.byteLength, metrics, model.createdAt ?? this.now());
      return this.get(version)!;
    });
  }

  nextVersion(): number {
    return (this.selectMaxVersion.get()?.v ?? 0) + 1;
  }

  add(model: NewModelVersion): ModelVersionInfo {
    const { version } = model;
    if (!Number.isSafeInteger(version) || version <= 0) {
      throw new PersistenceError('INVALID_VALUE', `model version must be a positive integer, got ${version}`);
    }
    if (!(model.blob instanceof Uint8Array)) {
      throw new PersistenceError('INVALID_VALUE', `model version ${version}: blob must be a Uint8Array`);
    }
    const sha256 = sha256Hex(model.blob);
    if (model.sha256 !== undefined && model.sha256.toLowerCase() !== sha256) {
      throw new PersistenceError(
        'INVALID_VALUE',
        `model version ${version}: the given sha256 ${model.sha256} is not the blob's (${sha256})`,
      );
    }
    const metrics = toJsonObjectText(model.metrics, `metrics of model version ${version}`);
    return this.addTransaction(model, sha256, metrics);
  }

  latest(): ModelVersionInfo | null {
    const row = this.selectLatest.get();
    return row ? toModelInfo(row) : null;
  }

  get(version: number): ModelVersionInfo | null {
    const row = this.selectInfo.get(version);
    return row ? toModelInfo(row) : null;
  }

  getBlob(version: number): Uint8Array | null {
    const row = this.selectBlob.get(version);
    if (!row) return null;
    const blob = new Uint8Array(row.blob.buffer, row.blob.byteOffset, row.blob.byteLength);
    if (blob.byteLength !== row.byte_length || sha256Hex(blob) !== row.sha256) {
      throw new PersistenceError(
        'CORRUPT_ROW',
        `models row version=${version}, column blob: ${blob.byteLength} bytes do not match the stored length ${row.byte_length} and sha256 ${row.sha256}`,
      );
    }
    return blob;
  }

  list(): ModelVersionInfo[] {
    return this.selectAll.all().map(toModelInfo);
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function toModelInfo(row: ModelInfoRow): ModelVersionInfo {
  const at = { table: 'models', row: `version=${row.version}` };
  if (!SHA256_HEX.test(row.sha256)) {
    throw new PersistenceError('CORRUPT_ROW', `models row ${at.row}, column sha256: not a lower-case hex SHA-256`);
  }
  return {
    version: row.version,
    round: row.round,
    sha256: row.sha256,
    byteLength: row.byte_length,
    metrics: readJsonColumn<JsonObject>(row.metrics, { ...at, column: 'metrics' }, expectJsonObject),
    createdAt: row.created_at,
  };
}
