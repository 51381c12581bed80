import type * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, initBackend, MLP_SPEC, type InputSet } from '@fedkd/engine';
import { createPartitioner, splitEmbedded, subset } from '@fedkd/data';
import { createAggregationRule, createLoss, runDataFreeLoop, softPredictions, STUDENT_GUIDED_DEFAULTS, trainStudent, type DataFreeRound } from '@fedkd/distill';
import { SMALL_TEACHER } from './support/federation-harness';

/**
 * The learned generator against real black-box teachers (3 MLPs on a dirichlet(0.5) split of the
 * private MNIST pool), beside uniform noise with the same number of queries. Seeded throughout.
 */
describe('learned generator, data-free, against black-box teachers', () => {
  const TEMPERATURE = 3;
  let teachers: tf.LayersModel[] = [];
  const split = splitEmbedded(0);
  const rule = createAggregationRule('entropy-weighted');
  const answer = (inputs: InputSet) => rule.aggregate(teachers.map((t) => softPredictions(t, inputs, TEMPERATURE)), { n: inputs.count, classes: 10 });

  beforeAll(async () => {
    await initBackend({ log: () => undefined });
    const pool = split.privatePool.dataset;
    const parts = createPartitioner({ name: 'dirichlet', alpha: 0.5 }).partition(pool.labels, 3, 0).clients;
    teachers = [];
    for (const [i, part] of parts.entries()) {
      const data = subset(pool, part);
      const teacher = buildModel(SMALL_TEACHER, 1000 + i);
      await trainStudent(teacher, { inputs: data, hardLabels: data.labels }, { loss: createLoss({ name: 'response', temperature: 1, alpha: 1 }), epochs: 8, seed: i });
      teachers.push(teacher);
    }
  }, 120_000);

  const run = async (generator: 'learned' | 'noise' | 'student-guided'): Promise<DataFreeRound[]> => {
    const student = buildModel(MLP_SPEC, 0);
    try {
      const guided = generator === 'student-guided' ? { studentGuided: { ...STUDENT_GUIDED_DEFAULTS, steps: 20, width: 4 }, replaySize: 6000 } : {};
      return await runDataFreeLoop({ answer, generator, rounds: 6, inputsPerRound: 1000, student, temperature: TEMPERATURE, studentEpochs: 15, test: split.test.dataset, seed: 0, ...guided });
    } finally {
      student.dispose();
    }
  };

  it('teaches the student more than uniform noise for the same queries, and learns to hit the classes it aims at', async () => {
    const noise = await run('noise');
    const learned = await run('learned');
    const final = (rounds: DataFreeRound[]) => rounds.at(-1)!.testAccuracy;
    console.log(`data-free, 6 x 1000 inputs: learned ${learned.map((r) => r.testAccuracy.toFixed(3)).join(' ')}; noise ${noise.map((r) => r.testAccuracy.toFixed(3)).join(' ')}`);
    expect(learned.at(-1)!.inputsAsked).toBe(noise.at(-1)!.inputsAsked);
    expect(final(learned)).toBeGreaterThan(final(noise) + 0.1);
    expect(learned.at(-1)!.generator!.intendedClassAgreement).toBeGreaterThan(learned[0].generator!.intendedClassAgreement + 0.2);
  }, 240_000);

  it('the student-guided generator (teachers asked only about its inputs) teaches the student far more than uniform noise for the same queries, and does not drift down', async () => {
    const noise = await run('noise');
    const guided = await run('student-guided');
    console.log(`data-free, 6 x 1000 inputs: student-guided ${guided.map((r) => r.testAccuracy.toFixed(3)).join(' ')}; noise ${noise.map((r) => r.testAccuracy.toFixed(3)).join(' ')}`);
    expect(guided.at(-1)!.inputsAsked).toBe(noise.at(-1)!.inputsAsked);
    expect(guided.at(-1)!.testAccuracy).toBeGreaterThan(noise.at(-1)!.testAccuracy + 0.3);
    // With the replay buffer the student keeps what it learned: its last accuracy is within 5 % of its best.
    expect(guided.at(-1)!.testAccuracy).toBeGreaterThan(0.95 * Math.max(...guided.map((r) => r.testAccuracy)));
    expect(guided.every((r) => r.studentGuided && r.studentGuided.lastLoss < r.studentGuided.firstLoss)).toBe(true);
  }, 600_000);
});
