import type { Kysely, Selectable } from 'kysely';
import type { EnrolmentTokenRecord, IdentitiesRepository, IdentityRecord } from './identities.repository';
import { PersistenceError } from './persistence-error';
import type { CoordinatorSchema } from './schema';
import { asPersistenceError, constraintViolation, inTransaction } from './sql-dialect';

type TokenRow = Selectable<CoordinatorSchema['enrolment_tokens']>;
type IdentityRow = Selectable<CoordinatorSchema['identities']>;

const toToken = (r: TokenRow): EnrolmentTokenRecord => ({
  clientName: r.client_name,
  tokenHash: r.token_hash,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
});

const toIdentity = (r: IdentityRow): IdentityRecord => ({
  clientName: r.client_name,
  publicKey: r.public_key,
  enrolledAt: r.enrolled_at,
  revokedAt: r.revoked_at,
});

/** Enrolment tokens and enrolled identities, on SQLite or PostgreSQL. */
export class SqlIdentitiesRepository implements IdentitiesRepository {
  constructor(
    private readonly db: Kysely<CoordinatorSchema>,
    private readonly now: () => number = Date.now,
  ) {}

  async addToken(token: Omit<EnrolmentTokenRecord, 'usedAt' | 'createdAt'>): Promise<EnrolmentTokenRecord> {
    const createdAt = this.now();
    try {
      await this.db
        .insertInto('enrolment_tokens')
        .values({ client_name: token.clientName, token_hash: token.tokenHash, created_at: createdAt, expires_at: token.expiresAt })
        .execute();
    } catch (error) {
      throw asPersistenceError(error, `cannot store an enrolment token for ${token.clientName}`);
    }
    return { ...token, createdAt, usedAt: null };
  }

  async findToken(tokenHash: string): Promise<EnrolmentTokenRecord | null> {
    const row = await this.db.selectFrom('enrolment_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row ? toToken(row) : null;
  }

  async enrol(tokenHash: string, clientName: string, publicKey: string): Promise<IdentityRecord> {
    return inTransaction(this.db, async (trx) => {
      const used = await trx
        .updateTable('enrolment_tokens')
        .set({ used_at: this.now() })
        .where('token_hash', '=', tokenHash)
        .where('client_name', '=', clientName)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      if (used.numUpdatedRows !== 1n) throw new PersistenceError('ALREADY_EXISTS', `enrolment token for ${clientName} is unknown or already used`);
      const holder = await trx.selectFrom('identities').select('client_name').where('public_key', '=', publicKey).executeTakeFirst();
      if (holder && holder.client_name !== clientName) {
        throw new PersistenceError('ALREADY_EXISTS', `that public key is already enrolled as ${holder.client_name}`);
      }
      try {
        await trx
          .insertInto('identities')
          .values({ client_name: clientName, public_key: publicKey, enrolled_at: this.now() })
          .onConflict((oc) =>
            oc.column('client_name').doUpdateSet((eb) => ({
              public_key: eb.ref('excluded.public_key'),
              enrolled_at: eb.ref('excluded.enrolled_at'),
              revoked_at: null,
            })),
          )
          .execute();
      } catch (error) {
        // Another replica enrolled the same key under another name since the check above.
        if (constraintViolation(error) === 'unique') {
          throw new PersistenceError('ALREADY_EXISTS', 'that public key is already enrolled as another client', { cause: error });
        }
        throw asPersistenceError(error, `cannot enrol ${clientName}`);
      }
      // A re-enrolled client is reinstated (revocation is undone only by a new one-time token).
      await trx.updateTable('clients').set({ status: 'active' }).where('name', '=', clientName).execute();
      return toIdentity(await trx.selectFrom('identities').selectAll().where('client_name', '=', clientName).executeTakeFirstOrThrow());
    });
  }

  async get(clientName: string): Promise<IdentityRecord | null> {
    const row = await this.db.selectFrom('identities').selectAll().where('client_name', '=', clientName).executeTakeFirst();
    return row ? toIdentity(row) : null;
  }

  async list(): Promise<IdentityRecord[]> {
    const rows = await this.db.selectFrom('identities').selectAll().execute();
    return rows.sort((a, b) => (a.client_name < b.client_name ? -1 : a.client_name > b.client_name ? 1 : 0)).map(toIdentity);
  }

  async revoke(clientName: string): Promise<IdentityRecord> {
    return inTransaction(this.db, async (trx) => {
      const revoked = await trx.updateTable('identities').set({ revoked_at: this.now() }).where('client_name', '=', clientName).returningAll().executeTakeFirst();
      if (!revoked) throw new PersistenceError('NOT_FOUND', `no enrolled client named ${clientName}`);
      await trx.updateTable('clients').set({ status: 'revoked' }).where('name', '=', clientName).execute();
      return toIdentity(revoked);
    });
  }
}
