import * as tf from '@tensorflow/tfjs';

/** What the student produced for one batch. */
export interface StudentOutputs {
  /** Raw logits [batch, classes]. */
  logits: tf.Tensor2D;
  /** Intermediate representation [batch, width]; present when the loss `needsFeatures`. */
  features?: tf.Tensor2D;
  /**
   * Multi-branch students only (ONE, one-student.ts): each branch's logits [batch, classes].
   * `logits` is then the gated ensemble of these branches.
   */
  branchLogits?: readonly tf.Tensor2D[];
}

/** What the student is trained towards for one batch. Which fields a loss needs is its own business. */
export interface DistillationTargets {
  /** Teacher (or aggregated) probabilities at the distillation temperature, [batch, classes], rows sum to 1. */
  softLabels?: tf.Tensor2D;
  /** Teacher logits [batch, classes], when available (single local teacher). */
  teacherLogits?: tf.Tensor2D;
  /** Ground-truth class ids [batch] (int32), only where labels legitimately exist. */
  hardLabels?: tf.Tensor1D;
  /** Teacher features [batch, width] for feature-based losses. */
  teacherFeatures?: tf.Tensor2D;
  /**
   * Deep mutual learning only (mutual-loss.ts): each peer's probabilities at the loss temperature,
   * [batch, classes]. Treated as constants: compute them outside the gradient tape.
   */
  peerProbabilities?: readonly tf.Tensor2D[];
}

/**
 * The DistillationLoss seam (DESIGN.md): student outputs and targets -> scalar.
 * A loss may own trainable variables (a hint projection); the trainer optimises them with the student.
 */
export interface DistillationLoss {
  readonly name: string;
  readonly needsFeatures: boolean;
  trainableVariables(): tf.Variable[];
  compute(student: StudentOutputs, targets: DistillationTargets): tf.Scalar;
  dispose(): void;
}
