import * as tf from '@tensorflow/tfjs';
import { gatherInputs, SeededRng, withFeatureOutput, type InputSet } from '@fedkd/engine';
import type { DistillationLoss, DistillationTargets, StudentOutputs } from '../losses/distillation-loss';

/** What the student learns from; each array is row-aligned with `inputs`. */
export interface StudentTrainingData {
  inputs: InputSet;
  /** Target probabilities [count x classes] (aggregated soft predictions). */
  softLabels?: Float32Array;
  /** Class ids [count], only where labels legitimately exist (a client's private data). */
  hardLabels?: ArrayLike<number>;
  /** Teacher features [count x width] for feature-based losses. */
  teacherFeatures?: { values: Float32Array; width: number };
}

export interface EpochProgress {
  epoch: number;
  epochs: number;
  trainLoss: number;
  validationLoss?: number;
  samplesPerSecond: number;
  elapsedMs: number;
}

export interface StudentTrainingOptions {
  loss: DistillationLoss;
  epochs: number;
  seed: number;
  batchSize?: number;
  learningRate?: number;
  /** Fraction of the data held out to measure the loss after each epoch (0 = none). */
  validationFraction?: number;
  /** Stop after this many epochs without a better validation loss, and restore the best weights. */
  patience?: number;
  onEpoch?: (progress: EpochProgress) => void;
}

export interface StudentTrainingReport {
  history: EpochProgress[];
  bestEpoch: number;
  stoppedEarly: boolean;
}

/**
 * Fits `model` (logits output) to the targets with the given distillation loss: Adam, seeded
 * shuffling, optional held-out validation with early stopping. The model's weights are updated
 * in place; every tensor made here is disposed before returning.
 */
export async function trainStudent(
  model: tf.LayersModel,
  data: StudentTrainingData,
  options: StudentTrainingOptions,
): Promise<StudentTrainingReport> {
  const { loss, epochs, seed } = options;
  const batchSize = options.batchSize ?? 128;
  const validationFraction = options.validationFraction ?? 0;
  const patience = options.patience ?? 3;
  checkTrainingArguments(data, epochs, batchSize, validationFraction, options.learningRate);

  const rng = new SeededRng(seed).fork('student-trainer');
  const order = rng.permutation(data.inputs.count);
  const validationCount = Math.floor(order.length * validationFraction);
  const validation = order.slice(0, validationCount);
  const train = order.slice(validationCount);

  // The feature view shares the student's layers (and so its weights): nothing of its own to dispose.
  const forward = loss.needsFeatures ? withFeatureOutput(model) : model;
  const variables = [...model.trainableWeights.map((w) => w.read() as tf.Variable), ...loss.trainableVariables()];
  const optimizer = tf.train.adam(options.learningRate ?? 1e-3);
  const history: EpochProgress[] = [];
  let best = { loss: Infinity, epoch: 0, weights: null as tf.Tensor[] | null };
  let stoppedEarly = false;
  const started = Date.now();

  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const epochStart = Date.now();
      rng.shuffle(train);
      let lossSum = 0;
      for (let start = 0; start < train.length; start += batchSize) {
        const batch = train.slice(start, start + batchSize);
        const value = tf.tidy(() => {
          const x = gatherInputs(data.inputs, batch);
          const targets = gatherTargets(data, batch);
          return optimizer.minimize(
            () => loss.compute(studentOutputs(forward, x, true), targets),
            true,
            variables,
          ) as tf.Scalar;
        });
        lossSum += value.dataSync()[0] * batch.length;
        value.dispose();
        await yieldToEventLoop();
      }
      const progress: EpochProgress = {
        epoch,
        epochs,
        trainLoss: lossSum / Math.max(1, train.length),
        samplesPerSecond: (train.length / Math.max(1, Date.now() - epochStart)) * 1000,
        elapsedMs: Date.now() - started,
      };
      if (validation.length > 0) {
        progress.validationLoss = evaluateLoss(forward, loss, data, validation, batchSize);
        if (progress.validationLoss < best.loss) {
          best.weights?.forEach((t) => t.dispose());
          best = { loss: progress.validationLoss, epoch, weights: model.getWeights().map((w) => w.clone()) };
        } else if (epoch - best.epoch >= patience) {
          stoppedEarly = true;
        }
      }
      history.push(progress);
      options.onEpoch?.(progress);
      if (stoppedEarly) break;
    }
    if (best.weights) model.setWeights(best.weights);
  } finally {
    best.weights?.forEach((t) => t.dispose());
    optimizer.dispose();
  }
  return { history, bestEpoch: best.weights ? best.epoch : history.length, stoppedEarly };
}

function studentOutputs(model: tf.LayersModel, x: tf.Tensor, training: boolean): StudentOutputs {
  const out = model.apply(x, { training }) as tf.Tensor2D | tf.Tensor2D[];
  return Array.isArray(out) ? { logits: out[0], features: out[1] } : { logits: out };
}

function gatherTargets(data: StudentTrainingData, batch: number[]): DistillationTargets {
  const targets: DistillationTargets = {};
  if (data.softLabels) targets.softLabels = gatherRows(data.softLabels, data.inputs.count, batch);
  if (data.hardLabels) targets.hardLabels = tf.tensor1d(batch.map((i) => data.hardLabels![i]), 'int32');
  if (data.teacherFeatures) {
    const { values, width } = data.teacherFeatures;
    targets.teacherFeatures = gatherRows(values, values.length / width, batch);
  }
  return targets;
}

function gatherRows(values: Float32Array, rows: number, batch: number[]): tf.Tensor2D {
  const width = values.length / rows;
  const out = new Float32Array(batch.length * width);
  batch.forEach((row, i) => out.set(values.subarray(row * width, (row + 1) * width), i * width));
  return tf.tensor2d(out, [batch.length, width]);
}

function evaluateLoss(
  model: tf.LayersModel,
  loss: DistillationLoss,
  data: StudentTrainingData,
  rows: number[],
  batchSize: number,
): number {
  let sum = 0;
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = rows.slice(start, start + batchSize);
    sum += tf.tidy(() =>
      loss.compute(studentOutputs(model, gatherInputs(data.inputs, batch), false), gatherTargets(data, batch)).dataSync()[0],
    ) * batch.length;
  }
  return sum / rows.length;
}

function checkTrainingArguments(
  data: StudentTrainingData,
  epochs: number,
  batchSize: number,
  validationFraction: number,
  learningRate: number | undefined,
): void {
  const { count } = data.inputs;
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`epochs must be an integer >= 1, got ${epochs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be an integer >= 1, got ${batchSize}`);
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new RangeError(`validationFraction must be in [0, 1), got ${validationFraction}`);
  }
  if (learningRate !== undefined && !(learningRate > 0)) throw new RangeError(`learningRate must be > 0, got ${learningRate}`);
  if (count < 1) throw new RangeError('no training inputs');
  if (!data.softLabels && !data.hardLabels) throw new TypeError('training data needs softLabels or hardLabels');
  if (data.softLabels && data.softLabels.length % count !== 0) {
    throw new RangeError(`softLabels length ${data.softLabels.length} is not a multiple of the ${count} inputs`);
  }
  if (data.hardLabels && data.hardLabels.length !== count) {
    throw new RangeError(`hardLabels has ${data.hardLabels.length} entries for ${count} inputs`);
  }
}

/** Lets heartbeats and sockets be served between batches when training runs on the main thread. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
