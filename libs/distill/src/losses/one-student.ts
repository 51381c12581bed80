import * as tf from '@tensorflow/tfjs';

import { StudentOutputs } from './distillation-loss';

export interface OneStudentOptions {
  /** Shape of one input without the batch dimension, e.g. [28, 28, 1] for MNIST. */
  inputShape: number[];
  /** Widths of the shared trunk's dense layers (ReLU); may be empty (branches see the flat input). */
  trunk: number[];
  /** Number of branches k >= 2 (the paper uses 3). */
  branches: number;
  /** Widths of each branch's hidden dense layers (ReLU) before its logits; may be empty. */
  branchHidden: number[];
  classes: number;
  /** Seed of every initialiser; each layer gets its own stream derived from it. */
  seed: number;
}

/** The named parts of a ONE student's outputs for one batch. */
export interface OneStudentParts {
  /** k tensors [batch, classes]: each branch's logits z_i. */
  branchLogits: tf.Tensor2D[];
  /** [batch, classes]: z_e = sum_i g_i * z_i. */
  ensembleLogits: tf.Tensor2D;
  /** [batch, k]: the gate's softmax weights g. */
  gateWeights: tf.Tensor2D;
}

/**
 * A multi-branch student for ONE (Lan, Zhu & Gong 2018, "Knowledge Distillation by On-the-fly
 * Native Ensemble"), built with the functional Layers API so that it saves, loads and serialises
 * like any other tf.LayersModel:
 *
 *   input -> flatten -> trunk dense layers (shared low-level features)
 *         -> k branches: hidden dense layers -> dense(classes) = z_i (logits)
 *         -> gate: dense(k) -> softmax = g (per sample)
 *         -> ensemble z_e = sum_i g_i z_i (a Dot layer over the stacked branch logits)
 *
 * Outputs, in this order: [z_1, ..., z_k, z_e, g]; use `splitOneOutputs` rather than indices.
 * The paper's gate is FC -> BatchNorm -> ReLU -> softmax on the shared features; here it is
 * FC -> softmax (no batch statistics to carry between training and inference, and a ReLU before a
 * softmax only clamps negative scores to a tie).
 * Each layer's initialiser is seeded separately: branches initialised alike would stay alike and
 * the ensemble would teach nothing.
 */
export function buildOneStudent(options: OneStudentOptions): tf.LayersModel {
  const { inputShape, trunk, branches, branchHidden, classes, seed } = options;
  if (!Array.isArray(inputShape) || inputShape.length === 0 || !inputShape.every(isPositiveInteger)) {
    throw new RangeError(`buildOneStudent: inputShape must be positive integers, got [${String(inputShape)}]`);
  }
  for (const [what, widths] of [['trunk', trunk], ['branchHidden', branchHidden]] as const) {
    if (!Array.isArray(widths) || !widths.every(isPositiveInteger)) {
      throw new RangeError(`buildOneStudent: ${what} must be a list of positive integer widths, got [${String(widths)}]`);
    }
  }
  if (!Number.isInteger(branches) || branches < 2) throw new RangeError(`buildOneStudent: branches must be an integer >= 2, got ${branches}`);
  if (!Number.isInteger(classes) || classes < 2) throw new RangeError(`buildOneStudent: classes must be an integer >= 2, got ${classes}`);
  if (!Number.isInteger(seed)) throw new RangeError(`buildOneStudent: seed must be an integer, got ${seed}`);

  let layerIndex = 0;
  const dense = (units: number, activation: 'relu' | 'linear' | 'softmax', name: string): tf.layers.Layer =>
    tf.layers.dense({
      units,
      activation,
      name,
      kernelInitializer: tf.initializers.glorotUniform({ seed: layerSeed(seed, layerIndex++) }),
      biasInitializer: 'zeros',
    });

  const input = tf.input({ shape: inputShape, name: 'one_input' });
  let shared = tf.layers.flatten({ name: 'one_flatten' }).apply(input) as tf.SymbolicTensor;
  trunk.forEach((width, i) => {
    shared = dense(width, 'relu', `one_trunk_${i}`).apply(shared) as tf.SymbolicTensor;
  });

  const branchLogits: tf.SymbolicTensor[] = [];
  for (let b = 0; b < branches; b++) {
    let h = shared;
    branchHidden.forEach((width, i) => {
      h = dense(width, 'relu', `one_branch${b}_hidden_${i}`).apply(h) as tf.SymbolicTensor;
    });
    branchLogits.push(dense(classes, 'linear', `one_branch${b}_logits`).apply(h) as tf.SymbolicTensor);
  }
  const gate = dense(branches, 'softmax', 'one_gate').apply(shared) as tf.SymbolicTensor;

  const stacked = tf.layers
    .concatenate({ axis: 1, name: 'one_stacked_logits' })
    .apply(branchLogits.map((z, b) => tf.layers.reshape({ targetShape: [1, classes], name: `one_branch${b}_row` }).apply(z) as tf.SymbolicTensor)) as tf.SymbolicTensor;
  const ensemble = tf.layers.dot({ axes: [1, 1], name: 'one_ensemble_logits' }).apply([gate, stacked]) as tf.SymbolicTensor;

  return tf.model({ inputs: input, outputs: [...branchLogits, ensemble, gate], name: 'one_student' });
}

/** Number of branches of a model built by buildOneStudent. */
export function oneBranchCount(model: tf.LayersModel): number {
  const k = model.outputs.length - 2;
  if (k < 2) throw new Error(`not a ONE student: expected k + 2 outputs with k >= 2, got ${model.outputs.length}`);
  return k;
}

/** Names the outputs of a ONE student's predict/apply ([z_1..z_k, z_e, g]). Takes no ownership. */
export function splitOneOutputs(outputs: tf.Tensor | tf.Tensor[]): OneStudentParts {
  const list = Array.isArray(outputs) ? outputs : [outputs];
  if (list.length < 4) throw new Error(`not a ONE student's outputs: expected k + 2 tensors with k >= 2, got ${list.length}`);
  return {
    branchLogits: list.slice(0, -2) as tf.Tensor2D[],
    ensembleLogits: list[list.length - 2] as tf.Tensor2D,
    gateWeights: list[list.length - 1] as tf.Tensor2D,
  };
}

/**
 * Runs the student on a batch and names its outputs, for a training step (inside the optimiser's
 * tape: pass training true) or an inspection. The caller owns the returned tensors.
 */
export function applyOneStudent(model: tf.LayersModel, x: tf.Tensor, training = false): OneStudentParts {
  return splitOneOutputs(model.apply(x, { training }) as tf.Tensor[]);
}

/** The StudentOutputs a OneLoss expects: the ensemble as `logits`, each branch in `branchLogits`. */
export function oneStudentOutputs(parts: OneStudentParts): StudentOutputs {
  return { logits: parts.ensembleLogits, branchLogits: parts.branchLogits };
}

/**
 * The ensemble's logits z_e for evaluation ([batch, classes]); the branch and gate outputs are
 * disposed. The paper reports both a single branch (deployable alone: keep one branch) and the
 * ensemble ("ONE-E"); this is the latter.
 */
export function predictOneEnsemble(model: tf.LayersModel, x: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => splitOneOutputs(model.predict(x, { batchSize: x.shape[0] }) as tf.Tensor[]).ensembleLogits);
}

function isPositiveInteger(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

/** A distinct 32-bit seed per layer (splitmix-style mixing), so no two layers start alike. */
function layerSeed(seed: number, index: number): number {
  let z = (seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
