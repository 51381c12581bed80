import { describe, expect, it } from 'vitest';

import { MeanRule } from './mean-rule';
import { MedianRule } from './median-rule';
import { TrimmedMeanRule } from './trimmed-mean-rule';

const rows = (...r: number[][]): Float32Array => new Float32Array(r.flat());
const close = (actual: Float32Array, expected: number[], digits = 6): void => {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((v, i) => expect(actual[i]).toBeCloseTo(v, digits));
};
const argmax = (row: ArrayLike<number>): number => Array.from(row).reduce((best, v, i, all) => (v > all[best] ? i : best), 0);
const l1 = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((s, v, i) => s + Math.abs(v - b[i]), 0);

describe('robustness to one garbage client', () => {
  // 4 honest clients agree (with small differences) that the sample is a 3; one client puts all
  // its mass on class 7. Honest consensus: about 0.7 on class 3, the rest spread.
  const C = 10;
  const honest = [0.68, 0.7, 0.71, 0.72].map((p3) => {
    const row = new Array<number>(C).fill((1 - p3) / (C - 1));
    row[3] = p3;
    return new Float32Array(row);
  });
  const garbage = new Float32Array(C);
  garbage[7] = 1;
  const shape = { n: 1, classes: C };
  const consensus = new MeanRule().aggregate(honest, shape);
  const clients = [...honest, garbage];

  it('median and trimmed mean keep argmax 3 and stay close to the honest consensus', () => {
    for (const rule of [new MedianRule(), new TrimmedMeanRule({ beta: 0.2 })]) {
      const out = rule.aggregate(clients, shape);
      expect(argmax(out)).toBe(3);
      expect(out[7]).toBeLessThan(0.04);
      expect(l1(out, consensus)).toBeLessThan(0.03);
    }
  });

  it('whereas the mean is pulled towards class 7', () => {
    const out = new MeanRule().aggregate(clients, shape);
    expect(out[7]).toBeGreaterThan(0.2);
    expect(l1(out, consensus)).toBeGreaterThan(0.3);
  });
});
