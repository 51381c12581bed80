import { describe, expect, it } from 'vitest';

import { TrimmedMeanRule } from './trimmed-mean-rule';

const rows = (...r: number[][]): Float32Array => new Float32Array(r.flat());
const close = (actual: Float32Array, expected: number[], digits = 6): void => {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((v, i) => expect(actual[i]).toBeCloseTo(v, digits));
};

describe('trimmed-mean rule', () => {
  it('drops floor(beta * k) lowest and highest values per coordinate, averages the rest, renormalises', () => {
    // k = 5, beta = 0.2: drop 1 at each end.
    // class 0: [0.9, 0.6, 0.5, 0.3, 0.0] -> mean(0.6, 0.5, 0.3) = 0.46667
    // class 1: [0.1, 0.4, 0.5, 0.7, 1.0] -> mean(0.4, 0.5, 0.7) = 0.53333; sum 1 already
    const clients = [[0.9, 0.1], [0.6, 0.4], [0.5, 0.5], [0.3, 0.7], [0, 1]].map((r) => rows(r));
    close(new TrimmedMeanRule({ beta: 0.2 }).aggregate(clients, { n: 1, classes: 2 }), [0.46667, 0.53333], 4);
  });

  it('is the mean at beta = 0', () => {
    const clients = [[0.9, 0.1], [0.6, 0.4], [0.0, 1.0]].map((r) => rows(r));
    close(new TrimmedMeanRule({ beta: 0 }).aggregate(clients, { n: 1, classes: 2 }), [0.5, 0.5]);
  });

  it('trims exactly floor(beta * k) even where beta * k is inexact in binary (0.29 * 100)', () => {
    // 29 clients say [1, 0], 71 say [0, 1]. Trimming 29 from the top of class 0 removes every 1.
    const clients = Array.from({ length: 100 }, (_, j) => (j < 29 ? rows([1, 0]) : rows([0, 1])));
    close(new TrimmedMeanRule({ beta: 0.29 }).aggregate(clients, { n: 1, classes: 2 }), [0, 1]);
  });

  it('rejects beta outside [0, 0.5)', () => {
    for (const beta of [0.5, -0.1, Number.NaN, 1]) {
      expect(() => new TrimmedMeanRule({ beta })).toThrow(/beta must be a number in \[0, 0.5\)/);
    }
  });
});
