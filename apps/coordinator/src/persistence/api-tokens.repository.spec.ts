import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CoordinatorDatabase } from './coordinator-database';
import { DATABASE_KINDS, makeManualClock, openTestDatabase } from './persistence.testing';

const hash = (n: number) => n.toString(16).padStart(64, '0');

describe.each(DATABASE_KINDS)('SqlApiTokensRepository on %s', (kind) => {
  let clock: ReturnType<typeof makeManualClock>;
  let db: CoordinatorDatabase;

  beforeEach(async () => {
    clock = makeManualClock();
    db = await openTestDatabase(kind, { now: clock.now });
  });

  afterEach(async () => {
    await db.close();
  });

  it('stores tokens with increasing ids, finds them by hash and lists them oldest first', async () => {
    const ops = await db.apiTokens.add({ name: 'ops', scope: 'admin', tokenHash: hash(1) });
    const dashboard = await db.apiTokens.add({ name: 'dashboard', scope: 'read', tokenHash: hash(2) });
    expect(ops).toEqual({ id: 1, name: 'ops', scope: 'admin', tokenHash: hash(1), createdAt: clock.t, revokedAt: null });
    expect(dashboard.id).toBe(2);
    expect(await db.apiTokens.findByHash(hash(2))).toEqual(dashboard);
    expect(await db.apiTokens.findByHash(hash(3))).toBeNull();
    expect(await db.apiTokens.list()).toEqual([ops, dashboard]);
  });

  it('refuses a name held by an unrevoked token, even when two are added at once', async () => {
    await db.apiTokens.add({ name: 'ops', scope: 'admin', tokenHash: hash(1) });
    await expect(db.apiTokens.add({ name: 'ops', scope: 'read', tokenHash: hash(2) })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
      message: 'an unrevoked API token is already named ops: revoke it first or choose another name',
    });
    const results = await Promise.allSettled([3, 4, 5].map((n) => db.apiTokens.add({ name: 'ci', scope: 'read', tokenHash: hash(n) })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) {
      expect(r.reason).toMatchObject({ code: 'ALREADY_EXISTS', message: expect.stringContaining('already named ci') });
    }
    expect((await db.apiTokens.list()).map((t) => t.name)).toEqual(['ops', 'ci']);
  });

  it('refuses a hash already stored and values the table cannot hold', async () => {
    await db.apiTokens.add({ name: 'ops', scope: 'admin', tokenHash: hash(1) });
    await expect(db.apiTokens.add({ name: 'other', scope: 'admin', tokenHash: hash(1) })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await expect(db.apiTokens.add({ name: 'x', scope: 'root' as 'read', tokenHash: hash(2) })).rejects.toMatchObject({ code: 'INVALID_VALUE' });
  });

  it('revokes by id or name, keeps the first revocation time, and frees the name', async () => {
    const first = await db.apiTokens.add({ name: 'ops', scope: 'read', tokenHash: hash(1) });
    expect((await db.apiTokens.revoke('ops')).revokedAt).toBe(clock.t);
    const revokedAt = clock.t;
    clock.advance(5_000);
    expect((await db.apiTokens.revoke(String(first.id))).revokedAt).toBe(revokedAt);
    await expect(db.apiTokens.revoke('ops')).rejects.toThrow('no API token with id or (unrevoked) name ops');
    const second = await db.apiTokens.add({ name: 'ops', scope: 'admin', tokenHash: hash(2) });
    expect(second).toMatchObject({ id: 2, name: 'ops', revokedAt: null });
    const [a, b] = await Promise.all([db.apiTokens.revoke('2'), db.apiTokens.revoke('2')]);
    expect(a.revokedAt).toBe(clock.t);
    expect(b.revokedAt).toBe(clock.t);
    await expect(db.apiTokens.revoke('99999999999999999999')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(db.apiTokens.revoke('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
