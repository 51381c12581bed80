import { describe, expect, it } from 'vitest';

import { MedianRule } from './median-rule';

const rows = (...r: number[][]): Float32Array => new Float32Array(r.flat());
const close = (actual: Float32Array, expected: number[], digits = 6): void => {
  expect(actual).toHaveLength(expected.length);
  expected.forEach((v, i) => expect(actual[i]).toBeCloseTo(v, digits));
};

describe('median rule', () => {
  it('takes the coordinate-wise median, then renormalises the row', () => {
    // medians of [0.7, 0.5, 0.1], [0.2, 0.4, 0.1], [0.1, 0.1, 0.8] = [0.5, 0.2, 0.1], sum 0.8 -> [0.625, 0.25, 0.125]
    const out = new MedianRule().aggregate([rows([0.7, 0.2, 0.1]), rows([0.5, 0.4, 0.1]), rows([0.1, 0.1, 0.8])], { n: 1, classes: 3 });
    close(out, [0.625, 0.25, 0.125]);
  });

  it('averages the two middle values for an even number of clients', () => {
    // medians of [0.1, 0.2, 0.6, 0.9] = 0.4 and of [0.9, 0.8, 0.4, 0.1] = 0.6
    const clients = [[0.1, 0.9], [0.2, 0.8], [0.6, 0.4], [0.9, 0.1]].map((r) => rows(r));
    close(new MedianRule().aggregate(clients, { n: 1, classes: 2 }), [0.4, 0.6]);
  });

  it('falls back to the mean of a row whose medians are all 0 (complete disagreement)', () => {
    const clients = [rows([1, 0, 0, 0]), rows([0, 1, 0, 0]), rows([0, 0, 1, 0])];
    close(new MedianRule().aggregate(clients, { n: 1, classes: 4 }), [1 / 3, 1 / 3, 1 / 3, 0]);
  });

  it('needs the individual predictions', () => {
    expect(new MedianRule().needsIndividualPredictions).toBe(true);
  });
});
