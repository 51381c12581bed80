import { blobSha256, instantiateModel, predictAll, selectInputs, decodeWeights, encodeWeights, getModelWeights, setModelWeights, type ModelSpec } from '@fedkd/engine';
import { materialiseProxy, type PublicSetLookup } from '@fedkd/data';
import type { ProxySpec } from '@fedkd/protocol';
import {
  createLoss,
  decodeOptimiserState,
  encodeOptimiserState,
  argmaxAccuracy,
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
import { copySeedOffset } from './guided-inputs';

/** Everything the student needs for one round; plain data, so it can cross into a worker thread. */
export interface StudentJob {
  round: number;
  /** The round's proxy inputs (materialised here, in the worker) and the positions trained on. */
  proxy: ProxySpec;
  /** The coordinator's own public set (`--proxy-data`), which a `public` proxy of source `coordinator` takes rows of. */
  publicSet: InputSet | null;
  /** Labelled evaluation set; null: only the agreement with the aggregated targets is reported. */
  evaluation: { inputs: InputSet; labels: Uint8Array } | null;
  rows: number[];
  /** Aggregated soft predictions [rows.length x classes] at `temperature`. */
  targets: Float32Array;
  loss: LossSpec;
  spec: ModelSpec;
  /** The last published student, or a user's own starting weights: training continues from it (null: fresh weights). */
  previousBlob: Uint8Array | null;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** Earlier rounds' questions and answers from the replay buffer, rehearsed beside this round's (null: none). */
  replay: { inputs: InputSet; targets: Float32Array } | null;
  /** Student copies (student-guided generator): each trained like the student on the same examples, from its last weights (null: fresh). */
  copies: (Uint8Array | null)[];
  /** Rounds of the learned generator: also take one black-box step of the generator from this round's answers. */
  generator: { temperature: number; classes: number; optimiser: Uint8Array | null; options: GeneratorStepOptions } | null;
}

export interface StudentResult {
  blob: Uint8Array;
  sha256: string;
  /** On the evaluation set; null without one. */
  testAccuracy: number | null;
  /** Share of this round's answered inputs on which the student's argmax is the aggregated targets' argmax. */
  agreement: number;
  epochs: number;
  trainSeconds: number;
  /** Of which evaluating on the evaluation set and measuring the agreement. */
  evaluateSeconds: number;
  /** Examples trained on: this round's answered inputs plus the rehearsed ones. */
  examples: number;
  /** The copies' weights after this round, in the order given. */
  copies: Uint8Array[];
  /** The generator the next round sends, its optimiser state and how this round's queries looked. */
  generator: { blob: Uint8Array; optimiser: Uint8Array; report: GeneratorStepReport } | null;
}

/** Trains the round's student on the aggregated targets and evaluates it on the evaluation set, if there is one. */
export async function trainStudentForRound(job: StudentJob, onEpoch?: (p: EpochProgress) => void): Promise<StudentResult> {
  const started = Date.now();
  const publicSet = job.publicSet;
  const lookup: PublicSetLookup = () => publicSet ?? undefined;
  const inputs = materialiseProxy(job.proxy, lookup);
  const answered = selectInputs(inputs, job.rows);
  // The round's answers, then the rehearsed ones: a generator that moves on does not make the student forget.
  const proxy = job.replay ? concatInputs([answered, job.replay.inputs]) : answered;
  const targets = job.replay ? concatFloat32([job.targets, job.replay.targets]) : job.targets;
  const student = await instantiateModel(job.spec, job.seed);
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
    const copies: Uint8Array[] = [];
    for (const [index, copyBlob] of job.copies.entries()) {
      const k = index + 1;
      const copy = await instantiateModel(job.spec, job.seed + copySeedOffset(k));
      try {
        if (copyBlob) setModelWeights(copy, decodeWeights(copyBlob).weights);
        await trainStudent(copy, { inputs: proxy, softLabels: targets }, { loss, epochs: job.epochs, batchSize: job.batchSize, learningRate: job.learningRate, seed: job.seed + job.round + copySeedOffset(k) });
        copies.push(encodeWeights(job.spec, getModelWeights(copy)));
      } finally {
        copy.dispose();
      }
    }
    const classes = job.targets.length / Math.max(1, job.rows.length);
    const evaluationStarted = Date.now();
    const testAccuracy = job.evaluation ? evaluateAccuracy(student, job.evaluation.inputs, job.evaluation.labels) : null;
    const agreement = job.rows.length ? argmaxAgreement(predictAll(student, answered), job.targets, classes) : 0;
    return {
      blob,
      sha256: blobSha256(blob),
      testAccuracy,
      agreement,
      epochs: report.history.length,
      trainSeconds: (Date.now() - started) / 1000,
      evaluateSeconds: (Date.now() - evaluationStarted) / 1000,
      examples: proxy.count,
      copies,
      generator,
    };
  } finally {
    loss.dispose();
    student.dispose();
  }
}

/** Share of rows where the argmax of `a` is the argmax of `b` (both [n x classes]). */
function argmaxAgreement(a: Float32Array, b: Float32Array, classes: number): number {
  const labels = new Uint8Array(b.length / classes);
  for (let row = 0; row < labels.length; row++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (b[row * classes + c] > b[row * classes + best]) best = c;
    labels[row] = best;
  }
  return argmaxAccuracy(a, labels, classes);
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
