import type Database from 'better-sqlite3';
import type { ApiTokenRecord, ApiTokenScope, ApiTokensRepository } from './api-tokens.repository';
import { PersistenceError } from './persistence-error';

interface ApiTokenRow {
  id: number;
  name: string;
  scope: ApiTokenScope;
  token_hash: string;
  created_at: number;
  revoked_at: number | null;
}

const toRecord = (r: ApiTokenRow): ApiTokenRecord => ({
  id: r.id,
  name: r.name,
  scope: r.scope,
  tokenHash: r.token_hash,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

export class SqliteApiTokensRepository implements ApiTokensRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {}

  add(token: { name: string; scope: ApiTokenScope; tokenHash: string }): ApiTokenRecord {
    if (this.db.prepare<[string], { id: number }>('SELECT id FROM api_tokens WHERE name = ? AND revoked_at IS NULL').get(token.name)) {
      throw new PersistenceError('ALREADY_EXISTS', `an unrevoked API token is already named ${token.name}: revoke it first or choose another name`);
    }
    const createdAt = this.now();
    const { lastInsertRowid } = this.db
      .prepare('INSERT INTO api_tokens (name, scope, token_hash, created_at) VALUES (?, ?, ?, ?)')
      .run(token.name, token.scope, token.tokenHash, createdAt);
    return { id: Number(lastInsertRowid), ...token, createdAt, revokedAt: null };
  }

  findByHash(tokenHash: string): ApiTokenRecord | null {
    const row = this.db.prepare<[string], ApiTokenRow>('SELECT * FROM api_tokens WHERE token_hash = ?').get(tokenHash);
    return row ? toRecord(row) : null;
  }

  list(): ApiTokenRecord[] {
    return this.db.prepare<[], ApiTokenRow>('SELECT * FROM api_tokens ORDER BY id').all().map(toRecord);
  }

  revoke(idOrName: string): ApiTokenRecord {
    return this.db.transaction(() => {
      const byId = /^\d+$/.test(idOrName) ? this.db.prepare<[number], ApiTokenRow>('SELECT * FROM api_tokens WHERE id = ?').get(Number(idOrName)) : undefined;
      const row = byId ?? this.db.prepare<[string], ApiTokenRow>('SELECT * FROM api_tokens WHERE name = ? AND revoked_at IS NULL').get(idOrName);
      if (!row) throw new PersistenceError('NOT_FOUND', `no API token with id or (unrevoked) name ${idOrName}`);
      if (row.revoked_at === null) this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ?').run(this.now(), row.id);
      return toRecord(this.db.prepare<[number], ApiTokenRow>('SELECT * FROM api_tokens WHERE id = ?').get(row.id)!);
    })();
  }
}
