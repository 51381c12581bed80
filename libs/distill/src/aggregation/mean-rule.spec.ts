import { describe, expect, it } from 'vitest';

import { MeanRule } from './mean-rule';

const rows = (...r: number[][]): Float32Array => new Float32Array(r.flat());
const close = (actual: Float32Array, expected: number[]): void => {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((v, i) => expect(actual[i]).toBeCloseTo(v, 6));
};
const SHAPE = { n: 2, classes: 3 };
const A = rows([1, 0, 0], [0.2, 0.3, 0.5]);
const B = rows([0, 1, 0], [0.4, 0.3, 0.3]);

describe('mean rule', () => {
  it('averages the clients row by row', () => {
    // row 0: ([1,0,0] + [0,1,0]) / 2; row 1: ([0.2,0.3,0.5] + [0.4,0.3,0.3]) / 2
    close(new MeanRule().aggregate([A, B], SHAPE), [0.5, 0.5, 0, 0.3, 0.3, 0.4]);
  });

  it('ignores per-client weights (it is the unweighted rule) and works on the sum alone', () => {
    const rule = new MeanRule();
    close(rule.aggregate([A, B], SHAPE, [100, 1]), [0.5, 0.5, 0, 0.3, 0.3, 0.4]);
    expect(rule.needsIndividualPredictions).toBe(false);
  });

  it('does not modify its inputs', () => {
    const copy = A.slice();
    new MeanRule().aggregate([A, B], SHAPE);
    expect(A).toEqual(copy);
  });
});
