import * as tf from '@tensorflow/tfjs';

import { assertTemperature, logSoftmaxWithTemperature } from '../temperature-softmax';
import { DistillationLoss, DistillationTargets, StudentOutputs } from './distillation-loss';
import {
  assertHardLabels,
  assertNumberInRange,
  assertSameShape,
  meanHardLabelCrossEntropy,
  meanKlDivergence,
  teacherDistribution,
} from './loss-terms';

export interface ResponseLossOptions {
  /** Distillation temperature T > 0; must equal the temperature the soft labels were made at. */
  temperature: number;
  /** Weight of the hard-label cross-entropy in [0, 1] when hard labels exist (default 0.5). */
  alpha?: number;
}

/**
 * Response-based distillation (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network"):
 *
 *   with hard labels y:  alpha * CE(y, softmax(z)) + (1 - alpha) * T^2 * KL(p_T || softmax(z / T))
 *   without (federated): T^2 * KL(p_T || softmax(z / T))
 *   without a teacher:   CE(y, softmax(z)) (training a teacher on its private labels)
 *
 * z are the student's logits; p_T is the teacher's distribution at temperature T, from
 * `teacherLogits` when given (softmax(teacher / T)) or else from `softLabels`. The T^2 factor keeps
 * the soft term's gradient magnitude independent of T (the paper's remark). KL rather than
 * soft cross-entropy: same gradient, but the loss reads 0 when student and teacher agree.
 * Scalars are batch means.
 */
export class ResponseLoss implements DistillationLoss {
  readonly name = 'response';
  readonly needsFeatures = false;
  readonly temperature: number;
  readonly alpha: number;

  constructor(options: ResponseLossOptions) {
    assertTemperature(options.temperature, 'response loss: temperature');
    this.temperature = options.temperature;
    this.alpha = options.alpha ?? 0.5;
    assertNumberInRange(this.alpha, 'response loss: alpha', 0, 1);
  }

  trainableVariables(): tf.Variable[] {
    return [];
  }

  compute(student: StudentOutputs, targets: DistillationTargets): tf.Scalar {
    return tf.tidy(() => responseTerm(student.logits, targets, this.temperature, this.alpha, 'response loss'));
  }

  dispose(): void {
    // Owns no tensors.
  }
}

/**
 * The response term itself, shared by the losses that add it to their own (hint, relation).
 * Call inside tf.tidy.
 */
export function responseTerm(
  logits: tf.Tensor2D,
  targets: DistillationTargets,
  temperature: number,
  alpha: number,
  what: string,
): tf.Scalar {
  const teacher = teacherDistribution(targets, temperature);
  if (!teacher && !targets.hardLabels) throw new Error(`${what}: needs targets.softLabels, targets.teacherLogits or targets.hardLabels`);
  let hard: tf.Scalar | null = null;
  if (targets.hardLabels) {
    assertHardLabels(targets.hardLabels, logits, what);
    hard = meanHardLabelCrossEntropy(targets.hardLabels, logits);
  }
  if (!teacher) return hard as tf.Scalar;
  assertSameShape(logits, teacher.probs, `${what}: student logits vs teacher distribution`);
  const soft = tf.mul(meanKlDivergence(teacher, logSoftmaxWithTemperature(logits, temperature)), temperature * temperature);
  if (!hard) return soft as tf.Scalar;
  return tf.add(tf.mul(hard, alpha), tf.mul(soft, 1 - alpha)) as tf.Scalar;
}
