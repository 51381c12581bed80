import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { softmax, kl, mean, value } from './reference-math.testing';

import { OneLoss, oneKlRampUp } from './one-loss';
import { applyOneStudent, buildOneStudent, oneStudentOutputs } from './one-student';


beforeAll(async () => {
  await tf.setBackend('cpu');
});

// Two branches and an ensemble, 2 samples x 3 classes.
const Z1 = [[2, 0, 0], [0, 1, 0]];
const Z2 = [[0, 1, 0], [0, 3, 1]];
const ZE = [[1, 0.5, 0], [0, 2, 0.5]];

describe('ONE loss (Lan et al. 2018)', () => {
  it('is sum_i CE(z_i) + CE(z_e) + T^2 * sum_i KL(softmax(z_e / T) || softmax(z_i / T)) with hard labels', () => {
    const T = 3;
    const labels = [0, 1];
    const ce = (z: number[][]): number => mean(z.map((row, i) => -Math.log(softmax(row)[labels[i]])));
    const klTo = (z: number[][]): number => mean(z.map((row, i) => kl(softmax(ZE[i], T), softmax(row, T))));
    const expected = ce(Z1) + ce(Z2) + ce(ZE) + T * T * (klTo(Z1) + klTo(Z2));
    const loss = new OneLoss({ temperature: T });
    const actual = loss.compute(
      { logits: tf.tensor2d(ZE), branchLogits: [tf.tensor2d(Z1), tf.tensor2d(Z2)] },
      { hardLabels: tf.tensor1d(labels, 'int32') },
    );
    expect(value(actual)).toBeCloseTo(expected, 4);
  });

  it('uses T^2 * KL to the soft labels in place of the cross-entropy when only soft labels exist', () => {
    const T = 2;
    const q = [[0.6, 0.3, 0.1], [0.1, 0.7, 0.2]];
    const sup = (z: number[][]): number => T * T * mean(z.map((row, i) => kl(q[i], softmax(row, T))));
    const klTo = (z: number[][]): number => mean(z.map((row, i) => kl(softmax(ZE[i], T), softmax(row, T))));
    const expected = sup(Z1) + sup(Z2) + sup(ZE) + 0.5 * T * T * (klTo(Z1) + klTo(Z2));
    const loss = new OneLoss({ temperature: T, klWeight: 0.5 });
    const actual = loss.compute({ logits: tf.tensor2d(ZE), branchLogits: [tf.tensor2d(Z1), tf.tensor2d(Z2)] }, { softLabels: tf.tensor2d(q) });
    expect(value(actual)).toBeCloseTo(expected, 4);
  });

  it('treats the ensemble teacher as a constant (as the authors\' code): the KL term sends it no gradient', () => {
    const labels = tf.tensor1d([0, 1], 'int32');
    const gradWrtEnsemble = (klWeight: number): number[] => {
      const loss = new OneLoss({ klWeight });
      const g = tf.grad((ze: tf.Tensor) =>
        loss.compute({ logits: ze as tf.Tensor2D, branchLogits: [tf.tensor2d(Z1), tf.tensor2d(Z2)] }, { hardLabels: labels }),
      )(tf.tensor2d(ZE));
      const out = Array.from(g.dataSync());
      g.dispose();
      return out;
    };
    // Only CE(z_e) reaches the ensemble: (softmax(z_e) - onehot) / batch, whatever the KL weight.
    const expected = ZE.flatMap((row, i) => softmax(row).map((p, c) => (p - (c === [0, 1][i] ? 1 : 0)) / 2));
    gradWrtEnsemble(0).forEach((g, i) => expect(g).toBeCloseTo(expected[i], 5));
    gradWrtEnsemble(10).forEach((g, i) => expect(g).toBeCloseTo(expected[i], 5));
    labels.dispose();
  });

  it('trains a ONE student end to end: the loss falls over a few steps', () => {
    const model = buildOneStudent({ inputShape: [28, 28, 1], trunk: [16], branches: 3, branchHidden: [], classes: 4, seed: 2 });
    const x = tf.randomUniform([8, 28, 28, 1], 0, 1, 'float32', 9);
    const hardLabels = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32');
    const loss = new OneLoss();
    const optimizer = tf.train.adam(0.01);
    const step = (): tf.Scalar => loss.compute(oneStudentOutputs(applyOneStudent(model, x, true)), { hardLabels });
    const first = value(tf.tidy(step));
    for (let i = 0; i < 10; i++) optimizer.minimize(step);
    const last = value(tf.tidy(step));
    expect(Number.isFinite(first)).toBe(true);
    expect(last).toBeLessThan(first);
    tf.dispose([x, hardLabels]);
    optimizer.dispose();
    model.dispose();
  });

  it('keeps no intermediate tensors', () => {
    const loss = new OneLoss();
    const [ze, z1, z2] = [tf.tensor2d(ZE), tf.tensor2d(Z1), tf.tensor2d(Z2)];
    const softLabels = tf.tensor2d([[0.6, 0.3, 0.1], [0.1, 0.7, 0.2]]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) loss.compute({ logits: ze, branchLogits: [z1, z2] }, { softLabels }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ze, z1, z2, softLabels]);
  });

  it('needs branches and labels, and says so', () => {
    const loss = new OneLoss();
    const logits = tf.tensor2d(ZE);
    expect(() => loss.compute({ logits }, { hardLabels: tf.tensor1d([0, 1], 'int32') })).toThrow(/needs student.branchLogits/);
    expect(() => loss.compute({ logits, branchLogits: [tf.tensor2d(Z1), tf.tensor2d(Z2)] }, {})).toThrow(
      /needs targets.hardLabels, targets.softLabels or targets.teacherLogits/,
    );
    expect(() => loss.compute({ logits, branchLogits: [tf.tensor2d(Z1), tf.zeros([2, 4]) as tf.Tensor2D] }, {})).toThrow(/branchLogits\[1\]/);
    expect(() => new OneLoss({ klWeight: -1 })).toThrow(/klWeight/);
    logits.dispose();
  });
});

describe('ONE KL ramp-up (the authors\' schedule)', () => {
  it('rises as exp(-5 (1 - t)^2) and stays at 1 after the ramp', () => {
    expect(oneKlRampUp(0, 80)).toBeCloseTo(Math.exp(-5), 8);
    expect(oneKlRampUp(40, 80)).toBeCloseTo(Math.exp(-1.25), 8);
    expect(oneKlRampUp(80, 80)).toBe(1);
    expect(oneKlRampUp(200, 80)).toBe(1);
    expect(oneKlRampUp(3, 0)).toBe(1);
  });
});
