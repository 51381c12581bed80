import { createHash } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { expectJsonObject, readJsonColumn, toJsonObjectText, type JsonObject } from './json-column';
import type { ModelsRepository, ModelVersionInfo, NewModelVersion } from './models.repository';
import { PersistenceError } from './persistence-error';
import type { CoordinatorSchema } from './schema';
import { asPersistenceError, constraintViolation, inTransaction } from './sql-dialect';

type ModelInfoRow = Omit<Selectable<CoordinatorSchema['models']>, 'blob'>;

const INFO_COLUMNS = ['version', 'round', 'sha256', 'byte_length', 'metrics', 'created_at'] as const;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The published model versions, on SQLite or PostgreSQL. A version is never overwritten: the
 * repository refuses a taken version, the primary key refuses one another replica added at the same
 * time, and the models_are_immutable trigger refuses any UPDATE.
 */
export class SqlModelsRepository implements ModelsRepository {
  constructor(
    private readonly db: Kysely<CoordinatorSchema>,
    private readonly now: () => number = Date.now,
  ) {}

  async nextVersion(): Promise<number> {
    return (await latestVersion(this.db)) + 1;
  }

  async add(model: NewModelVersion): Promise<ModelVersionInfo> {
    const { version, round } = model;
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
    return inTransaction(this.db, async (trx) => {
      // One statement, so both answers come from one snapshot (PostgreSQL's READ COMMITTED gives each
      // statement its own): a version another replica just added reads as existing, not as "not after it".
      const stored = await trx
        .selectFrom('models')
        .select((eb) => [
          eb.fn.max('version').as('latest'),
          eb.selectFrom('models as m').select('m.sha256').where('m.version', '=', version).as('existing'),
        ])
        .executeTakeFirstOrThrow();
      if (stored.existing !== null && stored.existing !== undefined) {
        throw new PersistenceError(
          'ALREADY_EXISTS',
          `model version ${version} already exists (sha256 ${stored.existing}); model versions are immutable`,
        );
      }
      const latest = Number(stored.latest ?? 0);
      if (version <= latest) {
        throw new PersistenceError('INVALID_VALUE', `model versions increase: ${version} does not come after the latest version ${latest}`);
      }
      if (!(await trx.selectFrom('rounds').select('number').where('number', '=', round).executeTakeFirst())) {
        throw new PersistenceError('NOT_FOUND', `model version ${version}: no round ${round}`);
      }
      const bytes = Buffer.from(model.blob.buffer, model.blob.byteOffset, model.blob.byteLength);
      // Another replica may add the same version between the check and the insert: the primary key decides.
      const row = await trx
        .insertInto('models')
        .values({ version, round, sha256, blob: bytes, byte_length: bytes.byteLength, metrics, created_at: model.createdAt ?? this.now() })
        .returning(INFO_COLUMNS)
        .executeTakeFirstOrThrow()
        .catch((error: unknown) => {
          if (constraintViolation(error) === 'unique') {
            throw new PersistenceError('ALREADY_EXISTS', `model version ${version} already exists; model versions are immutable`, { cause: error });
          }
          throw asPersistenceError(error, `model version ${version}`);
        });
      return toModelInfo(row);
    });
  }

  async latest(): Promise<ModelVersionInfo | null> {
    const row = await this.db.selectFrom('models').select(INFO_COLUMNS).orderBy('version', 'desc').limit(1).executeTakeFirst();
    return row ? toModelInfo(row) : null;
  }

  async get(version: number): Promise<ModelVersionInfo | null> {
    const row = await selectInfo(this.db, version);
    return row ? toModelInfo(row) : null;
  }

  async getBlob(version: number): Promise<Uint8Array | null> {
    const row = await this.db.selectFrom('models').select(['sha256', 'byte_length', 'blob']).where('version', '=', version).executeTakeFirst();
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

  async list(): Promise<ModelVersionInfo[]> {
    const rows = await this.db.selectFrom('models').select(INFO_COLUMNS).orderBy('version', 'desc').execute();
    return rows.map(toModelInfo);
  }
}

async function latestVersion(db: Kysely<CoordinatorSchema>): Promise<number> {
  const row = await db
    .selectFrom('models')
    .select((eb) => eb.fn.max('version').as('v'))
    .executeTakeFirst();
  return Number(row?.v ?? 0);
}

function selectInfo(db: Kysely<CoordinatorSchema>, version: number): Promise<ModelInfoRow | undefined> {
  return db.selectFrom('models').select(INFO_COLUMNS).where('version', '=', version).executeTakeFirst();
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
