import * as tf from '@tensorflow/tfjs';
import { buildModel, inputSize, MNIST_INPUT_SHAPE, SeededRng, type CnnSpec, type InputSet, type ModelSpec } from '@fedkd/engine';
import {
  imageShapeOf,
  strongAugmentBatch,
  weakAugmentBatch,
  DEFAULT_WEAK_SHIFT,
  type ImageShape,
  type StrongAugmentationOptions,
} from './image-augmentations';

/**
 * The default semi-supervised student: the small CNN (conv 3x3x16, pool, conv 3x3x32, pool)
 * with a dense 128 layer before the logits.
 */
export const SEMI_SUPERVISED_STUDENT_SPEC: CnnSpec = {
  kind: 'cnn',
  inputShape: MNIST_INPUT_SHAPE,
  convFilters: [16, 32],
  kernelSize: 3,
  hidden: [128],
  classes: 10,
};

export interface SemiSupervisedProgress {
  epoch: number;
  epochs: number;
  /** Mean total loss (supervised + weighted consistency) over the epoch's steps. */
  loss: number;
  /** Unlabelled views whose weak-view confidence reached the threshold during this epoch. */
  pseudoLabelled: number;
  /** Unlabelled views seen during this epoch. */
  unlabelledSeen: number;
}

export interface SemiSupervisedStudentOptions {
  /** Image model (`[H, W, C]` inputs, equal to the inputs' shape); default SEMI_SUPERVISED_STUDENT_SPEC. */
  spec?: ModelSpec;
  /** ALL public proxy inputs ([n, H, W, C]), labelled and unlabelled. */
  inputs: InputSet;
  /** Released labels: rows of `inputs` and their class ids (may contain a few wrong labels). */
  labelled: { indices: ArrayLike<number>; labels: ArrayLike<number> };
  /** Passes over the unlabelled inputs (default 30). */
  epochs?: number;
  seed: number;
  /** Labelled digits per step (default 64); each step also takes unlabelledRatio x as many unlabelled ones. */
  batchSize?: number;
  /** Unlabelled digits per labelled digit in a step (FixMatch's mu; default 3). */
  unlabelledRatio?: number;
  /** Confidence a weak view's prediction needs to become a pseudo-label (default 0.95). */
  threshold?: number;
  /** Weight of the consistency term (FixMatch's lambda; default 1); 0 trains on the labels alone. */
  unlabelledWeight?: number;
  /** Adam's initial learning rate (default 0.002), decayed by a cosine to 5 % of it. */
  learningRate?: number;
  /**
   * Decay of the exponential moving average of the weights the returned model gets (default 0.99;
   * 0 = none); over the first steps it is min(decay, (1 + step) / (10 + step)), so short runs are not
   * pulled back to the initial weights.
   */
  emaDecay?: number;
  /** Label smoothing of the supervised term (default 0: smoothing caps the confidence the threshold asks for). */
  labelSmoothing?: number;
  /** Largest whole-pixel shift of the weak view (default 2). */
  weakShift?: number;
  /**
   * Which model labels the unlabelled weak views: the one being trained ('student', FixMatch) or
   * the moving average of its weights ('average', as a mean teacher; needs emaDecay > 0).
   */
  pseudoLabelsFrom?: 'student' | 'average';
  /**
   * Distribution alignment (ReMixMatch, Berthelot et al. 2020): before thresholding, each weak-view
   * prediction is multiplied by prior / (running mean of the predictions) and renormalised, so a class
   * the model under-predicts still gets pseudo-labels. 'uniform' (default) assumes balanced classes,
   * 'labelled' takes the released labels' class shares (Laplace-smoothed), 'none' turns it off.
   */
  distributionAlignment?: 'uniform' | 'labelled' | 'none';
  strong?: StrongAugmentationOptions;
  onProgress?: (p: SemiSupervisedProgress) => void;
}

/**
 * A FixMatch-style student (Sohn et al. 2020): each step takes a batch of labelled digits (weak
 * view: a shift of up to 2 px) with cross-entropy on their labels, and unlabelled digits (every
 * input, labelled ones included); the model's prediction on an unlabelled digit's weak view
 * (distribution-aligned, see `distributionAlignment`) becomes its pseudo-label where its confidence
 * reaches the threshold, and the cross-entropy of that label
 * on a strong view (rotation, scaling, larger shift, cutout, noise) trains consistency. Only the
 * confident strong views are run through the model (the others contribute 0 to the loss, which is
 * still divided by the whole unlabelled batch). Adam with cosine decay; the returned model carries an
 * exponential moving average of the weights. Deterministic given the seed; every tensor made here
 * but the returned model is disposed.
 */
