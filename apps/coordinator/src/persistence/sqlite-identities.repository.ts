import type Database from 'better-sqlite3';
import type { EnrolmentTokenRecord, IdentitiesRepository, IdentityRecord } from './identities.repository';
import { PersistenceError } from './persistence-error';

interface TokenRow {
  client_name: string;
  token_hash: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

interface IdentityRow {
  client_name: string;
  public_key: string;
  enrolled_at: number;
  revoked_at: number | null;
}

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

export class SqliteIdentitiesRepository implements IdentitiesRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {}

  addToken(token: Omit<EnrolmentTokenRecord, 'usedAt' | 'createdAt'>): EnrolmentTokenRecord {
    const createdAt = this.now();
    this.db
      .prepare('INSERT INTO enrolment_tokens (client_name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(token.clientName, token.tokenHash, createdAt, token.expiresAt);
    return { ...token, createdAt, usedAt: null };
  }

  findToken(tokenHash: string): EnrolmentTokenRecord | null {
    const row = this.db.prepare<[string], TokenRow>('SELECT * FROM enrolment_tokens WHERE token_hash = ?').get(tokenHash);
    return row ? toToken(row) : null;
  }

  enrol(tokenHash: string, clientName: string, publicKey: string): IdentityRecord {
    return this.db.transaction(() => {
      const used = this.db
        .prepare('UPDATE enrolment_tokens SET used_at = ? WHERE token_hash = ? AND client_name = ? AND used_at IS NULL')
        .run(this.now(), tokenHash, clientName);
      if (used.changes !== 1) throw new PersistenceError('ALREADY_EXISTS', `enrolment token for ${clientName} is unknown or already used`);
      const holder = this.db.prepare<[string], IdentityRow>('SELECT * FROM identities WHERE public_key = ?').get(publicKey);
      if (holder && holder.client_name !== clientName) {
        throw new PersistenceError('ALREADY_EXISTS', `that public key is already enrolled as ${holder.client_name}`);
      }
      this.db
        .prepare(
          `INSERT INTO identities (client_name, public_key, enrolled_at) VALUES (?, ?, ?)
           ON CONFLICT (client_name) DO UPDATE SET public_key = excluded.public_key, enrolled_at = excluded.enrolled_at, revoked_at = NULL`,
        )
        .run(clientName, publicKey, this.now());
      // A re-enrolled client is reinstated (revocation is undone only by a new one-time token).
      this.db.prepare("UPDATE clients SET status = 'active' WHERE name = ?").run(clientName);
      return this.get(clientName)!;
    })();
  }

  get(clientName: string): IdentityRecord | null {
    const row = this.db.prepare<[string], IdentityRow>('SELECT * FROM identities WHERE client_name = ?').get(clientName);
    return row ? toIdentity(row) : null;
  }

  list(): IdentityRecord[] {
    return this.db.prepare<[], IdentityRow>('SELECT * FROM identities ORDER BY client_name').all().map(toIdentity);
  }

  revoke(clientName: string): IdentityRecord {
    const changed = this.db.prepare('UPDATE identities SET revoked_at = ? WHERE client_name = ?').run(this.now(), clientName);
    if (changed.changes !== 1) throw new PersistenceError('NOT_FOUND', `no enrolled client named ${clientName}`);
    this.db.prepare("UPDATE clients SET status = 'revoked' WHERE name = ?").run(clientName);
    return this.get(clientName)!;
  }
}
