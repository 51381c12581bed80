import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { softmax, value } from './reference-math.testing';

import { HintLoss } from './hint-loss';


beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('hint loss (FitNets, Romero et al. 2015)', () => {
  it('is the MSE between the features when the widths match (identity regressor, no variables)', () => {
    // (1-1)^2 + (2-1)^2 + (3-3)^2 + (4-3)^2 = 2 over 4 entries = 0.5
    const loss = new HintLoss({ studentWidth: 2, teacherWidth: 2, seed: 1 });
    expect(loss.trainableVariables()).toEqual([]);
    const actual = loss.compute(
      { logits: tf.zeros([2, 3]), features: tf.tensor2d([[1, 2], [3, 4]]) },
      { teacherFeatures: tf.tensor2d([[1, 1], [3, 3]]) },
    );
    expect(value(actual)).toBeCloseTo(0.5, 6);
  });

  it('maps the student features through its own affine projection when the widths differ', () => {
    const loss = new HintLoss({ studentWidth: 3, teacherWidth: 2, seed: 7 });
    const [weights, bias] = loss.trainableVariables();
    expect(weights.shape).toEqual([3, 2]);
    expect(bias.shape).toEqual([2]);
    // W = [[1, 0], [0, 1], [1, 1]], b = [0.5, 0]: [1, 2, 3] -> [1 + 3 + 0.5, 2 + 3] = [4.5, 5]
    weights.assign(tf.tensor2d([[1, 0], [0, 1], [1, 1]]));
    bias.assign(tf.tensor1d([0.5, 0]));
    // teacher [4, 4]: ((4.5 - 4)^2 + (5 - 4)^2) / 2 = (0.25 + 1) / 2 = 0.625
    const actual = loss.compute({ logits: tf.zeros([1, 3]), features: tf.tensor2d([[1, 2, 3]]) }, { teacherFeatures: tf.tensor2d([[4, 4]]) });
    expect(value(actual)).toBeCloseTo(0.625, 6);
    loss.dispose();
  });

  it('initialises the projection from its seed: same seed, same weights; another seed, other weights', () => {
    const a = new HintLoss({ studentWidth: 8, teacherWidth: 4, seed: 42 });
    const b = new HintLoss({ studentWidth: 8, teacherWidth: 4, seed: 42 });
    const c = new HintLoss({ studentWidth: 8, teacherWidth: 4, seed: 43 });
    const wa = Array.from(a.trainableVariables()[0].dataSync());
    expect(Array.from(b.trainableVariables()[0].dataSync())).toEqual(wa);
    expect(Array.from(c.trainableVariables()[0].dataSync())).not.toEqual(wa);
    // Glorot-normal scale: std sqrt(2 / (8 + 4)) = 0.41; the sample std of 32 draws is near it.
    const std = Math.sqrt(wa.reduce((s, w) => s + w * w, 0) / wa.length);
    expect(std).toBeGreaterThan(0.2);
    expect(std).toBeLessThan(0.7);
    [a, b, c].forEach((l) => l.dispose());
  });

  it('trains its projection: the variables get non-zero gradients and a few steps reduce the loss', () => {
    const loss = new HintLoss({ studentWidth: 4, teacherWidth: 3, seed: 3 });
    const studentFeatures = tf.tensor2d([[1, 0, 2, -1], [0, 1, -1, 2], [2, 2, 0, 0]]);
    const teacherFeatures = tf.tensor2d([[1, 2, 3], [-1, 0, 1], [4, 0, -2]]);
    const f = (): tf.Scalar => loss.compute({ logits: tf.zeros([3, 2]), features: studentFeatures }, { teacherFeatures });
    const { value: first, grads } = tf.variableGrads(f, loss.trainableVariables());
    for (const v of loss.trainableVariables()) {
      const g = Array.from(grads[v.name].dataSync());
      expect(g.every(Number.isFinite)).toBe(true);
      expect(Math.max(...g.map(Math.abs))).toBeGreaterThan(0);
    }
    const optimizer = tf.train.sgd(0.05);
    for (let step = 0; step < 20; step++) optimizer.minimize(f, false, loss.trainableVariables());
    expect(value(f())).toBeLessThan(first.dataSync()[0] / 2);
    tf.dispose([first, studentFeatures, teacherFeatures, ...Object.values(grads)]);
    optimizer.dispose();
    loss.dispose();
  });

  it('adds beta times the response term when beta > 0', () => {
    // hint: features equal -> 0; response without hard labels at T = 2: 4 * KL(q || softmax(z / 2))
    const z = [2, 0];
    const q = [0.5, 0.5];
    const p = softmax(z, 2);
    const response = 4 * (0.5 * Math.log(0.5 / p[0]) + 0.5 * Math.log(0.5 / p[1]));
    const loss = new HintLoss({ studentWidth: 2, teacherWidth: 2, seed: 1, beta: 0.25, temperature: 2 });
    const actual = loss.compute(
      { logits: tf.tensor2d([z]), features: tf.tensor2d([[1, 2]]) },
      { teacherFeatures: tf.tensor2d([[1, 2]]), softLabels: tf.tensor2d([q]) },
    );
    expect(value(actual)).toBeCloseTo(0.25 * response, 5);
  });

  it('rejects missing or mis-shaped features and a response term without temperature', () => {
    const loss = new HintLoss({ studentWidth: 3, teacherWidth: 2, seed: 1 });
    const logits = tf.zeros([1, 2]) as tf.Tensor2D;
    expect(() => loss.compute({ logits }, { teacherFeatures: tf.zeros([1, 2]) as tf.Tensor2D })).toThrow(/needs student.features/);
    expect(() => loss.compute({ logits, features: tf.zeros([1, 3]) as tf.Tensor2D }, {})).toThrow(/needs targets.teacherFeatures/);
    expect(() =>
      loss.compute({ logits, features: tf.zeros([1, 4]) as tf.Tensor2D }, { teacherFeatures: tf.zeros([1, 2]) as tf.Tensor2D }),
    ).toThrow(/student features must be \[batch, 3\], got \[1, 4\]/);
    expect(() =>
      loss.compute({ logits, features: tf.zeros([1, 3]) as tf.Tensor2D }, { teacherFeatures: tf.zeros([1, 5]) as tf.Tensor2D }),
    ).toThrow(/teacher features must be \[1, 2\], got \[1, 5\]/);
    expect(() => new HintLoss({ studentWidth: 3, teacherWidth: 2, seed: 1, beta: 1 })).toThrow(/temperature is required when beta > 0/);
    expect(() => new HintLoss({ studentWidth: 0, teacherWidth: 2, seed: 1 })).toThrow(/studentWidth/);
    expect(() => new HintLoss({ studentWidth: 3, teacherWidth: 2, seed: 1.5 })).toThrow(/seed must be an integer/);
    loss.dispose();
  });

  it('frees its projection on dispose and keeps no intermediates', () => {
    const before = tf.memory().numTensors;
    const loss = new HintLoss({ studentWidth: 5, teacherWidth: 3, seed: 9 });
    expect(tf.memory().numTensors).toBe(before + 2);
    const features = tf.ones([2, 5]) as tf.Tensor2D;
    const teacherFeatures = tf.ones([2, 3]) as tf.Tensor2D;
    const logits = tf.zeros([2, 2]) as tf.Tensor2D;
    const afterInputs = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) loss.compute({ logits, features }, { teacherFeatures }).dispose();
    expect(tf.memory().numTensors).toBe(afterInputs);
    tf.dispose([features, teacherFeatures, logits]);
    loss.dispose();
    loss.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