export async function trainSemiSupervisedStudent(options: SemiSupervisedStudentOptions): Promise<tf.LayersModel> {
  const o = resolveOptions(options);
  const { inputs, spec } = o;
  const shape = imageShapeOf(inputs.inputShape);
  const size = inputSize(inputs);
  const classes = spec.classes;
  const labelledRows = Array.from(o.labelled.indices);
  const labels = Array.from(o.labelled.labels);

  const rng = new SeededRng(o.seed).fork('semi-supervised-student');
  const labelledOrder = rng.fork('labelled-order');
  const unlabelledOrder = rng.fork('unlabelled-order');
  const augmentRng = rng.fork('augment');
  const model = buildModel(spec, o.seed);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  // The moving average lives in a second model of the same spec, which can then label the unlabelled views.
  const average = o.emaDecay > 0 ? buildModel(spec, o.seed) : null;
  const labeller = average && o.pseudoLabelsFrom === 'average' ? average : model;
  const optimizer = tf.train.adam(o.learningRate);
  const useUnlabelled = o.unlabelledWeight > 0;
  const unlabelledPerStep = useUnlabelled ? o.batchSize * o.unlabelledRatio : 0;
  const stepsPerEpoch = useUnlabelled ? Math.ceil(inputs.count / unlabelledPerStep) : Math.ceil(labelledRows.length / o.batchSize);
  const totalSteps = stepsPerEpoch * o.epochs;

  const alignment = o.distributionAlignment === 'none' ? null : new DistributionAlignment(classPrior(o.distributionAlignment, labels, classes));

  let labelledQueue: number[] = [];
  const nextLabelled = (): number[] => {
    const batch: number[] = [];
    while (batch.length < Math.min(o.batchSize, labelledRows.length)) {
      if (labelledQueue.length === 0) labelledQueue = labelledOrder.permutation(labelledRows.length);
      batch.push(labelledQueue.pop()!);
    }
    return batch;
  };

  let step = 0;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const unlabelled = useUnlabelled ? unlabelledOrder.permutation(inputs.count) : [];
      let lossSum = 0;
      let pseudoLabelled = 0;
      for (let s = 0; s < stepsPerEpoch; s++, step++) {
        setLearningRate(optimizer, o.learningRate * (0.05 + 0.95 * 0.5 * (1 + Math.cos((Math.PI * step) / totalSteps))));
        const picked = nextLabelled();
        const xLabelled = weakAugmentBatch(gatherRows(inputs.values, size, picked.map((k) => labelledRows[k])), shape, augmentRng, o.weakShift);
        const yLabelled = picked.map((k) => labels[k]);

        let strong: Float32Array | null = null;
        let pseudo: number[] = [];
        let unlabelledCount = 0;
        if (useUnlabelled) {
          const rows = unlabelled.slice(s * unlabelledPerStep, (s + 1) * unlabelledPerStep);
          unlabelledCount = rows.length;
          const raw = gatherRows(inputs.values, size, rows);
          const weak = weakAugmentBatch(raw, shape, augmentRng, o.weakShift);
          const confident = confidentPseudoLabels(labeller, weak, rows.length, shape, classes, o.threshold, alignment);
          // The strong views are drawn for every row (so the random stream does not depend on the model).
          const strongAll = strongAugmentBatch(raw, shape, augmentRng, o.strong);
          if (confident.rows.length > 0) {
            strong = gatherRows(strongAll, size, confident.rows);
            pseudo = confident.labels;
            pseudoLabelled += confident.rows.length;
          }
        }

        const value = tf.tidy(() => {
          const x = tf.tensor(strong ? concat(xLabelled, strong) : xLabelled, [yLabelled.length + pseudo.length, ...inputs.inputShape]);
          const yl = tf.oneHot(tf.tensor1d(yLabelled, 'int32'), classes).toFloat();
          const yu = pseudo.length > 0 ? tf.oneHot(tf.tensor1d(pseudo, 'int32'), classes).toFloat() : null;
          return optimizer.minimize(
            () => {
              const logits = model.apply(x, { training: true }) as tf.Tensor2D;
              const supervised = tf.losses.softmaxCrossEntropy(yl, logits.slice([0, 0], [yLabelled.length, classes]), undefined, o.labelSmoothing);
              if (!yu) return supervised as tf.Scalar;
              const perRow = tf.losses.softmaxCrossEntropy(yu, logits.slice([yLabelled.length, 0], [pseudo.length, classes]), undefined, 0, tf.Reduction.NONE);
              return supervised.add(perRow.sum().div(unlabelledCount).mul(o.unlabelledWeight)) as tf.Scalar;
            },
            true,
            variables,
          ) as tf.Scalar;
        });
        lossSum += value.dataSync()[0];
        value.dispose();
        if (average) updateAverage(average, model, Math.min(o.emaDecay, (1 + step) / (10 + step)));
        await yieldToEventLoop();
      }
      o.onProgress?.({ epoch, epochs: o.epochs, loss: lossSum / stepsPerEpoch, pseudoLabelled, unlabelledSeen: useUnlabelled ? inputs.count : 0 });
    }
  } catch (error) {
    model.dispose();
    average?.dispose();
    throw error;
  } finally {
    optimizer.dispose();
  }
  if (!average) return model;
  model.dispose();
  return average;
}

