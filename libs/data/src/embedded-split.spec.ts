import { describe, expect, it } from 'vitest';
import { classCounts } from './dataset';
import { EMBEDDED_SPLIT_SIZES, splitEmbedded, stratifiedSplit } from './embedded-split';
import { MNIST_PIXELS, loadMnist } from './mnist-dataset';

const parts = ['test', 'publicProxy', 'privatePool'] as const;

describe('splitEmbedded: test 2,000 / public proxy 2,000 / private pool 6,000', () => {
  const full = loadMnist();
  const split = splitEmbedded(0);

  it('has the sizes of DESIGN.md', () => {
    expect(EMBEDDED_SPLIT_SIZES).toEqual({ test: 2_000, publicProxy: 2_000, privatePool: 6_000 });
    for (const p of parts) {
      expect(split[p].indices.length).toBe(EMBEDDED_SPLIT_SIZES[p]);
      expect(split[p].dataset.count).toBe(EMBEDDED_SPLIT_SIZES[p]);
      expect(split[p].dataset.values.length).toBe(EMBEDDED_SPLIT_SIZES[p] * MNIST_PIXELS);
    }
  });

  it('is disjoint and covers all 10,000 digits', () => {
    const seen = new Uint8Array(full.count);
    for (const p of parts) for (const i of split[p].indices) seen[i]++;
    expect(seen.every((times) => times === 1)).toBe(true);
  });

  it('gives each part the samples its indices point at', () => {
    for (const p of parts) {
      const { indices, dataset } = split[p];
      indices.forEach((i, k) => expect(dataset.labels[k]).toBe(full.labels[i]));
      const k = 123;
      const i = indices[k];
      expect(dataset.values.subarray(k * MNIST_PIXELS, (k + 1) * MNIST_PIXELS)).toEqual(
        full.values.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS),
      );
    }
  });

  it('is stratified: every part has each class in its share of the whole (within one sample)', () => {
    const whole = classCounts(full.labels, 10);
    for (const p of parts) {
      const counts = classCounts(split[p].dataset.labels, 10);
      counts.forEach((count, c) => {
        expect(Math.abs(count - (whole[c] * EMBEDDED_SPLIT_SIZES[p]) / full.count)).toBeLessThanOrEqual(1);
      });
    }
  });

  it('orders each part randomly, not by class', () => {
    const labels = split.publicProxy.dataset.labels;
    const firstHundred = new Set(labels.subarray(0, 100));
    expect(firstHundred.size).toBe(10);
  });

  it('is the same for the same seed (default 0) and different for another seed', () => {
    const again = splitEmbedded();
    for (const p of parts) expect(again[p].indices).toEqual(split[p].indices);
    const other = splitEmbedded(1);
    for (const p of parts) {
      const mine = new Set(split[p].indices);
      const shared = other[p].indices.filter((i) => mine.has(i)).length;
      expect(shared).toBeLessThan(split[p].indices.length * 0.75); // random overlap: 20% / 20% / 60%
    }
    expect(other.seed).toBe(1);
  });

  it('rejects a seed that is not a non-negative integer, naming it', () => {
    expect(() => splitEmbedded(1.5)).toThrow(/seed/);
    expect(() => splitEmbedded(-1)).toThrow(/seed/);
  });
});

describe('stratifiedSplit', () => {
  const labels = Uint8Array.from({ length: 100 }, (_, i) => (i < 70 ? 0 : i < 90 ? 1 : 2));

  it('splits into the requested sizes, disjoint and complete, keeping class shares', () => {
    const [a, b] = stratifiedSplit(labels, [50, 50], 7);
    expect(a.length).toBe(50);
    expect(b.length).toBe(50);
    expect(new Set([...a, ...b]).size).toBe(100);
    expect(classCounts(labels, 3, a)).toEqual([35, 10, 5]);
    expect(classCounts(labels, 3, b)).toEqual([35, 10, 5]);
  });

  it('allows empty parts', () => {
    const [a, b, c] = stratifiedSplit(labels, [0, 100, 0], 1);
    expect([a.length, b.length, c.length]).toEqual([0, 100, 0]);
  });

  it('rejects bad sizes and seeds, naming them', () => {
    expect(() => stratifiedSplit(labels, [50, 49], 0)).toThrow(/sizes must sum to .*100.*99/);
    expect(() => stratifiedSplit(labels, [101, -1], 0)).toThrow(/sizes\[1\]/);
    expect(() => stratifiedSplit(labels, [], 0)).toThrow(/sizes/);
    expect(() => stratifiedSplit(labels, [100], Number.NaN)).toThrow(/seed/);
    expect(() => stratifiedSplit([0, 1.5], [2], 0)).toThrow(/labels\[1\]/);
  });
});
