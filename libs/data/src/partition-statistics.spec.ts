import { describe, expect, it } from 'vitest';
import { normalizeHistogram, summarizePartition, totalVariationDistance } from './partition-statistics';

describe('partition statistics', () => {
  it('total variation is half the L1 distance: 0 for equal, 1 for disjoint distributions', () => {
    expect(totalVariationDistance([0.5, 0.5], [0.5, 0.5])).toBe(0);
    expect(totalVariationDistance([1, 0], [0, 1])).toBe(1);
    expect(totalVariationDistance([0.7, 0.3, 0], [0.2, 0.3, 0.5])).toBeCloseTo(0.5);
    expect(() => totalVariationDistance([1], [0.5, 0.5])).toThrow(/length/);
  });

  it('normalises histograms (an empty one stays zero)', () => {
    expect(normalizeHistogram([1, 3])).toEqual([0.25, 0.75]);
    expect(normalizeHistogram([0, 0])).toEqual([0, 0]);
  });

  it('summarises sizes, classes per client and skew against the pooled distribution', () => {
    const summary = summarizePartition({ histograms: [[10, 0], [0, 10], [5, 5]] });
    expect(summary.sizes).toEqual([10, 10, 10]);
    expect(summary.classesPerClient).toEqual([1, 1, 2]);
    expect(summary.totalVariation).toEqual([0.5, 0.5, 0]);
    expect(summary.meanTotalVariation).toBeCloseTo(1 / 3);
    expect(summary.maxTotalVariation).toBe(0.5);
  });
});
