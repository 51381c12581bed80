import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CoordinatorDatabase } from '../persistence/coordinator-database';
import { API_TOKEN_SCOPES, type ApiTokenRecord, type ApiTokenScope } from '../persistence/api-tokens.repository';

/**
 * REST API tokens: 32 random bytes as base64url behind a prefix that says what the token is
 * (`fedkd_adm_...` for admin, `fedkd_read_...` for read), so that a leaked one is recognisable in a
 * log or a repository scan. Only the SHA-256 of a token is stored; the token is shown once.
 */
export const API_TOKEN_PREFIX: Record<ApiTokenScope, string> = { admin: 'fedkd_adm_', read: 'fedkd_read_' };
const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^fedkd_(adm|read)_[A-Za-z0-9_-]{43}$/;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Creates and stores a token named `name` with `scope`; returns the token (show it once) and its record. */
export async function createApiToken(db: CoordinatorDatabase, name: string, scope: ApiTokenScope): Promise<{ token: string; record: ApiTokenRecord }> {
  if (!NAME_PATTERN.test(name)) throw new Error(`token name must be 1-64 letters, digits, '.', '_', '@' or '-' (starting with a letter or digit), got ${JSON.stringify(name)}`);
  if (!API_TOKEN_SCOPES.includes(scope)) throw new Error(`token scope must be ${API_TOKEN_SCOPES.join(' or ')}, got ${JSON.stringify(scope)}`);
  const token = `${API_TOKEN_PREFIX[scope]}${randomBytes(TOKEN_BYTES).toString('base64url')}`;
  const record = await db.apiTokens.add({ name, scope, tokenHash: hashApiToken(token) });
  return { token, record };
}

export type ApiTokenRefusal = { ok: false; code: 'UNAUTHENTICATED'; message: string };

/**
 * The unrevoked token record a presented token stands for, or why not. The stored hash is looked
 * up by the presented token's hash and then compared in constant time.
 */
export async function authenticateApiToken(db: CoordinatorDatabase, token: string): Promise<{ ok: true; value: ApiTokenRecord } | ApiTokenRefusal> {
  if (!TOKEN_PATTERN.test(token)) return { ok: false, code: 'UNAUTHENTICATED', message: 'the bearer token is not a fedkd API token (fedkd_adm_... or fedkd_read_...)' };
  const presented = Buffer.from(hashApiToken(token), 'hex');
  const record = await db.apiTokens.findByHash(presented.toString('hex'));
  if (!record || !timingSafeEqual(Buffer.from(record.tokenHash, 'hex'), presented)) {
    return { ok: false, code: 'UNAUTHENTICATED', message: 'unknown API token' };
  }
  if (record.revokedAt !== null) return { ok: false, code: 'UNAUTHENTICATED', message: `API token ${record.name} (id ${record.id}) was revoked` };
  return { ok: true, value: record };
}

/** Whether a token of `scope` may do what `needed` asks: admin implies read. */
export function scopeAllows(scope: ApiTokenScope, needed: ApiTokenScope): boolean {
  return scope === 'admin' || scope === needed;
}
