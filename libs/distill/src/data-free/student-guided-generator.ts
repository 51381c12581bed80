import * as tf from '@tensorflow/tfjs';
import { SeededRng, type InputSet } from '@fedkd/engine';
import { quantiseInputs } from '@fedkd/data';

/**
 * The student-guided generator of the data-free mode (IDEAL, DisGUIDE): a small convolutional,
 * class-conditional generator trained against the coordinator's own students, which it holds in
 * full (white-box), never through the teachers. The teachers stay black boxes that are only asked
 * about the inputs it then makes:
 *
 *   x = G(z, y):  [z ; one-hot y] -> dense -> (side/4 x side/4 x 2w) -> BN -> upsample -> conv 3x3 (2w)
 *                 -> BN -> leaky ReLU -> upsample -> conv 3x3 (w) -> BN -> leaky ReLU -> conv 3x3 -> sigmoid
 *
 *   loss(G) = CE(S(x), y)                          class-balanced targets: y cycles through the classes
 *           - entropyWeight * H(mean_batch p_S(x))  the batch's classes stay spread (IDEAL's information entropy)
 *           - disagreementWeight * mean |p_S1(x) - p_S2(x)|   where student copies disagree (DisGUIDE)
 *
 * Inputs the student puts confidently in class y are exactly where the teachers' answer tells it
 * most when the student is wrong; re-initialising G each round (IDEAL) keeps the queries moving
 * instead of collapsing onto a few templates.
 */
export interface StudentGuidedOptions {
  /** Latent dimensions of z. */
  latent: number;
  /** Filters of the last hidden convolution (the first has twice as many). */
  width: number;
  /** Generator optimisation steps per round. */
  steps: number;
  batchSize: number;
  learningRate: number;
  entropyWeight: number;
  disagreementWeight: number;
  /** Start each round from fresh weights (IDEAL) rather than continue the last round's generator. */
  reinitialise: boolean;
  /**
   * Selective queries (CaBaGE): make this many times the round's inputs and ask only about the
   * ones the students are least sure of (highest entropy of their mean prediction), the same
   * number for every class. 1: ask about every input made.
   */
  candidates: number;
  /** Share of the generator's inputs aimed at the boundary between their class and another (target 1/2 each); the rest aim at their class alone. */
  boundary: number;
}

export const STUDENT_GUIDED_DEFAULTS: StudentGuidedOptions = {
  latent: 64,
  width: 8,
  steps: 100,
  batchSize: 64,
  learningRate: 0.01,
  entropyWeight: 5,
  disagreementWeight: 1,
  reinitialise: true,
  candidates: 4,
  boundary: 0,
};

/** How a round's generator training went: the numbers an operator watches it by. */
export interface StudentGuidedReport {
  steps: number;
  /** Mean loss over the first and the last tenth of the steps. */
  firstLoss: number;
  lastLoss: number;
  /** Share of the generated inputs the (first) student puts in their intended class. */
  studentAgreement: number;
  /** Mean |p_S1 - p_S2| over the generated inputs (0 with one student). */
  disagreement: number;
  seconds: number;
}

/** The generator model: inputs [z (latent), one-hot class (classes)], output images in [0, 1] of `inputShape`. */
export function buildStudentGuidedGenerator(inputShape: readonly number[], classes: number, options: Pick<StudentGuidedOptions, 'latent' | 'width'>, seed: number): tf.LayersModel {
  const [height, width, channels] = inputShape;
  if (inputShape.length !== 3 || height % 4 !== 0 || width % 4 !== 0) {
    throw new RangeError(`the student-guided generator makes images whose height and width divide by 4, got input shape [${inputShape.join(', ')}]`);
  }
  const rng = new SeededRng(seed).fork('student-guided-generator');
  const init = () => tf.initializers.glorotUniform({ seed: rng.nextUint32() });
  const z = tf.input({ shape: [options.latent] });
  const y = tf.input({ shape: [classes] });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor) => layer.apply(x) as tf.SymbolicTensor;
  let x = apply(tf.layers.concatenate(), [z, y] as unknown as tf.SymbolicTensor);
  x = apply(tf.layers.dense({ units: (height / 4) * (width / 4) * 2 * options.width, kernelInitializer: init() }), x);
  x = apply(tf.layers.reshape({ targetShape: [height / 4, width / 4, 2 * options.width] }), x);
  x = apply(tf.layers.batchNormalization(), x);
  for (const filters of [2 * options.width, options.width]) {
    x = apply(tf.layers.upSampling2d({ size: [2, 2] }), x);
    x = apply(tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', kernelInitializer: init() }), x);
    x = apply(tf.layers.batchNormalization(), x);
    x = apply(tf.layers.leakyReLU({ alpha: 0.2 }), x);
  }
  x = apply(tf.layers.conv2d({ filters: channels, kernelSize: 3, padding: 'same', activation: 'sigmoid', kernelInitializer: init() }), x);
  return tf.model({ inputs: [z, y], outputs: x });
}

