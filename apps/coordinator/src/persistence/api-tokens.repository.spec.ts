import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS, useTestDatabase } from './persistence.testing';

const hash = (n: number) => n.toString(16).padStart(64, '0');

describe.each(DATABASE_KINDS)('SqlApiTokensRepository on %s', (kind) => {
  const t = useTestDatabase(kind);

  it('stores tokens with increasing ids, finds them by hash and lists them oldest first', async () => {
    const ops = await t.db.apiTokens.add({ name: 'ops', scope: 'admin', tokenHash: hash(1) });
    const dashboard = await t.db.apiTokens.add({ name: 'dashboard', scope: 'read', tokenHash: hash(2) });
    expect(ops).toEqual({ id: 1, name: 'ops', scope: 'admin', tokenHash: hash(1), createdAt: t.clock.t, revokedAt: null });
    expect(dashboard.id).toBe(2);
    expect(await t.db.apiTokens.findByHash(hash(2))).toEqual(dashboard);
    expect(await t.db.apiTokens.findByHash(hash(3))).toBeNull();
    expect(await t.db.apiTokens.list()).toEqual([ops, dashboard]);
  });

  it('refuses a name held by an unrevoked token, even when two are added at once', async () => {
    await t.db.apiTokens.add({ name: 'ops', scope: 'admin', tokenHash: hash(1) });
    await expect(t.db.apiTokens.add({ name: 'ops', scope: 'read', tokenHash: hash(2) })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
      message: 'an unrevoked API token is already named ops: revoke it first or choose another name',
    });
    const results = await Promise.allSettled([3, 4, 5].map((n) => t.db.apiTokens.add({ name: 'ci', scope: 'read', tokenHash: hash(n) })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) {
      expect(r.reason).toMatchObject({ code: 'ALREADY_EXISTS', message: expect.stringContaining('already named ci') });
    }
    expect((await t.db.apiTokens.list()).map((t) => t.name)).toEqual(['ops', 'ci']);
  });

  it('refuses a hash already stored and values the table cannot hold', async () => {
    await t.db.apiTokens.add({ name: 'ops', scope: 'admin', tokenHash: hash(1) });
    await expect(t.db.apiTokens.add({ name: 'other', scope: 'admin', tokenHash: hash(1) })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(t.db.apiTokens.add({ name: 'x', scope: 'root' as 'read', tokenHash: hash(2) })).rejects.toMatchObject({ code: 'INVALID_VALUE' });
  });

  it('revokes by id or name, keeps the first revocation time, and frees the name', async () => {
    const first = await t.db.apiTokens.add({ name: 'ops', scope: 'read', tokenHash: hash(1) });
    expect((await t.db.apiTokens.revoke('ops')).revokedAt).toBe(t.clock.t);
    const revokedAt = t.clock.t;
    t.clock.advance(5_000);
    expect((await t.db.apiTokens.revoke(String(first.id))).revokedAt).toBe(revokedAt);
    await expect(t.db.apiTokens.revoke('ops')).rejects.toThrow('no API token with id or (unrevoked) name ops');
    const second = await t.db.apiTokens.add({ name: 'ops', scope: 'admin', tokenHash: hash(2) });
    expect(second).toMatchObject({ id: 2, name: 'ops', revokedAt: null });
    const [a, b] = await Promise.all([t.db.apiTokens.revoke('2'), t.db.apiTokens.revoke('2')]);
    expect(a.revokedAt).toBe(t.clock.t);
    expect(b.revokedAt).toBe(t.clock.t);
    await expect(t.db.apiTokens.revoke('99999999999999999999')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(t.db.apiTokens.revoke('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
