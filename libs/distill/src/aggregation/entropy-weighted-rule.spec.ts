import { describe, expect, it } from 'vitest';

import { EntropyWeightedRule, entropyReduction } from './entropy-weighted-rule';
import { MeanRule } from './mean-rule';

const rows = (...r: number[][]): Float32Array => new Float32Array(r.flat());
const argmax = (row: ArrayLike<number>): number => Array.from(row).reduce((best, v, i, all) => (v > all[best] ? i : best), 0);
const entropy = (p: number[]): number => p.reduce((h, v) => (v > 0 ? h - v * Math.log(v) : h), 0);
const softmax = (z: number[], T: number): number[] => {
  const e = z.map((v) => Math.exp(v / T));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

/*
 * One sample, 3 classes. A is sure it is class 0; B and C hesitate between classes 1 and 2.
 *   A = [0.9, 0.05, 0.05]: H = 0.09482 + 2 * 0.14979 = 0.39440 nats; confidence 1 - H / ln 3 = 0.64100
 *   B = C = [0.05, 0.5, 0.45]: H = 0.14979 + 0.34657 + 0.35933 = 0.85569; confidence 0.22112
 *   plain mean = [0.3333, 0.35, 0.3167] -> argmax 1
 *   confidence-weighted = (0.64100 A + 0.22112 (B + C)) / 1.08324 = [0.55298, 0.23371, 0.21330] -> argmax 0
 *   ERA at T = 0.1: softmax([5.5298, 2.3371, 2.1330]) = [0.93063, 0.03821, 0.03116]
 */
const A = [0.9, 0.05, 0.05];
const B = [0.05, 0.5, 0.45];
const SHAPE = { n: 1, classes: 3 };

describe('entropy-weighted rule (after DS-FL, Itahara et al. 2021)', () => {
  it('favours the confident client over two hesitant ones', () => {
    const confidence = (p: number[]): number => 1 - entropy(p) / Math.log(3);
    const [wa, wb] = [confidence(A), confidence(B)];
    expect(wa).toBeCloseTo(0.641, 4);
    expect(wb).toBeCloseTo(0.22112, 4);
    const weighted = A.map((a, c) => (wa * a + 2 * wb * B[c]) / (wa + 2 * wb));
    const expected = softmax(weighted, 0.1);
    expect(expected[0]).toBeCloseTo(0.93063, 4);

    const out = new EntropyWeightedRule().aggregate([rows(A), rows(B), rows(B)], SHAPE);
    expected.forEach((v, c) => expect(out[c]).toBeCloseTo(v, 5));
    expect(argmax(out)).toBe(0);
    expect(argmax(new MeanRule().aggregate([rows(A), rows(B), rows(B)], SHAPE))).toBe(1);
  });

  it('without confidence weighting is exactly DS-FL ERA: softmax(mean / T), and needs only the mean', () => {
    const rule = new EntropyWeightedRule({ confidenceWeighting: false, sharpenTemperature: 0.1 });
    const mean = A.map((a, c) => (a + 2 * B[c]) / 3);
    const out = rule.aggregate([rows(A), rows(B), rows(B)], SHAPE);
    softmax(mean, 0.1).forEach((v, c) => expect(out[c]).toBeCloseTo(v, 5));
    expect(rule.needsIndividualPredictions).toBe(false);
    expect(new EntropyWeightedRule().needsIndividualPredictions).toBe(true);
  });

  it('sharpens: lower entropy than the average it starts from, same argmax, rows summing to 1', () => {
    const clients = [rows([0.5, 0.3, 0.2], [0.1, 0.1, 0.8]), rows([0.4, 0.4, 0.2], [0.3, 0.3, 0.4])];
    const out = new EntropyWeightedRule({ confidenceWeighting: false }).aggregate(clients, { n: 2, classes: 3 });
    const mean = new MeanRule().aggregate(clients, { n: 2, classes: 3 });
    for (let i = 0; i < 2; i++) {
      const o = Array.from(out.subarray(i * 3, i * 3 + 3));
      const m = Array.from(mean.subarray(i * 3, i * 3 + 3));
      expect(entropy(o)).toBeLessThan(entropy(m));
      expect(argmax(o)).toBe(argmax(m));
      expect(o.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    }
  });

  it('gives equal weights when every client is uniform on a sample (and the result stays uniform)', () => {
    const u = [1 / 3, 1 / 3, 1 / 3];
    const out = new EntropyWeightedRule().aggregate([rows(u), rows(u)], SHAPE);
    Array.from(out).forEach((v) => expect(v).toBeCloseTo(1 / 3, 6));
  });

  it('multiplies the confidences by per-client weights when given', () => {
    const confidence = (p: number[]): number => 1 - entropy(p) / Math.log(3);
    const [wa, wb] = [confidence(A) * 1, confidence(B) * 5];
    const weighted = A.map((a, c) => (wa * a + wb * B[c]) / (wa + wb));
    const out = new EntropyWeightedRule({ sharpenTemperature: 1 }).aggregate([rows(A), rows(B)], SHAPE, [1, 5]);
    softmax(weighted, 1).forEach((v, c) => expect(out[c]).toBeCloseTo(v, 5));
  });

  it('exports the entropy-reduction step for use after secure aggregation', () => {
    const out = entropyReduction(new Float32Array([0.5, 0.3, 0.2]), 3, 0.1);
    softmax([0.5, 0.3, 0.2], 0.1).forEach((v, c) => expect(out[c]).toBeCloseTo(v, 6));
  });

  it('rejects a non-positive sharpening temperature', () => {
    for (const t of [0, -0.1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new EntropyWeightedRule({ sharpenTemperature: t })).toThrow(/sharpenTemperature must be a finite number > 0/);
    }
  });
});
