import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CoordinatorDatabase } from './coordinator-database';
import { DATABASE_KINDS, makeManualClock, openTestDatabase } from './persistence.testing';

/** Every byte value, then a pseudo-random tail: catches any text or sign mangling of a blob. */
function sampleBlob(length: number, seed: number): Uint8Array {
  const blob = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    if (i < 256) blob[i] = i;
    else {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      blob[i] = x & 0xff;
    }
  }
  return blob;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe.each(DATABASE_KINDS)('SqlModelsRepository on %s', (kind) => {
  let clock: ReturnType<typeof makeManualClock>;
  let db: CoordinatorDatabase;

  beforeEach(async () => {
    clock = makeManualClock();
    db = await openTestDatabase(kind, { now: clock.now });
    await db.rounds.create({ config: {} });
    await db.rounds.create({ config: {} });
  });

  afterEach(async () => {
    await db.close();
  });

  it('stores a version and describes it without its blob', async () => {
    const blob = sampleBlob(10_000, 1);
    const info = await db.models.add({ version: 1, round: 1, blob, sha256: sha256(blob), metrics: { testAccuracy: 0.9 } });
    expect(info).toEqual({ version: 1, round: 1, sha256: sha256(blob), byteLength: 10_000, metrics: { testAccuracy: 0.9 }, createdAt: clock.t });
    expect(await db.models.get(1)).toEqual(info);
    expect(await db.models.latest()).toEqual(info);
    expect(await db.models.list()).toEqual([info]);
    expect(info).not.toHaveProperty('blob');
  });

  it('has no latest version and starts at version 1 when empty', async () => {
    expect(await db.models.latest()).toBeNull();
    expect(await db.models.get(1)).toBeNull();
    expect(await db.models.getBlob(1)).toBeNull();
    expect(await db.models.list()).toEqual([]);
    expect(await db.models.nextVersion()).toBe(1);
  });

  it('gives blobs back byte for byte, including a view into a larger buffer', async () => {
    const whole = sampleBlob(70_000, 7);
    const view = whole.subarray(1_000, 66_000);
    await db.models.add({ version: 1, round: 1, blob: view, metrics: {} });
    const back = (await db.models.getBlob(1))!;
    expect(back).toBeInstanceOf(Uint8Array);
    expect(back.byteLength).toBe(65_000);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(view))).toBe(0);
    expect((await db.models.get(1))!.sha256).toBe(sha256(view));
  });

  it('stores an empty blob', async () => {
    await db.models.add({ version: 1, round: 1, blob: new Uint8Array(0), metrics: {} });
    expect(await db.models.getBlob(1)).toEqual(new Uint8Array(0));
  });

  it('lists versions newest first and tracks the latest', async () => {
    await db.models.add({ version: 1, round: 1, blob: sampleBlob(300, 1), metrics: { testAccuracy: 0.8 } });
    clock.advance(1_000);
    await db.models.add({ version: 2, round: 2, blob: sampleBlob(300, 2), metrics: { testAccuracy: 0.85 } });
    expect((await db.models.list()).map((m) => m.version)).toEqual([2, 1]);
    expect((await db.models.latest())!.version).toBe(2);
    expect(await db.models.nextVersion()).toBe(3);
  });

  it('refuses to overwrite a version: a second add of the same version throws and changes nothing', async () => {
    const original = sampleBlob(500, 1);
    await db.models.add({ version: 1, round: 1, blob: original, metrics: { testAccuracy: 0.8 } });
    await expect(db.models.add({ version: 1, round: 2, blob: sampleBlob(500, 2), metrics: { testAccuracy: 0.99 } })).rejects.toThrow(
      `model version 1 already exists (sha256 ${sha256(original)}); model versions are immutable`,
    );
    expect((await db.models.get(1))!.metrics).toEqual({ testAccuracy: 0.8 });
    expect(Buffer.from((await db.models.getBlob(1))!).equals(Buffer.from(original))).toBe(true);
  });

  it('lets one of two writers adding the same version at once win: the other gets ALREADY_EXISTS', async () => {
    const results = await Promise.allSettled([1, 2].map((seed) => db.models.add({ version: 1, round: 1, blob: sampleBlob(100, seed), metrics: { seed } })));
    const added = results.filter((r) => r.status === 'fulfilled');
    expect(added).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ name: 'PersistenceError', code: 'ALREADY_EXISTS' });
    expect(refused.reason.message).toMatch(/model version 1 already exists/);
    expect(await db.models.get(1)).toEqual((added[0] as PromiseFulfilledResult<unknown>).value);
  });

  it('refuses versions that go backwards, are not positive integers, or belong to no round', async () => {
    await db.models.add({ version: 2, round: 1, blob: sampleBlob(10, 1), metrics: {} });
    await expect(db.models.add({ version: 1, round: 1, blob: sampleBlob(10, 1), metrics: {} })).rejects.toThrow(/model versions increase/);
    await expect(db.models.add({ version: 0, round: 1, blob: sampleBlob(10, 1), metrics: {} })).rejects.toThrow(/positive integer/);
    await expect(db.models.add({ version: 3, round: 9, blob: sampleBlob(10, 1), metrics: {} })).rejects.toThrow('model version 3: no round 9');
    expect((await db.models.list()).map((m) => m.version)).toEqual([2]);
  });

  it('refuses a blob whose declared sha256 is not its own', async () => {
    await expect(db.models.add({ version: 1, round: 1, blob: sampleBlob(10, 1), sha256: 'ab'.repeat(32), metrics: {} })).rejects.toThrow(
      /the given sha256 abab.* is not the blob's/,
    );
    expect(await db.models.latest()).toBeNull();
  });

  it('is immutable below the repository too: SQL UPDATE of a version is refused', async () => {
    await db.models.add({ version: 1, round: 1, blob: sampleBlob(10, 1), metrics: {} });
    await expect(db.kysely.updateTable('models').set({ metrics: '{}' }).where('version', '=', 1).execute()).rejects.toThrow('model versions are immutable');
    await expect(db.kysely.updateTable('models').set({ created_at: 0 }).execute()).rejects.toThrow('model versions are immutable');
  });

  it('detects a stored blob that no longer matches its sha256', async () => {
    await db.models.add({ version: 1, round: 1, blob: sampleBlob(64, 1), metrics: {} });
    await (kind === 'sqlite' ? sql`DROP TRIGGER models_are_immutable` : sql`DROP TRIGGER models_are_immutable ON models`).execute(db.kysely);
    await db.kysely.updateTable('models').set({ blob: Buffer.alloc(64, 0xff) }).where('version', '=', 1).execute();
    await expect(db.models.getBlob(1)).rejects.toThrow(/models row version=1, column blob: 64 bytes do not match/);
  });

  it('rolls back a model version when the surrounding transaction fails', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.models.add({ version: 1, round: 1, blob: sampleBlob(10, 1), metrics: {} });
        await tx.rounds.updateState(1, 'published');
        throw new Error('signing failed');
      }),
    ).rejects.toThrow('signing failed');
    expect(await db.models.latest()).toBeNull();
    expect((await db.rounds.get(1))!.state).toBe('open');
  });
});
