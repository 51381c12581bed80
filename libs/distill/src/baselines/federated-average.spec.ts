import { describe, expect, it } from 'vitest';
import type { NamedWeights } from '@fedkd/engine';
import { federatedAverage } from './federated-average';

const weights = (a: number[], b: number[]): NamedWeights => [
  { name: 'dense/kernel', shape: [2, 2], values: Float32Array.from(a) },
  { name: 'dense/bias', shape: [2], values: Float32Array.from(b) },
];

describe('federatedAverage', () => {
  it('is exactly the sample-weighted mean sum_k (n_k / n) w_k', () => {
    const updates = [
      { weights: weights([1, 2, 3, 4], [0, 8]), samples: 1 },
      { weights: weights([5, 6, 7, 8], [4, -8]), samples: 3 },
      { weights: weights([-4, 0, 0.5, 100], [2, 2]), samples: 4 },
    ];
    const avg = federatedAverage(updates);
    // n = 8: (1*w1 + 3*w2 + 4*w3) / 8, all exact in binary.
    expect(Array.from(avg[0].values)).toEqual([(1 + 15 - 16) / 8, (2 + 18 + 0) / 8, (3 + 21 + 2) / 8, (4 + 24 + 400) / 8]);
    expect(Array.from(avg[1].values)).toEqual([(0 + 12 + 8) / 8, (8 - 24 + 8) / 8]);
    expect(avg.map((w) => [w.name, w.shape])).toEqual([
      ['dense/kernel', [2, 2]],
      ['dense/bias', [2]],
    ]);
  });

  it('matches a float64 reference rounded once to float32 on awkward values', () => {
    const values = [
      [0.1, 1e-7, -3.3333333, 12345.678],
      [0.7, 2e-7, 1.1, -0.001],
      [-0.2, 3e-7, 9.99, 42],
    ];
    const samples = [300, 1, 1699];
    const updates = values.map((v, k) => ({ weights: [{ name: 'w', shape: [4], values: Float32Array.from(v) }], samples: samples[k] }));
    const n = samples.reduce((a, b) => a + b, 0);
    const expected = [0, 1, 2, 3].map((i) =>
      Math.fround(updates.reduce((s, u) => s + u.samples * u.weights[0].values[i], 0) / n),
    );
    expect(Array.from(federatedAverage(updates)[0].values)).toEqual(expected);
  });

  it('returns equal weights unchanged and does not alias its inputs', () => {
    const w = weights([1.5, -2, 3, 0.25], [7, 9]);
    const avg = federatedAverage([
      { weights: w, samples: 5 },
      { weights: weights([1.5, -2, 3, 0.25], [7, 9]), samples: 11 },
    ]);
    expect(avg).toEqual(w);
    avg[0].values[0] = 99;
    expect(w[0].values[0]).toBe(1.5);
  });

  it('rejects mismatched layouts and bad sample counts, naming them', () => {
    const a = weights([1, 2, 3, 4], [0, 0]);
    expect(() => federatedAverage([])).toThrow(/no client updates/);
    expect(() => federatedAverage([{ weights: a, samples: 0 }])).toThrow(/samples/);
    expect(() => federatedAverage([{ weights: a, samples: 1.5 }])).toThrow(/samples/);
    expect(() => federatedAverage([{ weights: a, samples: 1 }, { weights: a.slice(0, 1), samples: 1 }])).toThrow(/1 tensors/);
    const renamed = weights([1, 2, 3, 4], [0, 0]);
    renamed[1].name = 'other/bias';
    expect(() => federatedAverage([{ weights: a, samples: 1 }, { weights: renamed, samples: 1 }])).toThrow(/other\/bias/);
    const reshaped = weights([1, 2, 3, 4], [0, 0]);
    reshaped[0].shape = [4, 1];
    expect(() => federatedAverage([{ weights: a, samples: 1 }, { weights: reshaped, samples: 1 }])).toThrow(/\[4, 1\]/);
  });
});