/** Rows of the weak views whose predicted class has probability >= threshold, and those classes. */
export function confidentPseudoLabels(
  model: tf.LayersModel,
  weak: Float32Array,
  count: number,
  shape: ImageShape,
  classes: number,
  threshold: number,
  alignment: DistributionAlignment | null = null,
): { rows: number[]; labels: number[] } {
  const probabilities = tf.tidy(() => {
    const logits = model.apply(tf.tensor(weak, [count, shape.height, shape.width, shape.channels]), { training: false }) as tf.Tensor2D;
    return tf.softmax(logits).dataSync() as Float32Array;
  });
  alignment?.align(probabilities, classes);
  const rows: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (probabilities[i * classes + k] > probabilities[i * classes + best]) best = k;
    if (probabilities[i * classes + best] >= threshold) {
      rows.push(i);
      labels.push(best);
    }
  }
  return { rows, labels };
}

/**
 * ReMixMatch's distribution alignment: keeps a running mean of the model's predicted class
 * distribution over recent unlabelled batches and rescales each new prediction by prior / mean.
 */
export class DistributionAlignment {
  private mean: Float64Array | null = null;

  constructor(
    readonly prior: readonly number[],
    private readonly momentum = 0.99,
  ) {}

  /** Updates the running mean with this batch's predictions [count x classes], then aligns them in place. */
  align(probabilities: Float32Array, classes: number): void {
    if (this.prior.length !== classes) throw new RangeError(`distribution alignment: prior has ${this.prior.length} classes, predictions ${classes}`);
    const count = probabilities.length / classes;
    const batchMean = new Float64Array(classes);
    for (let i = 0; i < probabilities.length; i++) batchMean[i % classes] += probabilities[i] / count;
    if (!this.mean) this.mean = batchMean;
    else for (let k = 0; k < classes; k++) this.mean[k] = this.momentum * this.mean[k] + (1 - this.momentum) * batchMean[k];
    for (let i = 0; i < count; i++) {
      let sum = 0;
      for (let k = 0; k < classes; k++) {
        const at = i * classes + k;
        probabilities[at] *= this.prior[k] / Math.max(this.mean[k], 1e-6);
        sum += probabilities[at];
      }
      for (let k = 0; k < classes; k++) probabilities[i * classes + k] /= sum;
    }
  }
}

function classPrior(kind: 'uniform' | 'labelled', labels: readonly number[], classes: number): number[] {
  if (kind === 'uniform') return new Array<number>(classes).fill(1 / classes);
  const counts = new Array<number>(classes).fill(1);
  for (const label of labels) counts[label]++;
  return counts.map((c) => c / (labels.length + classes));
}

type ResolvedOptions = Required<Omit<SemiSupervisedStudentOptions, 'onProgress' | 'strong' | 'spec'>> &
  Pick<SemiSupervisedStudentOptions, 'onProgress' | 'strong'> & { spec: Exclude<ModelSpec, { kind: 'layers' }> };

