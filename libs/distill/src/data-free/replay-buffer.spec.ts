import { describe, expect, it } from 'vitest';
import { ReplayBuffer, type ReplayChunk } from './replay-buffer';

/** A round of `count` one-value inputs valued round*1000 + row, with matching two-class targets. */
function chunk(round: number, count: number): ReplayChunk {
  const values = Float32Array.from({ length: count }, (_, i) => round * 1000 + i);
  const targets = Float32Array.from({ length: 2 * count }, (_, i) => round * 1000 + Math.floor(i / 2));
  return { round, inputs: { values, count, inputShape: [1] }, targets };
}

describe('ReplayBuffer', () => {
  it('keeps every round while under capacity, oldest first, as one training set', () => {
    const buffer = new ReplayBuffer(10);
    expect(buffer.contents()).toBeNull();
    expect(buffer.add(chunk(1, 3))).toEqual({ dropped: 0, removedRounds: [], trimmed: null });
    buffer.add(chunk(2, 4));
    const all = buffer.contents()!;
    expect(Array.from(all.inputs.values)).toEqual([1000, 1001, 1002, 2000, 2001, 2002, 2003]);
    expect(all.targets.length).toBe(14);
    expect(buffer.size).toBe(7);
  });

  it('drops the oldest inputs beyond capacity, whole rounds first, and reports what it changed', () => {
    const buffer = new ReplayBuffer(5);
    buffer.add(chunk(1, 3));
    buffer.add(chunk(2, 3));
    // 6 > 5: round 1 loses its oldest row.
    const first = buffer.add(chunk(3, 0));
    expect(first).toEqual({ dropped: 0, removedRounds: [], trimmed: null });
    expect(buffer.size).toBe(5);
    expect(buffer.rounds.map((r) => [r.round, r.inputs.count])).toEqual([[1, 2], [2, 3]]);
    expect(Array.from(buffer.rounds[0].inputs.values)).toEqual([1001, 1002]);
    expect(Array.from(buffer.rounds[0].targets)).toEqual([1001, 1001, 1002, 1002]);
    const second = buffer.add(chunk(4, 4));
    expect(second.dropped).toBe(4);
    expect(second.removedRounds).toEqual([1]);
    expect(second.trimmed?.round).toBe(2);
    expect(buffer.rounds.map((r) => [r.round, r.inputs.count])).toEqual([[2, 1], [4, 4]]);
  });

  it('with capacity 0 holds nothing, and refuses rounds out of order or targets that do not fit', () => {
    const empty = new ReplayBuffer(0);
    expect(empty.add(chunk(1, 3))).toMatchObject({ dropped: 3, removedRounds: [1] });
    expect(empty.contents()).toBeNull();
    const buffer = new ReplayBuffer(10);
    buffer.add(chunk(2, 1));
    expect(() => buffer.add(chunk(2, 1))).toThrow('replay chunk of round 2 after round 2: rounds are added in order');
    expect(() => buffer.add({ ...chunk(3, 2), targets: new Float32Array(3) })).toThrow('replay chunk of round 3: 3 target values for 2 inputs');
    expect(() => new ReplayBuffer(-1)).toThrow(/non-negative integer/);
  });
});
