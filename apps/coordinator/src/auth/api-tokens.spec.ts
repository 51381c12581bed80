import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type CoordinatorDatabase } from '../persistence/coordinator-database';
import { makeManualClock } from '../persistence/persistence.testing';
import { authenticateApiToken, createApiToken, hashApiToken, scopeAllows } from './api-tokens';

describe('REST API tokens', () => {
  let db: CoordinatorDatabase;
  const clock = makeManualClock();
  afterEach(() => db?.close());
  const open = () => (db = openDatabase(':memory:', { now: clock.now }));

  it('creates recognisable high-entropy tokens and stores only their SHA-256', () => {
    open();
    const admin = createApiToken(db, 'ops', 'admin');
    const read = createApiToken(db, 'dashboard', 'read');
    expect(admin.token).toMatch(/^fedkd_adm_[A-Za-z0-9_-]{43}$/);
    expect(read.token).toMatch(/^fedkd_read_[A-Za-z0-9_-]{43}$/);
    expect(db.apiTokens.list().map((t) => t.tokenHash)).toEqual([hashApiToken(admin.token), hashApiToken(read.token)]);
    const stored = JSON.stringify(db.connection.prepare('SELECT * FROM api_tokens').all());
    expect(stored).not.toContain(admin.token.slice(10));
    expect(stored).not.toContain(read.token.slice(11));
  });

  it('authenticates a stored token and refuses unknown, malformed and revoked ones with reasons', () => {
    open();
    const { token, record } = createApiToken(db, 'ops', 'admin');
    expect(authenticateApiToken(db, token)).toEqual({ ok: true, value: record });
    expect(authenticateApiToken(db, `fedkd_adm_${'x'.repeat(43)}`)).toMatchObject({ ok: false, code: 'UNAUTHENTICATED', message: 'unknown API token' });
    expect(authenticateApiToken(db, 'hunter2')).toMatchObject({ ok: false, message: expect.stringContaining('not a fedkd API token') });
    clock.advance(1000);
    db.apiTokens.revoke(String(record.id));
    expect(authenticateApiToken(db, token)).toMatchObject({ ok: false, message: 'API token ops (id 1) was revoked' });
  });

  it('revokes by id or name, keeps the first revocation time, and frees the name for a new token', () => {
    open();
    const first = createApiToken(db, 'ops', 'read').record;
    expect(() => createApiToken(db, 'ops', 'admin')).toThrow(/already named ops/);
    const revokedAt = db.apiTokens.revoke('ops').revokedAt;
    expect(revokedAt).toBe(clock.t);
    clock.advance(5000);
    expect(db.apiTokens.revoke(String(first.id)).revokedAt).toBe(revokedAt);
    expect(createApiToken(db, 'ops', 'admin').record).toMatchObject({ id: 2, name: 'ops', scope: 'admin', revokedAt: null });
    expect(() => db.apiTokens.revoke('nobody')).toThrow(/no API token with id or \(unrevoked\) name nobody/);
  });

  it('refuses names and scopes it cannot store, naming the problem', () => {
    open();
    expect(() => createApiToken(db, '', 'read')).toThrow(/token name must be/);
    expect(() => createApiToken(db, 'a b', 'read')).toThrow(/token name must be/);
    expect(() => createApiToken(db, 'ops', 'root' as 'read')).toThrow(/token scope must be admin or read, got "root"/);
  });

  it('lets admin do everything read does, and read nothing admin does', () => {
    expect([scopeAllows('admin', 'admin'), scopeAllows('admin', 'read'), scopeAllows('read', 'read'), scopeAllows('read', 'admin')]).toEqual([true, true, true, false]);
  });
});
