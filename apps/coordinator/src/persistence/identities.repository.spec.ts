import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS, TEST_MLP, useTestDatabase } from './persistence.testing';

const hash = (n: number) => n.toString(16).padStart(128, '0');
const KEY_A = 'A'.repeat(43) + '=';
const KEY_B = 'B'.repeat(43) + '=';

describe.each(DATABASE_KINDS)('SqlIdentitiesRepository on %s', (kind) => {
  const t = useTestDatabase(kind);

  it('stores a one-time token and finds it by its hash', async () => {
    const token = await t.db.identities.addToken({ clientName: 'alice', tokenHash: hash(1), expiresAt: t.clock.t + 60_000 });
    expect(token).toEqual({ clientName: 'alice', tokenHash: hash(1), createdAt: t.clock.t, expiresAt: t.clock.t + 60_000, usedAt: null });
    expect(await t.db.identities.findToken(hash(1))).toEqual(token);
    expect(await t.db.identities.findToken(hash(2))).toBeNull();
    await expect(t.db.identities.addToken({ clientName: 'bob', tokenHash: hash(1), expiresAt: t.clock.t })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
  });

  it('enrols a client once per token, marking the token used', async () => {
    await t.db.identities.addToken({ clientName: 'alice', tokenHash: hash(1), expiresAt: t.clock.t + 60_000 });
    t.clock.advance(1_000);
    expect(await t.db.identities.enrol(hash(1), 'alice', KEY_A)).toEqual({ clientName: 'alice', publicKey: KEY_A, enrolledAt: t.clock.t, revokedAt: null });
    expect((await t.db.identities.findToken(hash(1)))?.usedAt).toBe(t.clock.t);
    await expect(t.db.identities.enrol(hash(1), 'alice', KEY_A)).rejects.toThrow('enrolment token for alice is unknown or already used');
    await expect(t.db.identities.enrol(hash(2), 'alice', KEY_A)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
  });

  it('refuses a token issued for another client name', async () => {
    await t.db.identities.addToken({ clientName: 'alice', tokenHash: hash(1), expiresAt: t.clock.t + 60_000 });
    await expect(t.db.identities.enrol(hash(1), 'mallory', KEY_A)).rejects.toThrow('enrolment token for mallory is unknown or already used');
    expect((await t.db.identities.findToken(hash(1)))?.usedAt).toBeNull();
  });

  it('lets only one of two simultaneous uses of a token enrol', async () => {
    await t.db.identities.addToken({ clientName: 'alice', tokenHash: hash(1), expiresAt: t.clock.t + 60_000 });
    const results = await Promise.allSettled([t.db.identities.enrol(hash(1), 'alice', KEY_A), t.db.identities.enrol(hash(1), 'alice', KEY_B)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const [lost] = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(lost.reason).toMatchObject({ code: 'ALREADY_EXISTS', message: 'enrolment token for alice is unknown or already used' });
    expect(await t.db.identities.list()).toHaveLength(1);
  });

  it('refuses a public key enrolled under another name, leaving the token unused', async () => {
    await t.db.identities.addToken({ clientName: 'alice', tokenHash: hash(1), expiresAt: t.clock.t + 60_000 });
    await t.db.identities.addToken({ clientName: 'bob', tokenHash: hash(2), expiresAt: t.clock.t + 60_000 });
    await t.db.identities.enrol(hash(1), 'alice', KEY_A);
    await expect(t.db.identities.enrol(hash(2), 'bob', KEY_A)).rejects.toThrow('that public key is already enrolled as alice');
    expect((await t.db.identities.findToken(hash(2)))?.usedAt).toBeNull();
    expect(await t.db.identities.get('bob')).toBeNull();
  });

  it('revokes an identity and its client, and reinstates both when a new token re-enrols it with a new key', async () => {
    const client = await t.db.clients.upsertOnConnect({ name: 'alice', architecture: TEST_MLP });
    await t.db.identities.addToken({ clientName: 'alice', tokenHash: hash(1), expiresAt: t.clock.t + 60_000 });
    await t.db.identities.enrol(hash(1), 'alice', KEY_A);
    t.clock.advance(1_000);
    expect(await t.db.identities.revoke('alice')).toMatchObject({ clientName: 'alice', publicKey: KEY_A, revokedAt: t.clock.t });
    expect((await t.db.clients.getById(client.id))?.status).toBe('revoked');
    await expect(t.db.identities.revoke('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'no enrolled client named nobody' });

    t.clock.advance(1_000);
    await t.db.identities.addToken({ clientName: 'alice', tokenHash: hash(2), expiresAt: t.clock.t + 60_000 });
    expect(await t.db.identities.enrol(hash(2), 'alice', KEY_B)).toEqual({ clientName: 'alice', publicKey: KEY_B, enrolledAt: t.clock.t, revokedAt: null });
    expect((await t.db.clients.getById(client.id))?.status).toBe('active');
  });

  it('lists identities by client name, the same on every engine', async () => {
    const names = ['bob', 'Alice', 'alice', 'Émile'];
    for (const [i, name] of names.entries()) {
      await t.db.identities.addToken({ clientName: name, tokenHash: hash(i + 1), expiresAt: t.clock.t + 60_000 });
      await t.db.identities.enrol(hash(i + 1), name, `${String.fromCharCode(65 + i).repeat(43)}=`);
    }
    expect((await t.db.identities.list()).map((identity) => identity.clientName)).toEqual(['Alice', 'alice', 'bob', 'Émile']);
    expect(await t.db.identities.get('nobody')).toBeNull();
  });

  it('runs inside a database transaction, undone with it', async () => {
    await t.db.identities.addToken({ clientName: 'alice', tokenHash: hash(1), expiresAt: t.clock.t + 60_000 });
    await expect(
      t.db.transaction(async (tx) => {
        await tx.identities.enrol(hash(1), 'alice', KEY_A);
        throw new Error('abandoned');
      }),
    ).rejects.toThrow('abandoned');
    expect(await t.db.identities.get('alice')).toBeNull();
    expect((await t.db.identities.findToken(hash(1)))?.usedAt).toBeNull();
  });
});
