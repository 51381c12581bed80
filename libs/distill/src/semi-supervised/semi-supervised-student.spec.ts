import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, predictAll, SeededRng, type MlpSpec } from '@fedkd/engine';
import { loadMnist, subset } from '@fedkd/data';
import { evaluateAccuracy } from '../training/evaluate';
import { confidentPseudoLabels, DistributionAlignment, trainSemiSupervisedStudent, type SemiSupervisedProgress } from './semi-supervised-student';

// A small MLP on image inputs keeps these runs fast on the cpu backend; the trainer treats it as any image model.
const SMALL: MlpSpec = { kind: 'mlp', inputShape: [28, 28, 1], hidden: [32], classes: 10 };
const SHAPE = { height: 28, width: 28, channels: 1 };

describe('semi-supervised student', () => {
  const all = loadMnist();
  const inputs = subset(all, Array.from({ length: 200 }, (_, i) => i * 11));
  const test = subset(all, Array.from({ length: 300 }, (_, i) => i * 11 + 5));
  const labelled = { indices: Array.from({ length: 100 }, (_, i) => i), labels: Array.from(inputs.labels.subarray(0, 100)) };

  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('learns from 100 labels and 200 inputs: logits of shape [n, 10], well above chance, one progress report per epoch', async () => {
    const seen: SemiSupervisedProgress[] = [];
    const model = await trainSemiSupervisedStudent({ spec: SMALL, inputs, labelled, epochs: 6, batchSize: 10, unlabelledRatio: 2, seed: 1, threshold: 0.8, onProgress: (p) => seen.push(p) });
    const logits = model.predict(tf.zeros([3, 28, 28, 1])) as tf.Tensor;
    expect(logits.shape).toEqual([3, 10]);
    logits.dispose();
    expect(evaluateAccuracy(model, test, test.labels)).toBeGreaterThan(0.3); // chance is 0.1; an MLP gains little from shifted views of 100 digits
    expect(seen.map((p) => p.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seen.every((p) => p.unlabelledSeen === 200)).toBe(true);
    expect(seen[5].pseudoLabelled).toBeGreaterThan(0);
    model.dispose();
  });

  it('uses no unlabelled input whose weak-view confidence stays below the threshold', async () => {
    // Two input sets that agree on the labelled rows and differ everywhere else.
    const rng = new SeededRng(4);
    const scrambled = { ...inputs, values: inputs.values.slice() };
    for (let i = 100 * 784; i < scrambled.values.length; i++) scrambled.values[i] = rng.uniform();
    const run = async (set: typeof inputs, threshold: number) => {
      let pseudo = 0;
      const model = await trainSemiSupervisedStudent({
        spec: SMALL,
        inputs: set,
        labelled,
        epochs: 2,
        batchSize: 20,
        seed: 2,
        threshold,
        onProgress: (p) => (pseudo += p.pseudoLabelled),
      });
      const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      return { weights, pseudo };
    };
    const [strict, strictScrambled] = [await run(inputs, 1), await run(scrambled, 1)];
    expect(strict.pseudo).toBe(0);
    expect(strictScrambled.pseudo).toBe(0);
    expect(strictScrambled.weights).toEqual(strict.weights);
    // With a threshold the unlabelled rows pass, they change the result.
    const [loose, looseScrambled] = [await run(inputs, 0.15), await run(scrambled, 0.15)];
    expect(loose.pseudo).toBeGreaterThan(0);
    expect(looseScrambled.weights).not.toEqual(loose.weights);
  });

  it('is deterministic given the seed', async () => {
    const weightsOf = async (seed: number) => {
      const model = await trainSemiSupervisedStudent({ spec: SMALL, inputs, labelled, epochs: 1, batchSize: 25, seed, threshold: 0.5 });
      const out = predictAll(model, test);
      model.dispose();
      return Array.from(out);
    };
    const a = await weightsOf(3);
    expect(await weightsOf(3)).toEqual(a);
    expect(await weightsOf(4)).not.toEqual(a);
  });

  it('pseudo-labels exactly the weak views whose top probability reaches the threshold', () => {
    const model = buildModel(SMALL, 5);
    const weak = inputs.values.slice(0, 50 * 784);
    const probabilities = tf.tidy(() => tf.softmax(model.predict(tf.tensor(weak, [50, 28, 28, 1])) as tf.Tensor2D).arraySync() as number[][]);
    const tops = probabilities.map((p) => Math.max(...p)).sort((a, b) => a - b);
    const threshold = tops[25];
    const { rows, labels } = confidentPseudoLabels(model, weak, 50, SHAPE, 10, threshold);
    const expected = probabilities.flatMap((p, i) => (Math.max(...p) >= threshold ? [i] : []));
    expect(rows).toEqual(expected);
    expect(rows.length).toBeGreaterThanOrEqual(25);
    expect(rows.length).toBeLessThan(50);
    expect(labels).toEqual(rows.map((i) => probabilities[i].indexOf(Math.max(...probabilities[i]))));
    model.dispose();
  });

  it('distribution alignment lifts a class the model under-predicts towards the prior', () => {
    // Two classes, uniform prior; the model gives class 1 only 0.2 on average.
    const probabilities = Float32Array.from([0.9, 0.1, 0.7, 0.3]);
    new DistributionAlignment([0.5, 0.5]).align(probabilities, 2);
    // Running mean (0.8, 0.2): row 2 becomes (0.7 / 0.8, 0.3 / 0.2) normalised = (0.368, 0.632).
    expect(probabilities[2]).toBeCloseTo(0.875 / 2.375, 5);
    expect(probabilities[3]).toBeCloseTo(1.5 / 2.375, 5);
    expect(probabilities[0] + probabilities[1]).toBeCloseTo(1, 6);
  });

  it('leaves no tensors behind but the returned model', async () => {
    const before = tf.memory().numTensors;
    const model = await trainSemiSupervisedStudent({ spec: SMALL, inputs, labelled, epochs: 1, batchSize: 25, seed: 6, threshold: 0.3 });
    const modelTensors = model.weights.length;
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(modelTensors).toBeGreaterThan(0);
  });

  it('rejects bad labelled sets and options with a reason', async () => {
    const train = (changes: object) => trainSemiSupervisedStudent({ spec: SMALL, inputs, labelled, seed: 1, epochs: 1, ...changes });
    await expect(train({ labelled: { indices: [0, 1], labels: [3] } })).rejects.toThrow(/2 labelled indices but 1 labels/);
    await expect(train({ labelled: { indices: [0, 200], labels: [3, 4] } })).rejects.toThrow(/labelled index 200 is not a row of the 200 inputs/);
    await expect(train({ labelled: { indices: [0, 0], labels: [3, 4] } })).rejects.toThrow(/labelled index 0 appears twice/);
    await expect(train({ labelled: { indices: [0], labels: [10] } })).rejects.toThrow(/label 10 of input 0 is not a class id in \[0, 10\)/);
    await expect(train({ labelled: { indices: [], labels: [] } })).rejects.toThrow(/no labelled inputs/);
    await expect(train({ pseudoLabelsFrom: 'average', emaDecay: 0 })).rejects.toThrow(/pseudoLabelsFrom 'average' needs emaDecay > 0/);
    await expect(train({ threshold: 1.5 })).rejects.toThrow(/threshold must be in \(0, 1\], got 1.5/);
    await expect(train({ inputs: { values: new Float32Array(784 * 2), count: 2, inputShape: [784] } })).rejects.toThrow(/need image inputs/);
  });
});
