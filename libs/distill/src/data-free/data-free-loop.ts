import type * as tf from '@tensorflow/tfjs';
import type { InputSet } from '@fedkd/engine';
import { dequantiseInputs, generateLearnedImages, generateSyntheticImages, initialLearnedGenerator, type ProxyGeneratorName } from '@fedkd/data';
import { createLoss } from '../losses/create-loss';
import { argmaxAccuracy, evaluateAccuracy, softPredictions } from '../training/evaluate';
import { trainStudent } from '../training/student-trainer';
import { ReplayBuffer } from './replay-buffer';
import { buildStudentGuidedGenerator, STUDENT_GUIDED_DEFAULTS, studentGuidedQuestion, type StudentGuidedOptions, type StudentGuidedReport } from './student-guided-generator';
import { GENERATOR_STEP_DEFAULTS, zerothOrderGeneratorStep, type GeneratorOptimiserState, type GeneratorStepOptions, type GeneratorStepReport } from './zeroth-order-generator';

export interface DataFreeLoopOptions {
  /** The black box: aggregated soft predictions [count x classes] at `temperature` on these inputs. */
  answer: (inputs: InputSet) => Float32Array;
  generator: ProxyGeneratorName | 'student-guided';
  rounds: number;
  inputsPerRound: number;
  student: tf.LayersModel;
  temperature: number;
  studentEpochs: number;
  test: InputSet & { labels: ArrayLike<number> };
  seed: number;
  step?: GeneratorStepOptions;
  /** The student-guided generator's settings. */
  studentGuided?: StudentGuidedOptions;
  /** Student copies (trained like `student` on the same answers, from their own initial weights) whose disagreement the student-guided generator seeks. */
  copies?: tf.LayersModel[];
  /** Inputs kept in the replay buffer the student trains on (0: each round's answers alone). */
  replaySize?: number;
  onRound?: (round: DataFreeRound) => void;
}

export interface DataFreeRound {
  round: number;
  /** Inputs asked so far (multiply by the teachers for teacher queries). */
  inputsAsked: number;
  testAccuracy: number;
  generator: GeneratorStepReport | null;
  studentGuided?: StudentGuidedReport;
  /** Share of the round's inputs the answers put in the class they were generated for (student-guided). */
  intendedClassAgreement?: number;
}

/**
 * The data-free loop of a federation without its sockets, for curves and tests: each round asks
 * the black box about fresh synthetic inputs, distils the student on the answers (warm-started,
 * as the coordinator does; with `replaySize`, on the replay buffer too), and, for the learned
 * generator, takes its zeroth-order step. The student-guided generator is trained against the
 * student (and `copies`) before the round asks. The coordinator runs the same pieces
 * (generateLearnedImages, zerothOrderGeneratorStep, studentGuidedQuestion, ReplayBuffer) round by round.
 */
export async function runDataFreeLoop(options: DataFreeLoopOptions): Promise<DataFreeRound[]> {
  const { answer, rounds, inputsPerRound, student, temperature, seed } = options;
  let generator = initialLearnedGenerator(seed);
  let state: GeneratorOptimiserState | null = null;
  const loss = createLoss({ name: 'response', temperature });
  const replay = new ReplayBuffer(options.replaySize ?? 0);
  const students = [student, ...(options.copies ?? [])];
  const guided = options.studentGuided ?? STUDENT_GUIDED_DEFAULTS;
  const history: DataFreeRound[] = [];
  let guidedGenerator: tf.LayersModel | null = null;
  try {
    for (let round = 1; round <= rounds; round++) {
      const roundSeed = seed * 100_003 + round;
      let guidedReport: StudentGuidedReport | undefined;
      let intended: Int32Array | null = null;
      let inputs: InputSet;
      const generation = options.generator === 'learned' ? generateLearnedImages(generator, roundSeed, inputsPerRound) : null;
      if (generation) inputs = generation;
      else if (options.generator === 'student-guided') {
        if (guided.reinitialise || !guidedGenerator) {
          guidedGenerator?.dispose();
          guidedGenerator = buildStudentGuidedGenerator(studentInputShape(student), studentClasses(student), guided, roundSeed);
        }
        const made = await studentGuidedQuestion(guidedGenerator, students, studentClasses(student), guided, inputsPerRound, roundSeed);
        ({ report: guidedReport, intendedClasses: intended } = made);
        inputs = dequantiseInputs(made.pixels, made.inputShape);
      } else inputs = generateSyntheticImages(options.generator as 'strokes' | 'noise', roundSeed, inputsPerRound);
      const answers = answer(inputs);
      const before = round > 1 && generation ? softPredictions(student, inputs, temperature) : null;
      replay.add({ round, inputs, targets: answers });
      const training = replay.capacity > 0 ? replay.contents()! : { inputs, targets: answers };
      for (const [k, s] of students.entries()) {
        await trainStudent(s, { inputs: training.inputs, softLabels: training.targets }, { loss, epochs: options.studentEpochs, seed: seed + round + 7919 * k });
      }
      let report: GeneratorStepReport | null = null;
      if (generation) {
        const step = zerothOrderGeneratorStep(generator, state, generation, answers, before, options.step ?? GENERATOR_STEP_DEFAULTS);
        ({ generator, state, report } = step);
      }
      const entry: DataFreeRound = { round, inputsAsked: round * inputsPerRound, testAccuracy: evaluateAccuracy(student, options.test, options.test.labels), generator: report };
      if (guidedReport) entry.studentGuided = guidedReport;
      if (intended) entry.intendedClassAgreement = argmaxAccuracy(answers, intended, answers.length / inputs.count);
      history.push(entry);
      options.onRound?.(entry);
    }
  } finally {
    loss.dispose();
    guidedGenerator?.dispose();
  }
  return history;
}

const studentInputShape = (student: tf.LayersModel) => (student.inputs[0].shape.slice(1) as number[]).map(Number);
const studentClasses = (student: tf.LayersModel) => Number(student.outputs[0].shape[1]);