/**
 * Latents and class-balanced targets of a batch: classes in turn from `offset`, z standard normal.
 * A `boundary` share of the rows (every k-th, deterministically) aims between its class and a
 * random other one (target 1/2 each, BSS's boundary-supporting samples): where the teachers'
 * answers locate the decision boundary the student has to learn. The target is also the
 * generator's class input.
 */
function latentBatch(rng: SeededRng, size: number, latent: number, classes: number, offset: number, boundary: number): { z: tf.Tensor2D; y: tf.Tensor2D; labels: Int32Array } {
  const zs = new Float32Array(size * latent);
  for (let i = 0; i < zs.length; i++) zs[i] = rng.normal();
  const labels = new Int32Array(size);
  const targets = new Float32Array(size * classes);
  for (let i = 0; i < size; i++) {
    const row = offset + i;
    labels[i] = row % classes;
    const between = boundary > 0 && Math.floor((row + 1) * boundary) > Math.floor(row * boundary);
    if (between) {
      const other = (labels[i] + 1 + rng.int(classes - 1)) % classes;
      targets[i * classes + labels[i]] = 0.5;
      targets[i * classes + other] = 0.5;
    } else targets[i * classes + labels[i]] = 1;
  }
  return { z: tf.tensor2d(zs, [size, latent]), y: tf.tensor2d(targets, [size, classes]), labels };
}

/**
 * Trains `generator` against `students` (logits models; the first is the one published, the
 * others are copies whose disagreement the generator seeks). The students are not changed.
 */
export async function trainStudentGuidedGenerator(
  generator: tf.LayersModel,
  students: tf.LayersModel[],
  classes: number,
  options: StudentGuidedOptions,
  seed: number,
): Promise<StudentGuidedReport> {
  if (students.length === 0) throw new RangeError('the student-guided generator needs at least one student');
  const started = Date.now();
  const rng = new SeededRng(seed).fork('student-guided-training');
  const optimizer = tf.train.adam(options.learningRate, 0.5, 0.999);
  const variables = generator.trainableWeights.map((w) => w.read() as tf.Variable);
  const losses: number[] = [];
  try {
    for (let step = 0; step < options.steps; step++) {
      const batch = latentBatch(rng, options.batchSize, options.latent, classes, step * options.batchSize, options.boundary);
      const cost = optimizer.minimize(() => generatorLoss(generator, students, batch, options, true).total, true, variables) as tf.Scalar;
      losses.push((await cost.data())[0]);
      tf.dispose([cost, batch.z, batch.y]);
      if (step % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
    }
    // How the trained generator's inputs look to the students (a fresh batch).
    const batch = latentBatch(rng, Math.max(options.batchSize, classes * 10), options.latent, classes, 0, 0);
    const { agreement, disagreement } = tf.tidy(() => {
      const terms = generatorLoss(generator, students, batch, options, false);
      return { agreement: terms.agreement.dataSync()[0], disagreement: terms.disagreement.dataSync()[0] };
    });
    tf.dispose([batch.z, batch.y]);
    const tenth = Math.max(1, Math.floor(losses.length / 10));
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    return { steps: options.steps, firstLoss: mean(losses.slice(0, tenth)), lastLoss: mean(losses.slice(-tenth)), studentAgreement: agreement, disagreement, seconds: (Date.now() - started) / 1000 };
  } finally {
    optimizer.dispose();
  }
}

/** The generator's loss on one batch, and the diagnostics beside it (inside the caller's tidy/minimize). */
function generatorLoss(
  generator: tf.LayersModel,
  students: tf.LayersModel[],
  batch: { z: tf.Tensor2D; y: tf.Tensor2D },
  options: StudentGuidedOptions,
  training: boolean,
): { total: tf.Scalar; agreement: tf.Scalar; disagreement: tf.Scalar } {
  const x = generator.apply([batch.z, batch.y], { training }) as tf.Tensor;
  const logits = students.map((s) => s.apply(x, { training: false }) as tf.Tensor2D);
  const probabilities = logits.map((l) => tf.softmax(l));
  const crossEntropy = tf.mean(tf.stack(logits.map((l) => tf.losses.softmaxCrossEntropy(batch.y, l)))) as tf.Scalar;
  const meanP = tf.mean(tf.stack(probabilities), [0, 1]);
  const entropy = tf.neg(tf.sum(tf.mul(meanP, tf.log(tf.add(meanP, 1e-8))))) as tf.Scalar;
  let disagreement = tf.scalar(0);
  if (probabilities.length > 1) {
    const pairs: tf.Tensor[] = [];
    for (let i = 0; i < probabilities.length; i++) for (let j = i + 1; j < probabilities.length; j++) pairs.push(tf.mean(tf.sum(tf.abs(tf.sub(probabilities[i], probabilities[j])), 1)));
    disagreement = tf.mean(tf.stack(pairs)) as tf.Scalar;
  }
  const total = tf.sub(tf.sub(crossEntropy, tf.mul(options.entropyWeight, entropy)), tf.mul(options.disagreementWeight, disagreement)) as tf.Scalar;
  const agreement = tf.mean(tf.cast(tf.equal(tf.argMax(logits[0], 1), tf.argMax(batch.y, 1)), 'float32')) as tf.Scalar;
  return { total, agreement, disagreement };
}

/**
 * `count` inputs from the generator, quantised to uint8 (x = q / 255): the form they are sent to
 * the clients in, so the student trains on exactly what the teachers were asked about.
 */
export function generateQuantisedInputs(generator: tf.LayersModel, classes: number, latent: number, count: number, seed: number, boundary = 0, batchSize = 256): { pixels: Uint8Array; inputShape: number[]; intendedClasses: Int32Array } {
  const inputShape = (generator.outputs[0].shape.slice(1) as number[]).map(Number);
  const size = inputShape.reduce((a, b) => a * b, 1);
  const pixels = new Uint8Array(count * size);
  const intendedClasses = new Int32Array(count);
  const rng = new SeededRng(seed).fork('student-guided-inputs');
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const batch = latentBatch(rng, n, latent, classes, start, boundary);
    // Batch statistics, as in training: the moving averages lag the round's fresh generator.
    const values = tf.tidy(() => (generator.apply([batch.z, batch.y], { training: true }) as tf.Tensor).dataSync() as Float32Array);
    tf.dispose([batch.z, batch.y]);
    pixels.set(quantiseInputs(values), start * size);
    intendedClasses.set(batch.labels, start);
  }
  return { pixels, inputShape, intendedClasses };
}

