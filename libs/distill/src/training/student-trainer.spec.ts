import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, type MlpSpec } from '@fedkd/engine';
import { loadMnist, subset } from '@fedkd/data';
import { createLoss } from '../losses';
import { evaluateAccuracy, softPredictions } from './evaluate';
import { trainStudent, type EpochProgress } from './student-trainer';

const SMALL_MLP: MlpSpec = { kind: 'mlp', inputShape: [28, 28, 1], hidden: [32], classes: 10 };

describe('student trainer', () => {
  const all = loadMnist();
  const train = subset(all, Array.from({ length: 1000 }, (_, i) => i * 7));
  const test = subset(all, Array.from({ length: 500 }, (_, i) => i * 7 + 3));

  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('learns from hard labels and reports progress every epoch', async () => {
    const model = buildModel(SMALL_MLP, 1);
    const before = evaluateAccuracy(model, test, test.labels);
    const seen: EpochProgress[] = [];
    await trainStudent(
      model,
      { inputs: train, hardLabels: train.labels },
      { loss: createLoss({ name: 'response', temperature: 1, alpha: 1 }), epochs: 4, seed: 3, onEpoch: (p) => seen.push(p) },
    );
    const after = evaluateAccuracy(model, test, test.labels);
    expect(before).toBeLessThan(0.3);
    expect(after).toBeGreaterThan(0.75);
    expect(seen.map((p) => p.epoch)).toEqual([1, 2, 3, 4]);
    expect(seen[3].trainLoss).toBeLessThan(seen[0].trainLoss);
    model.dispose();
  });

  it('distils a student from soft labels alone to near its teacher', async () => {
    const teacher = buildModel(SMALL_MLP, 1);
    const ce = createLoss({ name: 'response', temperature: 1, alpha: 1 });
    await trainStudent(teacher, { inputs: train, hardLabels: train.labels }, { loss: ce, epochs: 6, seed: 1 });
    const softLabels = softPredictions(teacher, train, 3);
    const student = buildModel(SMALL_MLP, 2);
    await trainStudent(student, { inputs: train, softLabels }, { loss: createLoss({ name: 'response', temperature: 3 }), epochs: 10, seed: 2 });
    const teacherAccuracy = evaluateAccuracy(teacher, test, test.labels);
    const studentAccuracy = evaluateAccuracy(student, test, test.labels);
    expect(studentAccuracy).toBeGreaterThan(teacherAccuracy - 0.05);
    [teacher, student].forEach((m) => m.dispose());
  });

  it('is reproducible from its seed', async () => {
    const run = async () => {
      const model = buildModel(SMALL_MLP, 5);
      await trainStudent(model, { inputs: train, hardLabels: train.labels }, { loss: createLoss({ name: 'response', temperature: 1, alpha: 1 }), epochs: 1, seed: 9 });
      const w = Array.from(model.getWeights()[0].dataSync().slice(0, 20));
      model.dispose();
      return w;
    };
    expect(await run()).toEqual(await run());
  });

  it('stops early on a flat validation loss and restores the best weights', async () => {
    const model = buildModel(SMALL_MLP, 1);
    // Labels that are pure noise: validation loss cannot improve for long.
    const noise = Uint8Array.from({ length: train.count }, (_, i) => (i * 7919) % 10);
    const report = await trainStudent(
      model,
      { inputs: train, hardLabels: noise },
      { loss: createLoss({ name: 'response', temperature: 1, alpha: 1 }), epochs: 40, seed: 4, validationFraction: 0.2, patience: 2, learningRate: 0.01 },
    );
    expect(report.stoppedEarly).toBe(true);
    expect(report.history.length).toBeLessThan(40);
    const best = Math.min(...report.history.map((p) => p.validationLoss!));
    expect(report.history[report.bestEpoch - 1].validationLoss).toBe(best);
    model.dispose();
  });

  it('does not leak tensors across repeated training calls', async () => {
    const model = buildModel(SMALL_MLP, 1);
    const loss = createLoss({ name: 'response', temperature: 2, alpha: 0.5 });
    const softLabels = softPredictions(model, train, 2);
    const once = () => trainStudent(model, { inputs: train, softLabels, hardLabels: train.labels }, { loss, epochs: 1, seed: 1, validationFraction: 0.1 });
    await once();
    const baseline = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await once();
    expect(tf.memory().numTensors).toBe(baseline);
    model.dispose();
  });

  it('rejects bad arguments naming them', async () => {
    const model = buildModel(SMALL_MLP, 1);
    const loss = createLoss({ name: 'response', temperature: 1, alpha: 1 });
    await expect(trainStudent(model, { inputs: train, hardLabels: train.labels }, { loss, epochs: 0, seed: 1 })).rejects.toThrow(/epochs/);
    await expect(trainStudent(model, { inputs: train }, { loss, epochs: 1, seed: 1 })).rejects.toThrow(/softLabels or hardLabels/);
    await expect(
      trainStudent(model, { inputs: train, hardLabels: train.labels.subarray(1) }, { loss, epochs: 1, seed: 1 }),
    ).rejects.toThrow(/hardLabels/);
    model.dispose();
  });
});
