import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { ReplayBuffer, type ReplayChunk } from '@fedkd/distill';
import { DATABASE_KINDS, useTestDatabase } from './persistence.testing';

/** A round of `count` 2-value inputs: pixel-exact (q / 255) or arbitrary floats; targets over 3 classes. */
function chunk(round: number, count: number, pixelExact: boolean): ReplayChunk {
  const values = Float32Array.from({ length: 2 * count }, (_, i) => (pixelExact ? ((round * 7 + i) % 256) / 255 : 0.1 + round + i / 3));
  const targets = Float32Array.from({ length: 3 * count }, (_, i) => (i % 3) / 3 + round);
  return { round, inputs: { values, count, inputShape: [2] }, targets };
}

describe.each(DATABASE_KINDS)('SqlReplayRepository on %s', (kind) => {
  const t = useTestDatabase(kind);

  it('gives back exactly the stored inputs and targets after a reopen, as uint8 pixels where they are pixels and float32 otherwise', async () => {
    const buffer = new ReplayBuffer(100);
    const rounds = [chunk(1, 4, true), chunk(2, 3, false)];
    for (const r of rounds) await t.db.replay.record(r, buffer.add(r));
    await t.reopen();
    const stored = await t.db.replay.all();
    expect(stored.map((c) => c.round)).toEqual([1, 2]);
    for (const [i, c] of stored.entries()) {
      expect(Array.from(c.inputs.values)).toEqual(Array.from(rounds[i].inputs.values));
      expect(Array.from(c.targets)).toEqual(Array.from(rounds[i].targets));
      expect(c.inputs).toMatchObject({ count: rounds[i].inputs.count, inputShape: [2] });
    }
    const encodings = await t.db.kysely
      .selectFrom('replay_examples')
      .select(['round', 'encoding', sql<number>`length(inputs)`.as('bytes')])
      .orderBy('round')
      .execute();
    expect(encodings.map((e) => ({ ...e, bytes: Number(e.bytes) }))).toEqual([
      { round: 1, encoding: 'uint8', bytes: 8 },
      { round: 2, encoding: 'float32', bytes: 24 },
    ]);
  });

  it('follows the buffer as it drops and trims the oldest rounds', async () => {
    const buffer = new ReplayBuffer(5);
    for (const r of [chunk(1, 3, true), chunk(2, 3, true), chunk(3, 3, true)]) await t.db.replay.record(r, buffer.add(r));
    const stored = await t.db.replay.all();
    expect(stored.map((c) => [c.round, c.inputs.count])).toEqual([[2, 2], [3, 3]]);
    expect(Array.from(stored[0].inputs.values)).toEqual(Array.from(buffer.rounds[0].inputs.values));
    // A round larger than the whole buffer is stored trimmed to it.
    const big = chunk(4, 7, true);
    await t.db.replay.record(big, buffer.add(big));
    expect((await t.db.replay.all()).map((c) => [c.round, c.inputs.count])).toEqual([[4, 5]]);
  });
});
