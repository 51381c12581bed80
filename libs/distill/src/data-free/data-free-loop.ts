import type * as tf from '@tensorflow/tfjs';
import type { InputSet } from '@fedkd/engine';
import { generateLearnedImages, generateSyntheticImages, initialLearnedGenerator, type ProxyGeneratorName } from '@fedkd/data';
import { createLoss } from '../losses/create-loss';
import { evaluateAccuracy, softPredictions } from '../training/evaluate';
import { trainStudent } from '../training/student-trainer';
import { GENERATOR_STEP_DEFAULTS, zerothOrderGeneratorStep, type GeneratorOptimiserState, type GeneratorStepOptions, type GeneratorStepReport } from './zeroth-order-generator';

export interface DataFreeLoopOptions {
  /** The black box: aggregated soft predictions [count x classes] at `temperature` on these inputs. */
  answer: (inputs: InputSet) => Float32Array;
  generator: ProxyGeneratorName;
  rounds: number;
  inputsPerRound: number;
  student: tf.LayersModel;
  temperature: number;
  studentEpochs: number;
  test: InputSet & { labels: ArrayLike<number> };
  seed: number;
  step?: GeneratorStepOptions;
  onRound?: (round: DataFreeRound) => void;
}

export interface DataFreeRound {
  round: number;
  /** Inputs asked so far (multiply by the teachers for teacher queries). */
  inputsAsked: number;
  testAccuracy: number;
  generator: GeneratorStepReport | null;
}

/**
 * The data-free loop of a federation without its sockets, for curves and tests: each round asks
 * the black box about fresh synthetic inputs, distils the student on the answers (warm-started,
 * as the coordinator does), and, for the learned generator, takes its zeroth-order step. The
 * coordinator runs the same pieces (generateLearnedImages, zerothOrderGeneratorStep) round by round.
 */
export async function runDataFreeLoop(options: DataFreeLoopOptions): Promise<DataFreeRound[]> {
  const { answer, rounds, inputsPerRound, student, temperature, seed } = options;
  let generator = initialLearnedGenerator(seed);
  let state: GeneratorOptimiserState | null = null;
  const loss = createLoss({ name: 'response', temperature });
  const history: DataFreeRound[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const roundSeed = seed * 100_003 + round;
      const generation = options.generator === 'learned' ? generateLearnedImages(generator, roundSeed, inputsPerRound) : null;
      const inputs = generation ?? generateSyntheticImages(options.generator as 'strokes' | 'noise', roundSeed, inputsPerRound);
      const answers = answer(inputs);
      const before = round > 1 ? softPredictions(student, inputs, temperature) : null;
      await trainStudent(student, { inputs, softLabels: answers }, { loss, epochs: options.studentEpochs, seed: seed + round });
      let report: GeneratorStepReport | null = null;
      if (generation) {
        const step = zerothOrderGeneratorStep(generator, state, generation, answers, before, options.step ?? GENERATOR_STEP_DEFAULTS);
        ({ generator, state, report } = step);
      }
      const entry = { round, inputsAsked: round * inputsPerRound, testAccuracy: evaluateAccuracy(student, options.test, options.test.labels), generator: report };
      history.push(entry);
      options.onRound?.(entry);
    }
  } finally {
    loss.dispose();
  }
  return history;
}
