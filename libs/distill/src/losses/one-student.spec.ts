import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { applyOneStudent, buildOneStudent, oneBranchCount, predictOneEnsemble, splitOneOutputs } from './one-student';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const OPTIONS = { inputShape: [28, 28, 1], trunk: [32], branches: 3, branchHidden: [16], classes: 10, seed: 11 };
const batch = (): tf.Tensor4D => tf.randomUniform([4, 28, 28, 1], 0, 1, 'float32', 5) as tf.Tensor4D;

describe('ONE student (Lan et al. 2018)', () => {
  it('outputs k branch logits, the ensemble logits and the gate weights, in that order', () => {
    const model = buildOneStudent(OPTIONS);
    expect(oneBranchCount(model)).toBe(3);
    const x = batch();
    const outputs = model.predict(x) as tf.Tensor[];
    expect(outputs.map((o) => o.shape)).toEqual([[4, 10], [4, 10], [4, 10], [4, 10], [4, 3]]);
    const { gateWeights } = splitOneOutputs(outputs);
    const gates = gateWeights.arraySync();
    gates.forEach((row) => {
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      row.forEach((g) => expect(g).toBeGreaterThan(0));
    });
    tf.dispose([x, ...outputs]);
    model.dispose();
  });

  it('makes the ensemble the gate-weighted sum of the branch logits, sample by sample', () => {
    const model = buildOneStudent(OPTIONS);
    const x = batch();
    const parts = applyOneStudent(model, x);
    const z = parts.branchLogits.map((t) => t.arraySync());
    const g = parts.gateWeights.arraySync();
    const ensemble = parts.ensembleLogits.arraySync();
    for (let i = 0; i < 4; i++) {
      for (let c = 0; c < 10; c++) {
        const expected = g[i][0] * z[0][i][c] + g[i][1] * z[1][i][c] + g[i][2] * z[2][i][c];
        expect(ensemble[i][c]).toBeCloseTo(expected, 5);
      }
    }
    const evaluated = predictOneEnsemble(model, x);
    expect(evaluated.arraySync()).toEqual(ensemble);
    tf.dispose([x, evaluated, ...parts.branchLogits, parts.ensembleLogits, parts.gateWeights]);
    model.dispose();
  });

  it('is reproducible from its seed, and its branches start different from each other', () => {
    const a = buildOneStudent(OPTIONS);
    const b = buildOneStudent(OPTIONS);
    const c = buildOneStudent({ ...OPTIONS, seed: 12 });
    const x = batch();
    const [za, zb, zc] = [a, b, c].map((m) => (m.predict(x) as tf.Tensor[]).map((t) => t.arraySync() as number[][]));
    expect(zb).toEqual(za);
    expect(zc[0]).not.toEqual(za[0]);
    expect(za[1]).not.toEqual(za[0]);
    expect(za[2]).not.toEqual(za[1]);
    x.dispose();
    [a, b, c].forEach((m) => m.dispose());
  });

  it('leaves nothing behind when predicting the ensemble', () => {
    const model = buildOneStudent(OPTIONS);
    const x = batch();
    const before = tf.memory().numTensors;
    predictOneEnsemble(model, x).dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('rejects bad options, naming them', () => {
    expect(() => buildOneStudent({ ...OPTIONS, branches: 1 })).toThrow(/branches must be an integer >= 2/);
    expect(() => buildOneStudent({ ...OPTIONS, classes: 1 })).toThrow(/classes/);
    expect(() => buildOneStudent({ ...OPTIONS, trunk: [0] })).toThrow(/trunk must be a list of positive integer widths/);
    expect(() => buildOneStudent({ ...OPTIONS, inputShape: [] })).toThrow(/inputShape/);
    expect(() => buildOneStudent({ ...OPTIONS, seed: 0.5 })).toThrow(/seed/);
    expect(() => splitOneOutputs([tf.zeros([1, 2])])).toThrow(/not a ONE student's outputs/);
  });
});
