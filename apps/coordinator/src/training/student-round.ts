import { blobSha256, buildModel, selectInputs, decodeWeights, encodeWeights, getModelWeights, setModelWeights, type ModelSpec } from '@fedkd/engine';
import { materialiseProxy, splitEmbedded } from '@fedkd/data';
import type { ProxySpec } from '@fedkd/protocol';
import {
  createLoss,
  decodeOptimiserState,
  encodeOptimiserState,
  evaluateAccuracy,
  softPredictions,
  trainStudent,
  zerothOrderGeneratorStep,
  type EpochProgress,
  type GeneratorStepOptions,
  type GeneratorStepReport,
  type LossSpec,
} from '@fedkd/distill';
import { decodeLearnedGenerator, encodeLearnedGenerator, isLearnedGeneration } from '@fedkd/data';
import type * as tf from '@tensorflow/tfjs';
import { concatFloat32, concatInputs, type InputSet } from '@fedkd/engine';

/** A round's proxy, the positions that got an answer, and the aggregated answers on them. */
export interface RoundExamples {
  proxy: ProxySpec;
  rows: number[];
  targets: Float32Array;
}

/** Everything the student needs for one round; plain data, so it can cross into a worker thread. */
export interface StudentJob {
  round: number;
  splitSeed: number;
  /** The round's proxy inputs (materialised here, in the worker) and the positions trained on. */
  proxy: ProxySpec;
  rows: number[];
  /** Aggregated soft predictions [rows.length x classes] at `temperature`. */
  targets: Float32Array;
  loss: LossSpec;
  spec: ModelSpec;
  /** The last published student: training continues from it (null for the first round). */
  previousBlob: Uint8Array | null;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Earlier rounds' questions and answers the student rehearses beside this round's (oldest first; may be empty). */
  replay: RoundExamples[];
  /** Rounds of the learned generator: also take one black-box step of the generator from this round's answers. */
  generator: { temperature: number; classes: number; optimiser: Uint8Array | null; options: GeneratorStepOptions } | null;
}

export interface StudentResult {
  blob: Uint8Array;
  sha256: string;
  testAccuracy: number;
  epochs: number;
  trainSeconds: number;
  /** Examples trained on: this round's answered inputs plus the rehearsed ones. */
  examples: number;
  /** The generator the next round sends, its optimiser state and how this round's queries looked. */
  generator: { blob: Uint8Array; optimiser: Uint8Array; report: GeneratorStepReport } | null;
}

/** Trains the round's student on the aggregated targets and evaluates it on the held-out test split. */
export async function trainStudentForRound(job: StudentJob, onEpoch?: (p: EpochProgress) => void): Promise<StudentResult> {
  const started = Date.now();
  const split = splitEmbedded(job.splitSeed);
  const inputs = materialiseProxy(job.proxy);
  // The round's answers, then the rehearsed ones: a generator that moves on does not make the student forget.
  const proxy = concatInputs([selectInputs(inputs, job.rows), ...job.replay.map((r) => selectInputs(materialiseProxy(r.proxy), r.rows))]);
  const targets = concatFloat32([job.targets, ...job.replay.map((r) => r.targets)]);
  const test = split.test.dataset;
  const student = buildModel(job.spec, job.seed);
  const loss = createLoss(job.loss);
  try {
    if (job.previousBlob) setModelWeights(student, decodeWeights(job.previousBlob).weights);
    // The generator step needs the student as it was when the round's inputs were asked about.
    const generator = stepGenerator(job, inputs, job.previousBlob ? student : null);
    const report = await trainStudent(
      student,
      { inputs: proxy, softLabels: targets },
      { loss, epochs: job.epochs, batchSize: job.batchSize, learningRate: job.learningRate, seed: job.seed + job.round, onEpoch },
    );
    const blob = encodeWeights(job.spec, getModelWeights(student));
    return {
      blob,
      sha256: blobSha256(blob),
      testAccuracy: evaluateAccuracy(student, test, test.labels),
      epochs: report.history.length,
      trainSeconds: (Date.now() - started) / 1000,
      examples: proxy.count,
      generator,
    };
  } finally {
    loss.dispose();
    student.dispose();
  }
}

/** One zeroth-order step of the learned generator (null for any other proxy). */
function stepGenerator(job: StudentJob, inputs: InputSet, student: tf.LayersModel | null): StudentResult['generator'] {
  if (!job.generator || job.proxy.kind !== 'synthetic' || job.proxy.generator !== 'learned') return null;
  if (!isLearnedGeneration(inputs)) throw new Error('a learned proxy materialised without its pairs');
  const { temperature, classes, optimiser, options } = job.generator;
  // Unanswered inputs (confident-GNMax) stay all-zero rows: the step skips their pairs.
  const ensemble = new Float32Array(inputs.count * classes);
  job.rows.forEach((row, k) => ensemble.set(job.targets.subarray(k * classes, (k + 1) * classes), row * classes));
  const step = zerothOrderGeneratorStep(
    decodeLearnedGenerator(job.proxy.weights),
    optimiser ? decodeOptimiserState(optimiser) : null,
    inputs,
    ensemble,
    student ? softPredictions(student, inputs, temperature) : null,
    options,
  );
  return { blob: encodeLearnedGenerator(step.generator), optimiser: encodeOptimiserState(step.state), report: step.report };
}
