import * as tf from '@tensorflow/tfjs';

import { logSoftmaxWithTemperature } from '../temperature-softmax';
import { DistillationTargets } from './distillation-loss';

/**
 * Building blocks shared by the distillation losses. Every function here is meant to be called
 * inside the caller's tf.tidy (they allocate intermediates freely) and is backend-agnostic.
 */

/**
 * Identity in the forward pass, zero gradient in the backward pass. TensorFlow.js 4 has no
 * tf.stopGradient; a custom gradient is the supported way to detach a tensor inside a tape
 * (ONE's ensemble teacher, DML's peers when the caller computed them inside the tape).
 */
export const stopGradient: (x: tf.Tensor2D) => tf.Tensor2D = tf.customGrad((x) => {
  const input = x as tf.Tensor2D;
  return { value: input.clone(), gradFunc: (dy: tf.Tensor2D) => tf.zerosLike(dy) };
}) as (x: tf.Tensor2D) => tf.Tensor2D;

/** A probability distribution over classes together with its logarithm, both [batch, classes]. */
export interface RowDistribution {
  probs: tf.Tensor2D;
  logProbs: tf.Tensor2D;
}

/**
 * log(p) with p clamped below at the backend's epsilon (1e-7 in float32). Only ever multiplied by
 * p itself, so a zero probability contributes 0 * log(eps) = 0: the convention 0 log 0 = 0, without
 * the NaN that log(0) = -Infinity would give (0 * -Infinity) in the value and in the gradient.
 */
export function clampedLog(p: tf.Tensor2D): tf.Tensor2D {
  return tf.log(tf.maximum(p, tf.backend().epsilon())) as tf.Tensor2D;
}

/** The distribution of probabilities given as such (soft labels, a peer's predictions). */
export function distributionFromProbabilities(probs: tf.Tensor2D): RowDistribution {
  return { probs, logProbs: clampedLog(probs) };
}

/** softmax(logits / T) and its exact logarithm (no clamping needed). */
export function distributionFromLogits(logits: tf.Tensor2D, temperature: number): RowDistribution {
  const logProbs = logSoftmaxWithTemperature(logits, temperature);
  return { probs: tf.exp(logProbs), logProbs };
}

/**
 * The teacher's distribution at temperature T: from `teacherLogits` when present (exact), else from
 * `softLabels` (already at T by the DistillationTargets contract). Null when neither is given.
 */
export function teacherDistribution(targets: DistillationTargets, temperature: number): RowDistribution | null {
  if (targets.teacherLogits) return distributionFromLogits(targets.teacherLogits, temperature);
  if (targets.softLabels) return distributionFromProbabilities(targets.softLabels);
  return null;
}

/**
 * Batch mean of KL(target || model) = sum_c target_c * (log target_c - log model_c). Zero exactly
 * when the rows agree; differs from the soft-label cross-entropy only by the target's entropy, so
 * its gradient with respect to the model is the same.
 */
export function meanKlDivergence(target: RowDistribution, modelLogProbs: tf.Tensor2D): tf.Scalar {
  const perRow = tf.sum(tf.mul(target.probs, tf.sub(target.logProbs, modelLogProbs)), 1);
  return tf.mean(perRow) as tf.Scalar;
}

/** Batch mean of -log softmax(logits)[label]: the ordinary cross-entropy with class ids. */
export function meanHardLabelCrossEntropy(hardLabels: tf.Tensor1D, logits: tf.Tensor2D): tf.Scalar {
  const classes = logits.shape[1];
  const labels = hardLabels.dtype === 'int32' ? hardLabels : tf.cast(hardLabels, 'int32');
  const oneHot = tf.oneHot(labels as tf.Tensor1D, classes);
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

/** Throws naming both shapes unless `a` and `b` have the same shape. */
export function assertSameShape(a: tf.Tensor, b: tf.Tensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`${what}: shapes differ, [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
  }
}

/** Throws unless hard labels are [batch] for logits [batch, classes]. */
export function assertHardLabels(hardLabels: tf.Tensor1D, logits: tf.Tensor2D, what: string): void {
  if (hardLabels.rank !== 1 || hardLabels.shape[0] !== logits.shape[0]) {
    throw new RangeError(
      `${what}: hardLabels must be [${logits.shape[0]}] for logits [${logits.shape.join(', ')}], got [${hardLabels.shape.join(', ')}]`,
    );
  }
}

/** Throws unless `value` is a finite number in [min, max]. */
export function assertNumberInRange(value: number, what: string, min: number, max = Infinity): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range = max === Infinity ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new RangeError(`${what} must be a finite number ${range}, got ${String(value)}`);
  }
}
