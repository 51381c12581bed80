import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type CoordinatorDatabase } from './coordinator-database';
import { makeManualClock, makeTempDir, TEST_CNN, TEST_MLP } from './persistence.testing';

describe('SqliteClientsRepository', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let clock: ReturnType<typeof makeManualClock>;
  let db: CoordinatorDatabase;

  beforeEach(() => {
    temp = makeTempDir();
    clock = makeManualClock();
    db = openDatabase(temp.file('coordinator.sqlite'), { now: clock.now });
  });

  afterEach(() => {
    db.close();
    temp.remove();
  });

  it('registers a first connection as an active client with a new id', () => {
    const client = db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP, sampleCount: 600 });
    expect(client).toEqual({
      id: expect.stringMatching(/^c-[0-9a-f]{12}$/),
      name: 'hospital-a',
      architecture: TEST_MLP,
      sampleCount: 600,
      firstSeenAt: clock.t,
      lastSeenAt: clock.t,
      status: 'active',
    });
    expect(db.clients.getById(client.id)).toEqual(client);
    expect(db.clients.getByName('hospital-a')).toEqual(client);
  });

  it('keeps the id and first-seen time of a client that reconnects, refreshing what it says about itself', () => {
    const first = db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP, sampleCount: 600 });
    clock.advance(60_000);
    const again = db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_CNN, sampleCount: 650 });
    expect(again).toEqual({ ...first, architecture: TEST_CNN, sampleCount: 650, lastSeenAt: first.firstSeenAt + 60_000 });
    expect(db.clients.list()).toHaveLength(1);
  });

  it('forgets a sample count the client no longer shares', () => {
    db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP, sampleCount: 600 });
    expect(db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP }).sampleCount).toBeNull();
  });

  it('gives different clients different ids and lists them by name', () => {
    const b = db.clients.upsertOnConnect({ name: 'b-clinic', architecture: TEST_MLP });
    const a = db.clients.upsertOnConnect({ name: 'a-clinic', architecture: TEST_CNN, sampleCount: 10 });
    expect(a.id).not.toBe(b.id);
    expect(db.clients.list().map((c) => c.name)).toEqual(['a-clinic', 'b-clinic']);
  });

  it('answers null for a client it has never seen', () => {
    expect(db.clients.getById('c-000000000000')).toBeNull();
    expect(db.clients.getByName('nobody')).toBeNull();
  });

  it('keeps a revoked client revoked when it reconnects, and can reinstate it', () => {
    const client = db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP });
    expect(db.clients.setStatus(client.id, 'revoked').status).toBe('revoked');
    clock.advance(1_000);
    const reconnected = db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP });
    expect(reconnected.status).toBe('revoked');
    expect(reconnected.lastSeenAt).toBe(clock.t);
    expect(db.clients.setStatus(client.id, 'active').status).toBe('active');
  });

  it('refuses to change the status of an unknown client', () => {
    expect(() => db.clients.setStatus('c-missing', 'revoked')).toThrow(/no client with id c-missing/);
  });

  it('refuses an empty name and a negative or fractional sample count, storing nothing', () => {
    expect(() => db.clients.upsertOnConnect({ name: '', architecture: TEST_MLP })).toThrow(/name must be a non-empty string/);
    expect(() => db.clients.upsertOnConnect({ name: 'x', architecture: TEST_MLP, sampleCount: -1 })).toThrow(/non-negative integer/);
    expect(() => db.clients.upsertOnConnect({ name: 'x', architecture: TEST_MLP, sampleCount: 1.5 })).toThrow(/non-negative integer/);
    expect(db.clients.list()).toEqual([]);
  });

  it('reports a stored architecture that is not valid JSON, naming the table and the row', () => {
    const client = db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP });
    const raw = new Database(temp.file('coordinator.sqlite'));
    raw.pragma('ignore_check_constraints = ON');
    raw.prepare('UPDATE clients SET architecture = ? WHERE id = ?').run('{"kind": "mlp",', client.id);
    raw.close();
    expect(() => db.clients.getById(client.id)).toThrow(`clients row id='${client.id}', column architecture holds invalid JSON`);
  });

  it('reports a stored architecture that is JSON but not a model spec', () => {
    const client = db.clients.upsertOnConnect({ name: 'hospital-a', architecture: TEST_MLP });
    db.connection.prepare('UPDATE clients SET architecture = ? WHERE id = ?').run('{"kind":"transformer"}', client.id);
    expect(() => db.clients.list()).toThrow(/clients row id='c-[0-9a-f]+', column architecture: expected a ModelSpec with kind/);
  });
});