function resolveOptions(options: SemiSupervisedStudentOptions): ResolvedOptions {
  const o = {
    spec: options.spec ?? SEMI_SUPERVISED_STUDENT_SPEC,
    inputs: options.inputs,
    labelled: options.labelled,
    epochs: options.epochs ?? 30,
    seed: options.seed,
    batchSize: options.batchSize ?? 64,
    unlabelledRatio: options.unlabelledRatio ?? 3,
    threshold: options.threshold ?? 0.95,
    unlabelledWeight: options.unlabelledWeight ?? 1,
    learningRate: options.learningRate ?? 0.002,
    emaDecay: options.emaDecay ?? 0.99,
    labelSmoothing: options.labelSmoothing ?? 0,
    weakShift: options.weakShift ?? DEFAULT_WEAK_SHIFT,
    pseudoLabelsFrom: options.pseudoLabelsFrom ?? 'student',
    distributionAlignment: options.distributionAlignment ?? 'uniform',
    strong: options.strong,
    onProgress: options.onProgress,
  };
  const where = 'trainSemiSupervisedStudent';
  const positiveInteger = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${where}: ${name} must be an integer >= 1, got ${v}`);
  };
  positiveInteger('epochs', o.epochs);
  positiveInteger('batchSize', o.batchSize);
  positiveInteger('unlabelledRatio', o.unlabelledRatio);
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) throw new RangeError(`${where}: seed must be a non-negative integer, got ${o.seed}`);
  if (!(o.threshold > 0 && o.threshold <= 1)) throw new RangeError(`${where}: threshold must be in (0, 1], got ${o.threshold}`);
  if (!(o.unlabelledWeight >= 0)) throw new RangeError(`${where}: unlabelledWeight must be >= 0, got ${o.unlabelledWeight}`);
  if (!(o.learningRate > 0)) throw new RangeError(`${where}: learningRate must be > 0, got ${o.learningRate}`);
  if (!(o.emaDecay >= 0 && o.emaDecay < 1)) throw new RangeError(`${where}: emaDecay must be in [0, 1), got ${o.emaDecay}`);
  if (!(o.labelSmoothing >= 0 && o.labelSmoothing < 1)) throw new RangeError(`${where}: labelSmoothing must be in [0, 1), got ${o.labelSmoothing}`);
  if (!Number.isInteger(o.weakShift) || o.weakShift < 0) throw new RangeError(`${where}: weakShift must be an integer >= 0, got ${o.weakShift}`);
  if (o.pseudoLabelsFrom !== 'student' && o.pseudoLabelsFrom !== 'average') {
    throw new RangeError(`${where}: pseudoLabelsFrom must be 'student' or 'average', got '${String(o.pseudoLabelsFrom)}'`);
  }
  if (!['uniform', 'labelled', 'none'].includes(o.distributionAlignment)) {
    throw new RangeError(`${where}: distributionAlignment must be 'uniform', 'labelled' or 'none', got '${String(o.distributionAlignment)}'`);
  }
  if (o.pseudoLabelsFrom === 'average' && o.emaDecay === 0) throw new RangeError(`${where}: pseudoLabelsFrom 'average' needs emaDecay > 0`);
  if (o.spec.kind === 'layers') throw new TypeError(`${where}: the student is a zoo model (kind mlp or cnn), not a user architecture`);
  const { inputs } = o;
  const shape = imageShapeOf(inputs.inputShape);
  const specShape = o.spec.inputShape;
  if (specShape.length !== 3 || specShape.some((d, k) => d !== inputs.inputShape[k])) {
    throw new RangeError(`${where}: the spec takes inputs [${specShape.join(', ')}], but the inputs are [${inputs.inputShape.join(', ')}]`);
  }
  if (!(inputs.count >= 1) || inputs.values.length !== inputs.count * shape.height * shape.width * shape.channels) {
    throw new RangeError(`${where}: inputs hold ${inputs.values.length} values, not ${inputs.count} images of [${inputs.inputShape.join(', ')}]`);
  }
  const { indices, labels } = o.labelled;
  if (indices.length !== labels.length) throw new RangeError(`${where}: ${indices.length} labelled indices but ${labels.length} labels`);
  if (indices.length === 0) throw new RangeError(`${where}: no labelled inputs (at least one released label is needed)`);
  const seen = new Set<number>();
  for (let i = 0; i < indices.length; i++) {
    const row = indices[i];
    if (!Number.isInteger(row) || row < 0 || row >= inputs.count) throw new RangeError(`${where}: labelled index ${row} is not a row of the ${inputs.count} inputs`);
    if (seen.has(row)) throw new RangeError(`${where}: labelled index ${row} appears twice`);
    seen.add(row);
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label >= o.spec.classes) {
      throw new RangeError(`${where}: label ${label} of input ${row} is not a class id in [0, ${o.spec.classes})`);
    }
  }
  return o as ResolvedOptions;
}

function setLearningRate(optimizer: tf.AdamOptimizer, rate: number): void {
  // tfjs's Adam reads its (protected) learningRate at every step; there is no public setter.
  (optimizer as unknown as { learningRate: number }).learningRate = rate;
}

/** average <- decay x average + (1 - decay) x model, weight by weight. */
function updateAverage(average: tf.LayersModel, model: tf.LayersModel, decay: number): void {
  const weights = model.weights;
  tf.tidy(() => {
    average.weights.forEach((a, i) => a.write(a.read().mul(decay).add(weights[i].read().mul(1 - decay))));
  });
}

function gatherRows(values: Float32Array, size: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * size);
  for (let i = 0; i < rows.length; i++) out.set(values.subarray(rows[i] * size, (rows[i] + 1) * size), i * size);
  return out;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
