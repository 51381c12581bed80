import { afterEach, describe, expect, it } from 'vitest';
import type { CoordinatorDatabase } from '../persistence/coordinator-database';
import { DATABASE_KINDS, makeManualClock, openTestDatabase } from '../persistence/persistence.testing';
import { authenticateApiToken, createApiToken, hashApiToken, scopeAllows } from './api-tokens';

describe.each(DATABASE_KINDS)('REST API tokens on %s', (kind) => {
  let db: CoordinatorDatabase;
  const clock = makeManualClock();
  afterEach(() => db?.close());
  const open = async () => (db = await openTestDatabase(kind, { now: clock.now }));

  it('creates recognisable high-entropy tokens and stores only their SHA-256', async () => {
    await open();
    const admin = await createApiToken(db, 'ops', 'admin');
    const read = await createApiToken(db, 'dashboard', 'read');
    expect(admin.token).toMatch(/^fedkd_adm_[A-Za-z0-9_-]{43}$/);
    expect(read.token).toMatch(/^fedkd_read_[A-Za-z0-9_-]{43}$/);
    expect((await db.apiTokens.list()).map((t) => t.tokenHash)).toEqual([hashApiToken(admin.token), hashApiToken(read.token)]);
    const stored = JSON.stringify(await db.kysely.selectFrom('api_tokens').selectAll().execute());
    expect(stored).not.toContain(admin.token.slice(10));
    expect(stored).not.toContain(read.token.slice(11));
  });

  it('authenticates a stored token and refuses unknown, malformed and revoked ones with reasons', async () => {
    await open();
    const { token, record } = await createApiToken(db, 'ops', 'admin');
    expect(await authenticateApiToken(db, token)).toEqual({ ok: true, value: record });
    expect(await authenticateApiToken(db, `fedkd_adm_${'x'.repeat(43)}`)).toMatchObject({ ok: false, code: 'UNAUTHENTICATED', message: 'unknown API token' });
    expect(await authenticateApiToken(db, 'hunter2')).toMatchObject({ ok: false, message: expect.stringContaining('not a fedkd API token') });
    clock.advance(1000);
    await db.apiTokens.revoke(String(record.id));
    expect(await authenticateApiToken(db, token)).toMatchObject({ ok: false, message: 'API token ops (id 1) was revoked' });
  });

  it('revokes by id or name, keeps the first revocation time, and frees the name for a new token', async () => {
    await open();
    const first = (await createApiToken(db, 'ops', 'read')).record;
    await expect(createApiToken(db, 'ops', 'admin')).rejects.toThrow(/already named ops/);
    const revokedAt = (await db.apiTokens.revoke('ops')).revokedAt;
    expect(revokedAt).toBe(clock.t);
    clock.advance(5000);
    expect((await db.apiTokens.revoke(String(first.id))).revokedAt).toBe(revokedAt);
    // A new id (PostgreSQL's identity may skip the one the refused insert drew).
    const second = (await createApiToken(db, 'ops', 'admin')).record;
    expect(second).toMatchObject({ name: 'ops', scope: 'admin', revokedAt: null });
    expect(second.id).toBeGreaterThan(first.id);
    await expect(db.apiTokens.revoke('nobody')).rejects.toThrow(/no API token with id or \(unrevoked\) name nobody/);
  });

  it('refuses names and scopes it cannot store, naming the problem', async () => {
    await open();
    await expect(createApiToken(db, '', 'read')).rejects.toThrow(/token name must be/);
    await expect(createApiToken(db, 'a b', 'read')).rejects.toThrow(/token name must be/);
    await expect(createApiToken(db, 'ops', 'root' as 'read')).rejects.toThrow(/token scope must be admin or read, got "root"/);
  });

  it('lets admin do everything read does, and read nothing admin does', () => {
    expect([scopeAllows('admin', 'admin'), scopeAllows('admin', 'read'), scopeAllows('read', 'read'), scopeAllows('read', 'admin')]).toEqual([true, true, true, false]);
  });
});
