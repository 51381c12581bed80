import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS, TEST_CNN, TEST_MLP, useTestDatabase } from './persistence.testing';

describe.each(DATABASE_KINDS)('SqlClientsRepository on %s', (kind) => {
  const t = useTestDatabase(kind);

  it('registers a first connection as an active client with a new id', async () => {
    const client = await t.db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP, sampleCount: 600 });
    expect(client).toEqual({
      id: expect.stringMatching(/^c-[0-9a-f]{12}$/),
      name: 'hospital-a',
      architecture: TEST_MLP,
      sampleCount: 600,
      firstSeenAt: t.clock.t,
      lastSeenAt: t.clock.t,
      status: 'active',
    });
    expect(await t.db.clients.getById(client.id)).toEqual(client);
    expect(await t.db.clients.getByName('hospital-a')).toEqual(client);
  });

  it('keeps the id and first-seen time of a client that reconnects, refreshing what it says about itself', async () => {
    const first = await t.db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP, sampleCount: 600 });
    t.clock.advance(60_000);
    const again = await t.db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_CNN, sampleCount: 650 });
    expect(again).toEqual({ ...first, architecture: TEST_CNN, sampleCount: 650, lastSeenAt: first.firstSeenAt + 60_000 });
    expect(await t.db.clients.list()).toHaveLength(1);
  });

  it('gives clients that connect at the same time one row each, whichever registers them', async () => {
    const connections = await Promise.all(
      [0, 1, 2, 3].map((i) => t.db.clients.upsertOnConnect({ name: i % 2 ? 'b-clinic' : 'a-clinic', architecture: TEST_MLP, sampleCount: i })),
    );
    expect(new Set(connections.map((c) => c.id)).size).toBe(2);
    expect((await t.db.clients.list()).map((c) => c.name)).toEqual(['a-clinic', 'b-clinic']);
  });

  it('forgets a sample count the client no longer shares', async () => {
    await t.db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP, sampleCount: 600 });
    expect((await t.db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP })).sampleCount).toBeNull();
  });

  it('gives different clients different ids and lists them by name', async () => {
    const b = await t.db.clients.upsertOnConnect({ name: 'b-clinic', architecture: TEST_MLP });
    const a = await t.db.clients.upsertOnConnect({ name: 'a-clinic', architecture: TEST_CNN, sampleCount: 10 });
    expect(a.id).not.toBe(b.id);
    expect((await t.db.clients.list()).map((c) => c.name)).toEqual(['a-clinic', 'b-clinic']);
  });

  it('lists names in the same order on every engine (code units, not a locale)', async () => {
    for (const name of ['b', 'B', 'a', 'é', 'A-2', 'a-10']) await t.db.clients.upsertOnConnect({ name, architecture: TEST_MLP });
    expect((await t.db.clients.list()).map((c) => c.name)).toEqual(['A-2', 'B', 'a', 'a-10', 'b', 'é']);
  });

  it('answers null for a client it has never seen', async () => {
    expect(await t.db.clients.getById('c-000000000000')).toBeNull();
    expect(await t.db.clients.getByName('nobody')).toBeNull();
  });

  it('keeps a revoked client revoked when it reconnects, and can reinstate it', async () => {
    const client = await t.db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP });
    expect((await t.db.clients.setStatus(client.id, 'revoked')).status).toBe('revoked');
    t.clock.advance(1_000);
    const reconnected = await t.db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP });
    expect(reconnected.status).toBe('revoked');
    expect(reconnected.lastSeenAt).toBe(t.clock.t);
    expect((await t.db.clients.setStatus(client.id, 'active')).status).toBe('active');
  });

  it('refuses to change the status of an unknown client', async () => {
    await expect(t.db.clients.setStatus('c-missing', 'revoked')).rejects.toThrow(/no client with id c-missing/);
    await expect(t.db.clients.setStatus('c-missing', 'revoked')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses an empty name and a negative or fractional sample count, storing nothing', async () => {
    await expect(t.db.clients.upsertOnConnect({ name: '', architecture: TEST_MLP })).rejects.toThrow(/name must be a non-empty string/);
    await expect(t.db.clients.upsertOnConnect({ name: 'x', architecture: TEST_MLP, sampleCount: -1 })).rejects.toThrow(/non-negative integer/);
    await expect(t.db.clients.upsertOnConnect({ name: 'x', architecture: TEST_MLP, sampleCount: 1.5 })).rejects.toThrow(/non-negative integer/);
    expect(await t.db.clients.list()).toEqual([]);
  });

  it('reports a stored architecture that is not valid JSON, naming the table and the row', async () => {
    const client = await t.db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP });
    // Past the engine's own guard: SQLite's CHECK (json_valid), PostgreSQL's json type.
    if (kind === 'sqlite') await sql`PRAGMA ignore_check_constraints = ON`.execute(t.db.kysely);
    else await sql`ALTER TABLE clients ALTER COLUMN architecture TYPE text`.execute(t.db.kysely);
    await t.db.kysely.updateTable('clients').set({ architecture: '{"kind": "mlp",' }).where('id', '=', client.id).execute();
    await expect(t.db.clients.getById(client.id)).rejects.toThrow(`clients row id='${client.id}', column architecture holds invalid JSON`);
  });

  it('reports a stored architecture that is JSON but not a model spec', async () => {
    const client = await t.db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP });
    await t.db.kysely.updateTable('clients').set({ architecture: '{"kind":"transformer"}' }).where('id', '=', client.id).execute();
    await expect(t.db.clients.list()).rejects.toThrow(/clients row id='c-[0-9a-f]+', column architecture: expected a ModelSpec with kind/);
  });
});
