import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type CoordinatorDatabase } from './coordinator-database';
import { makeManualClock, makeTempDir } from './persistence.testing';

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

describe('SqliteModelsRepository', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let clock: ReturnType<typeof makeManualClock>;
  let db: CoordinatorDatabase;

  beforeEach(() => {
    temp = makeTempDir();
    clock = makeManualClock();
    db = openDatabase(temp.file('coordinator.sqlite'), { now: clock.now });
    db.rounds.create({ config: {} });
    db.rounds.create({ config: {} });
  });

  afterEach(() => {
    db.close();
    temp.remove();
  });

  it('stores a version and describes it without its blob', () => {
    const blob = sampleBlob(10_000, 1);
    const info = db.models.add({ version: 1, round: 1, blob, sha256: sha256(blob), metrics: { testAccuracy: 0.9 } });
    expect(info).toEqual({ version: 1, round: 1, sha256: sha256(blob), byteLength: 10_000, metrics: { testAccuracy: 0.9 }, createdAt: clock.t });
    expect(db.models.get(1)).toEqual(info);
    expect(db.models.latest()).toEqual(info);
    expect(db.models.list()).toEqual([info]);
    expect(info).not.toHaveProperty('blob');
  });

  it('has no latest version and starts at version 1 when empty', () => {
    expect(db.models.latest()).toBeNull();
    expect(db.models.get(1)).toBeNull();
    expect(db.models.getBlob(1)).toBeNull();
    expect(db.models.list()).toEqual([]);
    expect(db.models.nextVersion()).toBe(1);
  });

  it('gives blobs back byte for byte, including a view into a larger buffer', () => {
    const whole = sampleBlob(70_000, 7);
    const view = whole.subarray(1_000, 66_000);
    db.models.add({ version: 1, round: 1, blob: view, metrics: {} });
    const back = db.models.getBlob(1)!;
    expect(back).toBeInstanceOf(Uint8Array);
    expect(back.byteLength).toBe(65_000);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(view))).toBe(0);
    expect(db.models.get(1)!.sha256).toBe(sha256(view));
  });

  it('stores an empty blob', () => {
    db.models.add({ version: 1, round: 1, blob: new Uint8Array(0), metrics: {} });
    expect(db.models.getBlob(1)).toEqual(new Uint8Array(0));
  });

  it('lists versions newest first and tracks the latest', () => {
    db.models.add({ version: 1, round: 1, blob: sampleBlob(300, 1), metrics: { testAccuracy: 0.8 } });
    clock.advance(1_000);
    db.models.add({ version: 2, round: 2, blob: sampleBlob(300, 2), metrics: { testAccuracy: 0.85 } });
    expect(db.models.list().map((m) => m.version)).toEqual([2, 1]);
    expect(db.models.latest()!.version).toBe(2);
    expect(db.models.nextVersion()).toBe(3);
  });

  it('refuses to overwrite a version: a second add of the same version throws and changes nothing', () => {
    const original = sampleBlob(500, 1);
    db.models.add({ version: 1, round: 1, blob: original, metrics: { testAccuracy: 0.8 } });
    expect(() => db.models.add({ version: 1, round: 2, blob: sampleBlob(500, 2), metrics: { testAccuracy: 0.99 } })).toThrow(
      `model version 1 already exists (sha256 ${sha256(original)}); model versions are immutable`,
    );
    expect(db.models.get(1)!.metrics).toEqual({ testAccuracy: 0.8 });
    expect(Buffer.from(db.models.getBlob(1)!).equals(Buffer.from(original))).toBe(true);
  });

  it('refuses versions that go backwards, are not positive integers, or belong to no round', () => {
    db.models.add({ version: 2, round: 1, blob: sampleBlob(10, 1), metrics: {} });
    expect(() => db.models.add({ version: 1, round: 1, blob: sampleBlob(10, 1), metrics: {} })).toThrow(/model versions increase/);
    expect(() => db.models.add({ version: 0, round: 1, blob: sampleBlob(10, 1), metrics: {} })).toThrow(/positive integer/);
    expect(() => db.models.add({ version: 3, round: 9, blob: sampleBlob(10, 1), metrics: {} })).toThrow('model version 3: no round 9');
    expect(db.models.list().map((m) => m.version)).toEqual([2]);
  });

  it('refuses a blob whose declared sha256 is not its own', () => {
    expect(() => db.models.add({ version: 1, round: 1, blob: sampleBlob(10, 1), sha256: 'ab'.repeat(32), metrics: {} })).toThrow(
      /the given sha256 abab.* is not the blob's/,
    );
    expect(db.models.latest()).toBeNull();
  });

  it('is immutable below the repository too: SQL UPDATE of a version is refused', () => {
    db.models.add({ version: 1, round: 1, blob: sampleBlob(10, 1), metrics: {} });
    expect(() => db.connection.prepare("UPDATE models SET metrics = '{}' WHERE version = 1").run()).toThrow('model versions are immutable');
  });

  it('detects a stored blob that no longer matches its sha256', () => {
    db.models.add({ version: 1, round: 1, blob: sampleBlob(64, 1), metrics: {} });
    db.connection.exec('DROP TRIGGER models_are_immutable');
    db.connection.prepare('UPDATE models SET blob = ? WHERE version = 1').run(Buffer.alloc(64, 0xff));
    expect(() => db.models.getBlob(1)).toThrow(/models row version=1, column blob: 64 bytes do not match/);
  });

  it('rolls back a model version when the surrounding transaction fails', () => {
    expect(() =>
      db.transaction(() => {
        db.models.add({ version: 1, round: 1, blob: sampleBlob(10, 1), metrics: {} });
        db.rounds.updateState(1, 'published');
        throw new Error('signing failed');
      }),
    ).toThrow('signing failed');
    expect(db.models.latest()).toBeNull();
    expect(db.rounds.get(1)!.state).toBe('open');
  });
});
