import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { softmax, kl, mean, value } from './reference-math.testing';

import { ResponseLoss } from './response-loss';


beforeAll(async () => {
  await tf.setBackend('cpu');
});

/*
 * Worked example, 2 samples x 3 classes, T = 2:
 *   student z = [[1, 2, 3], [0, 0, 0]] -> z / T = [[0.5, 1, 1.5], [0, 0, 0]]
 *   softmax(z / T) = [[0.18632, 0.30720, 0.50648], [1/3, 1/3, 1/3]]
 *   soft labels q = [[0.2, 0.3, 0.5], [1, 0, 0]] (row 2 is one-hot: 0 log 0 = 0)
 *   KL row 1 = 0.2 ln(0.2/0.18632) + 0.3 ln(0.3/0.30720) + 0.5 ln(0.5/0.50648) = 0.000614
 *   KL row 2 = 1 * ln(1 / (1/3)) = ln 3 = 1.098612
 *   T^2 * mean KL = 4 * 0.549613 = 2.19845
 * With hard labels y = [2, 0] and alpha = 0.3:
 *   CE = mean(-ln softmax([1,2,3])[2], -ln(1/3)) = mean(0.40761, 1.09861) = 0.75311
 *   loss = 0.3 * 0.75311 + 0.7 * 2.19845 = 1.76485
 */
const Z = [
  [1, 2, 3],
  [0, 0, 0],
];
const Q = [
  [0.2, 0.3, 0.5],
  [1, 0, 0],
];

describe('response loss (Hinton et al. 2015)', () => {
  it('is T^2 * KL(soft labels || softmax(z / T)) without hard labels (the federated case)', () => {
    const expected = 4 * mean(Z.map((z, i) => kl(Q[i], softmax(z, 2))));
    expect(expected).toBeCloseTo(2.19845, 4);
    const loss = new ResponseLoss({ temperature: 2, alpha: 0.3 });
    expect(value(loss.compute({ logits: tf.tensor2d(Z) }, { softLabels: tf.tensor2d(Q) }))).toBeCloseTo(expected, 5);
  });

  it('is alpha * CE(hard labels) + (1 - alpha) * T^2 * KL with hard labels', () => {
    const labels = [2, 0];
    const ce = mean(Z.map((z, i) => -Math.log(softmax(z)[labels[i]])));
    const soft = 4 * mean(Z.map((z, i) => kl(Q[i], softmax(z, 2))));
    const expected = 0.3 * ce + 0.7 * soft;
    expect(expected).toBeCloseTo(1.76485, 4);
    const loss = new ResponseLoss({ temperature: 2, alpha: 0.3 });
    const actual = loss.compute({ logits: tf.tensor2d(Z) }, { softLabels: tf.tensor2d(Q), hardLabels: tf.tensor1d(labels, 'int32') });
    expect(value(actual)).toBeCloseTo(expected, 5);
  });

  it('is the plain cross-entropy when there is no teacher, only hard labels (a client training its teacher)', () => {
    const labels = [2, 0];
    const expected = mean(Z.map((z, i) => -Math.log(softmax(z)[labels[i]])));
    expect(expected).toBeCloseTo(0.75311, 4);
    const loss = new ResponseLoss({ temperature: 2, alpha: 0.3 });
    expect(value(loss.compute({ logits: tf.tensor2d(Z) }, { hardLabels: tf.tensor1d(labels, 'int32') }))).toBeCloseTo(expected, 5);
  });

  it('is 0 when the student already matches the soft labels', () => {
    const matching = Z.map((z) => softmax(z, 2));
    const loss = new ResponseLoss({ temperature: 2 });
    expect(value(loss.compute({ logits: tf.tensor2d(Z) }, { softLabels: tf.tensor2d(matching) }))).toBeCloseTo(0, 6);
  });

  it('takes the teacher distribution from teacherLogits at temperature T when given (over softLabels)', () => {
    const teacher = [
      [3, 1, 0],
      [0, 2, 0],
    ];
    const expected = 9 * mean(Z.map((z, i) => kl(softmax(teacher[i], 3), softmax(z, 3))));
    const loss = new ResponseLoss({ temperature: 3 });
    const actual = loss.compute({ logits: tf.tensor2d(Z) }, { teacherLogits: tf.tensor2d(teacher), softLabels: tf.tensor2d(Q) });
    expect(value(actual)).toBeCloseTo(expected, 5);
  });

  it('has finite gradients with one-hot soft labels (no log 0)', () => {
    const loss = new ResponseLoss({ temperature: 1 });
    const labels = tf.tensor2d([
      [0, 1, 0],
      [1, 0, 0],
    ]);
    const grad = tf.grad((z: tf.Tensor) => loss.compute({ logits: z as tf.Tensor2D }, { softLabels: labels }))(tf.tensor2d(Z));
    // d/dz of mean KL(q || softmax(z)) is (softmax(z) - q) / batch.
    const expected = Z.flatMap((z, i) => softmax(z).map((p, c) => (p - [[0, 1, 0], [1, 0, 0]][i][c]) / 2));
    Array.from(grad.dataSync()).forEach((g, i) => expect(g).toBeCloseTo(expected[i], 5));
    tf.dispose([grad, labels]);
  });

  it('rejects bad options and missing or mismatched targets, saying what is wrong', () => {
    expect(() => new ResponseLoss({ temperature: 0 })).toThrow(/temperature must be a finite number > 0/);
    expect(() => new ResponseLoss({ temperature: 1, alpha: 1.5 })).toThrow(/alpha must be a finite number in \[0, 1\]/);
    const loss = new ResponseLoss({ temperature: 1 });
    const logits = tf.tensor2d(Z);
    expect(() => loss.compute({ logits }, {})).toThrow(/needs targets.softLabels, targets.teacherLogits or targets.hardLabels/);
    expect(() => loss.compute({ logits }, { softLabels: tf.tensor2d([[1, 0]]) })).toThrow(/shapes differ, \[2, 3\] vs \[1, 2\]/);
    expect(() => loss.compute({ logits }, { softLabels: tf.tensor2d(Q), hardLabels: tf.tensor1d([1], 'int32') })).toThrow(/hardLabels must be \[2\]/);
  });

  it('keeps no intermediate tensors', () => {
    const loss = new ResponseLoss({ temperature: 2, alpha: 0.5 });
    const logits = tf.tensor2d(Z);
    const softLabels = tf.tensor2d(Q);
    const hardLabels = tf.tensor1d([2, 0], 'int32');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) loss.compute({ logits }, { softLabels, hardLabels }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, softLabels, hardLabels]);
  });
});
