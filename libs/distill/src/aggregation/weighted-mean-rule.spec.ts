import { describe, expect, it } from 'vitest';

import { WeightedMeanRule } from './weighted-mean-rule';

const rows = (...r: number[][]): Float32Array => new Float32Array(r.flat());
const close = (actual: Float32Array, expected: number[]): void => {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((v, i) => expect(actual[i]).toBeCloseTo(v, 6));
};
const SHAPE = { n: 2, classes: 3 };
const A = rows([1, 0, 0], [0.2, 0.3, 0.5]);
const B = rows([0, 1, 0], [0.4, 0.3, 0.3]);

describe('weighted rule', () => {
  it('weights each client by its sample count', () => {
    // weights 3 and 1: row 0 = [3, 1, 0] / 4; row 1 = ([0.6, 0.9, 1.5] + [0.4, 0.3, 0.3]) / 4 = [0.25, 0.3, 0.45]
    close(new WeightedMeanRule().aggregate([A, B], SHAPE, [3, 1]), [0.75, 0.25, 0, 0.25, 0.3, 0.45]);
  });

  it('equals the mean with equal weights and needs only the weighted sum', () => {
    const rule = new WeightedMeanRule();
    close(rule.aggregate([A, B], SHAPE, [7, 7]), [0.5, 0.5, 0, 0.3, 0.3, 0.4]);
    expect(rule.needsIndividualPredictions).toBe(false);
  });
});