/**
 * The round's `count` inputs: `candidates` x count made by the generator, of which the students
 * are least sure (highest entropy of their mean prediction), count / classes per intended class
 * (classes in turn again). With candidates 1, simply the generator's count inputs.
 */
export function makeStudentGuidedInputs(generator: tf.LayersModel, students: tf.LayersModel[], classes: number, options: Pick<StudentGuidedOptions, 'latent' | 'candidates' | 'boundary'>, count: number, seed: number): { pixels: Uint8Array; inputShape: number[]; intendedClasses: Int32Array } {
  const factor = options.candidates;
  if (!Number.isInteger(factor) || factor < 1 || factor > 32) throw new RangeError(`candidates must be an integer in [1, 32], got ${factor}`);
  const made = generateQuantisedInputs(generator, classes, options.latent, count * factor, seed, options.boundary);
  if (factor === 1) return made;
  const size = made.inputShape.reduce((a, b) => a * b, 1);
  const entropy = new Float64Array(count * factor);
  for (let start = 0; start < count * factor; start += 512) {
    const n = Math.min(512, count * factor - start);
    const values = tf.tidy(() => {
      const x = tf.tensor(made.pixels.subarray(start * size, (start + n) * size), [n, ...made.inputShape], 'int32').toFloat().div(255);
      const mean = tf.mean(tf.stack(students.map((s) => tf.softmax(s.predict(x) as tf.Tensor2D))), 0);
      return tf.neg(tf.sum(tf.mul(mean, tf.log(tf.add(mean, 1e-8))), 1)).dataSync() as Float32Array;
    });
    entropy.set(values, start);
  }
  // Per class, the candidates in decreasing entropy; then classes in turn.
  const byClass = Array.from({ length: classes }, () => [] as number[]);
  for (let i = 0; i < count * factor; i++) byClass[made.intendedClasses[i]].push(i);
  for (const list of byClass) list.sort((a, b) => entropy[b] - entropy[a] || a - b);
  const pixels = new Uint8Array(count * size);
  const intendedClasses = new Int32Array(count);
  const taken = new Int32Array(classes);
  for (let i = 0; i < count; i++) {
    const c = i % classes;
    const pick = byClass[c][taken[c]++];
    pixels.set(made.pixels.subarray(pick * size, (pick + 1) * size), i * size);
    intendedClasses[i] = c;
  }
  return { pixels, inputShape: made.inputShape, intendedClasses };
}

/**
 * One round's question: trains `generator` against the students (they stay unchanged), then makes
 * the round's `count` inputs with it (makeStudentGuidedInputs). What the coordinator's worker and
 * runDataFreeLoop both run.
 */
export async function studentGuidedQuestion(
  generator: tf.LayersModel,
  students: tf.LayersModel[],
  classes: number,
  options: StudentGuidedOptions,
  count: number,
  seed: number,
): Promise<{ pixels: Uint8Array; inputShape: number[]; intendedClasses: Int32Array; report: StudentGuidedReport }> {
  const report = await trainStudentGuidedGenerator(generator, students, classes, options, seed);
  return { ...makeStudentGuidedInputs(generator, students, classes, options, count, seed), report };
}
