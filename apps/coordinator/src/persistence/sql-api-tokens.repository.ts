import type { Kysely, Selectable } from 'kysely';
import type { ApiTokenRecord, ApiTokenScope, ApiTokensRepository } from './api-tokens.repository';
import { PersistenceError } from './persistence-error';
import type { CoordinatorSchema } from './schema';
import { asPersistenceError, inTransaction } from './sql-dialect';

type ApiTokenRow = Selectable<CoordinatorSchema['api_tokens']>;

const toRecord = (r: ApiTokenRow): ApiTokenRecord => ({
  id: r.id,
  name: r.name,
  scope: r.scope as ApiTokenScope,
  tokenHash: r.token_hash,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

/** REST API tokens, on SQLite or PostgreSQL. */
export class SqlApiTokensRepository implements ApiTokensRepository {
  constructor(
    private readonly db: Kysely<CoordinatorSchema>,
    private readonly now: () => number = Date.now,
  ) {}

  async add(token: { name: string; scope: ApiTokenScope; tokenHash: string }): Promise<ApiTokenRecord> {
    const createdAt = this.now();
    // Conditional on the unique index of unrevoked names: of two replicas adding one name at once, one stores nothing.
    const inserted = await this.db
      .insertInto('api_tokens')
      .values({ name: token.name, scope: token.scope, token_hash: token.tokenHash, created_at: createdAt })
      .onConflict((oc) => oc.column('name').where('revoked_at', 'is', null).doNothing())
      .returning('id')
      .executeTakeFirst()
      .catch((error: unknown) => {
        throw asPersistenceError(error, `cannot store API token ${token.name}`);
      });
    if (!inserted) {
      throw new PersistenceError('ALREADY_EXISTS', `an unrevoked API token is already named ${token.name}: revoke it first or choose another name`);
    }
    return { id: inserted.id, ...token, createdAt, revokedAt: null };
  }

  async findByHash(tokenHash: string): Promise<ApiTokenRecord | null> {
    const row = await this.db.selectFrom('api_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async list(): Promise<ApiTokenRecord[]> {
    const rows = await this.db.selectFrom('api_tokens').selectAll().orderBy('id').execute();
    return rows.map(toRecord);
  }

  async revoke(idOrName: string): Promise<ApiTokenRecord> {
    return inTransaction(this.db, async (trx) => {
      const id = /^\d+$/.test(idOrName) ? Number(idOrName) : undefined;
      const byId = id !== undefined && Number.isSafeInteger(id) ? await trx.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst() : undefined;
      const row = byId ?? (await trx.selectFrom('api_tokens').selectAll().where('name', '=', idOrName).where('revoked_at', 'is', null).executeTakeFirst());
      if (!row) throw new PersistenceError('NOT_FOUND', `no API token with id or (unrevoked) name ${idOrName}`);
      if (row.revoked_at !== null) return toRecord(row);
      // Only if still unrevoked: a replica that revoked it first keeps its revocation time.
      const revoked = await trx
        .updateTable('api_tokens')
        .set({ revoked_at: this.now() })
        .where('id', '=', row.id)
        .where('revoked_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      return toRecord(revoked ?? (await trx.selectFrom('api_tokens').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow()));
    });
  }
}
