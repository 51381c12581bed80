import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { logSoftmaxWithTemperature, softmaxRows, softmaxWithTemperature } from './temperature-softmax';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('softmaxWithTemperature', () => {
  it('is the ordinary softmax at T = 1', () => {
    // e^1, e^2, e^3 = 2.71828, 7.38906, 20.08554; sum 30.19287
    const p = softmaxWithTemperature(tf.tensor2d([[1, 2, 3]]), 1);
    expect(Array.from(p.dataSync())).toEqual([
      expect.closeTo(0.09003, 5),
      expect.closeTo(0.24473, 5),
      expect.closeTo(0.66524, 5),
    ]);
    p.dispose();
  });

  it('divides the logits by T before the softmax (T = 2 softens)', () => {
    // [0, 2] / 2 = [0, 1]: [1, e] / (1 + e) = [0.26894, 0.73106]
    const p = softmaxWithTemperature(tf.tensor2d([[0, 2]]), 2);
    expect(Array.from(p.dataSync())).toEqual([expect.closeTo(0.26894, 5), expect.closeTo(0.73106, 5)]);
    p.dispose();
  });

  it('stays finite for huge logits', () => {
    const p = softmaxWithTemperature(tf.tensor2d([[1000, 0, -1000], [-5e4, -5e4, -5e4]]), 0.5);
    const values = Array.from(p.dataSync());
    expect(values.every(Number.isFinite)).toBe(true);
    expect(values.slice(0, 3)).toEqual([1, 0, 0]);
    expect(values.slice(3)).toEqual([expect.closeTo(1 / 3, 6), expect.closeTo(1 / 3, 6), expect.closeTo(1 / 3, 6)]);
    p.dispose();
  });

  it('gives log-probabilities that stay finite where the probability underflows', () => {
    const lp = logSoftmaxWithTemperature(tf.tensor2d([[1000, 0]]), 1);
    expect(Array.from(lp.dataSync())).toEqual([expect.closeTo(0, 6), expect.closeTo(-1000, 3)]);
    lp.dispose();
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects T = %s with a clear error', (T) => {
    const logits = tf.tensor2d([[1, 2]]);
    expect(() => softmaxWithTemperature(logits, T)).toThrow(/temperature must be a finite number > 0/);
    logits.dispose();
  });

  it('rejects logits that are not [batch, classes]', () => {
    const logits = tf.tensor1d([1, 2]);
    expect(() => softmaxWithTemperature(logits as unknown as tf.Tensor2D, 1)).toThrow(/rank 2/);
    logits.dispose();
  });

  it('leaves no tensors behind but its result', () => {
    const logits = tf.tensor2d([[1, 2, 3]]);
    const before = tf.memory().numTensors;
    const p = softmaxWithTemperature(logits, 3);
    expect(tf.memory().numTensors).toBe(before + 1);
    p.dispose();
    logits.dispose();
  });
});

describe('softmaxRows (plain JS)', () => {
  it('matches the tensor version row by row', () => {
    const logits = new Float32Array([1, 2, 3, -1, 0, 4]);
    const expected = softmaxWithTemperature(tf.tensor2d(logits, [2, 3]), 2.5);
    const actual = softmaxRows(logits, 3, 2.5);
    Array.from(expected.dataSync()).forEach((v, i) => expect(actual[i]).toBeCloseTo(v, 6));
    expected.dispose();
  });

  it('defaults to T = 1 and never overflows', () => {
    expect(Array.from(softmaxRows(new Float32Array([0, Math.log(3)]), 2))).toEqual([expect.closeTo(0.25, 6), expect.closeTo(0.75, 6)]);
    expect(Array.from(softmaxRows(new Float32Array([3e38, 0]), 2, 0.01))).toEqual([1, 0]);
  });

  it('rejects a length that is not a multiple of classes, bad classes, T and non-finite logits', () => {
    expect(() => softmaxRows(new Float32Array(5), 3)).toThrow(/not a multiple of classes 3/);
    expect(() => softmaxRows(new Float32Array(4), 0)).toThrow(/classes must be a positive integer/);
    expect(() => softmaxRows(new Float32Array(4), 2, 0)).toThrow(/temperature must be a finite number > 0/);
    expect(() => softmaxRows(new Float32Array([0, Number.NaN]), 2)).toThrow(/index 1 is NaN/);
  });
});
