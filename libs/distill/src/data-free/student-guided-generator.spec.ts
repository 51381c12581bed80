import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, initBackend, MLP_SPEC } from '@fedkd/engine';
import { dequantiseInputs } from '@fedkd/data';
import { buildStudentGuidedGenerator, generateQuantisedInputs, makeStudentGuidedInputs, STUDENT_GUIDED_DEFAULTS, trainStudentGuidedGenerator } from './student-guided-generator';

const OPTIONS = { ...STUDENT_GUIDED_DEFAULTS, width: 4, latent: 16, batchSize: 32 };

/** Entropy of a model's softmax on each input. */
function entropies(model: tf.LayersModel, pixels: Uint8Array): number[] {
  const inputs = dequantiseInputs(pixels, [28, 28, 1]);
  return tf.tidy(() => {
    const p = tf.softmax(model.predict(tf.tensor(inputs.values, [inputs.count, 28, 28, 1])) as tf.Tensor2D);
    return Array.from(tf.neg(tf.sum(tf.mul(p, tf.log(tf.add(p, 1e-8))), 1)).dataSync());
  });
}

describe('student-guided generator', () => {
  beforeAll(async () => {
    await initBackend({ log: () => undefined });
  });

  it('lowers its loss against a fixed student, and the student then puts most of its inputs in their intended class', async () => {
    const student = buildModel(MLP_SPEC, 3);
    const generator = buildStudentGuidedGenerator([28, 28, 1], 10, OPTIONS, 5);
    const before = student.getWeights().map((w) => Array.from(w.dataSync()));
    const report = await trainStudentGuidedGenerator(generator, [student], 10, { ...OPTIONS, steps: 40 }, 5);
    expect(report.steps).toBe(40);
    expect(report.lastLoss).toBeLessThan(report.firstLoss - 0.5);
    expect(report.studentAgreement).toBeGreaterThan(0.8);
    // The student is only read, never trained by the generator's steps.
    expect(student.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
    generator.dispose();
    student.dispose();
  });

  it('makes class-balanced uint8 inputs, the same for the same seed; with candidates it asks about those the students are least sure of', async () => {
    const student = buildModel(MLP_SPEC, 4);
    const generator = buildStudentGuidedGenerator([28, 28, 1], 10, OPTIONS, 6);
    await trainStudentGuidedGenerator(generator, [student], 10, { ...OPTIONS, steps: 10 }, 6);
    const plain = makeStudentGuidedInputs(generator, [student], 10, { ...OPTIONS, candidates: 1 }, 200, 9);
    expect(plain.inputShape).toEqual([28, 28, 1]);
    expect(plain.pixels.length).toBe(200 * 784);
    expect(Array.from(plain.intendedClasses.slice(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    // BatchNorm in training mode: the same seed and batches give the same inputs.
    expect(Buffer.from(generateQuantisedInputs(generator, 10, OPTIONS.latent, 200, 9).pixels).equals(Buffer.from(plain.pixels))).toBe(true);
    const selected = makeStudentGuidedInputs(generator, [student], 10, { ...OPTIONS, candidates: 4 }, 200, 9);
    const counts = new Array<number>(10).fill(0);
    for (const c of selected.intendedClasses) counts[c]++;
    expect(counts).toEqual(new Array<number>(10).fill(20));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(entropies(student, selected.pixels))).toBeGreaterThan(mean(entropies(student, plain.pixels)));
    generator.dispose();
    student.dispose();
  });

  it('refuses input shapes it cannot make, naming them', () => {
    expect(() => buildStudentGuidedGenerator([30, 30, 1], 10, OPTIONS, 0)).toThrow('the student-guided generator makes images whose height and width divide by 4, got input shape [30, 30, 1]');
    expect(() => buildStudentGuidedGenerator([784], 10, OPTIONS, 0)).toThrow(/got input shape \[784\]/);
  });
});
