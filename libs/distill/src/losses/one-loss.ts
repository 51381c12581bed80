import * as tf from '@tensorflow/tfjs';

import { assertTemperature, logSoftmaxWithTemperature } from '../temperature-softmax';
import { DistillationLoss, DistillationTargets, StudentOutputs } from './distillation-loss';
import {
  assertHardLabels,
  assertNumberInRange,
  assertSameShape,
  distributionFromLogits,
  meanHardLabelCrossEntropy,
  meanKlDivergence,
  stopGradient,
  teacherDistribution,
} from './loss-terms';

export interface OneLossOptions {
  /** Temperature of the ensemble-to-branch KL and of soft labels (default 3, the authors' code). */
  temperature?: number;
  /**
   * Weight of the KL term (default 1). The authors' code ramps it up from 0 to 1 over the first 80
   * epochs (`oneKlRampUp`); a trainer that wants that sets a new OneLoss or passes the ramp here.
   */
  klWeight?: number;
}

/**
 * ONE (Lan, Zhu & Gong 2018, "Knowledge Distillation by On-the-fly Native Ensemble"): the
 * branches of one multi-branch student (one-student.ts) and their gated ensemble learn from the
 * labels, and the ensemble teaches the branches on the fly:
 *
 *   loss = sum_i S(z_i) + S(z_e) + klWeight * T^2 * sum_i KL(softmax(z_e / T) || softmax(z_i / T))
 *
 * `student.branchLogits` are z_1..z_k, `student.logits` is the ensemble z_e.
 * S is the supervised term: CE(hardLabels, softmax(z)) when hard labels exist; otherwise (the
 * federated case) T^2 * KL(p_T || softmax(z / T)) with p_T from softLabels or teacherLogits, which
 * is the soft-label cross-entropy minus the labels' (constant) entropy: same gradient, 0 at a match.
 *
 * Detaching the teacher: the paper's Eq. (5) does not say, and its authors' code
 * (github.com/Lan1991Xu/ONE_NeurIPS2018, loss/kl_loss.py) wraps the ensemble's softened
 * distribution in a Variable with requires_grad=False, i.e. it is a constant target. We follow the
 * code: the KL term trains the branches only; the gate and the ensemble learn from S(z_e) alone
 * (otherwise the ensemble would be pulled towards its weaker branches). TensorFlow.js lacks
 * tf.stopGradient, so the loss applies a zero-gradient identity (loss-terms.ts `stopGradient`).
 * The code also uses T = 3 and, unlike Eq. (5)'s T^2, multiplies the whole KL by T^2: same thing.
 */
export class OneLoss implements DistillationLoss {
  readonly name = 'one';
  readonly needsFeatures = false;
  readonly temperature: number;
  readonly klWeight: number;

  constructor(options: OneLossOptions = {}) {
    this.temperature = options.temperature ?? 3;
    assertTemperature(this.temperature, 'ONE loss: temperature');
    this.klWeight = options.klWeight ?? 1;
    assertNumberInRange(this.klWeight, 'ONE loss: klWeight', 0);
  }

  trainableVariables(): tf.Variable[] {
    return [];
  }

  compute(student: StudentOutputs, targets: DistillationTargets): tf.Scalar {
    const branches = student.branchLogits ?? [];
    if (branches.length < 2) {
      throw new Error('ONE loss: needs student.branchLogits (k >= 2 branches) and the ensemble as student.logits; see oneStudentOutputs');
    }
    const ensemble = student.logits;
    branches.forEach((z, i) => assertSameShape(ensemble, z, `ONE loss: ensemble logits vs branchLogits[${i}]`));
    if (targets.hardLabels) assertHardLabels(targets.hardLabels, ensemble, 'ONE loss');
    else if (!targets.softLabels && !targets.teacherLogits) {
      throw new Error('ONE loss: needs targets.hardLabels, targets.softLabels or targets.teacherLogits');
    }
    const T = this.temperature;
    return tf.tidy(() => {
      const hardLabels = targets.hardLabels;
      const softLabels = hardLabels ? null : teacherDistribution(targets, T);
      if (softLabels) assertSameShape(ensemble, softLabels.probs, 'ONE loss: logits vs soft labels');
      const supervised = (z: tf.Tensor2D): tf.Scalar =>
        softLabels
          ? (tf.mul(meanKlDivergence(softLabels, logSoftmaxWithTemperature(z, T)), T * T) as tf.Scalar)
          : meanHardLabelCrossEntropy(hardLabels as tf.Tensor1D, z);
      const teacher = distributionFromLogits(stopGradient(ensemble), T);
      let loss = supervised(ensemble);
      for (const z of branches) {
        const kl = meanKlDivergence(teacher, logSoftmaxWithTemperature(z, T));
        loss = tf.add(loss, tf.add(supervised(z), tf.mul(kl, this.klWeight * T * T))) as tf.Scalar;
      }
      return loss;
    });
  }

  dispose(): void {
    // Owns no tensors.
  }
}

/**
 * The authors' KL weight schedule (sigmoid ramp-up of Laine & Aila 2017): exp(-5 (1 - t)^2) with
 * t = epoch / rampUpEpochs clipped to [0, 1]; 1 from `rampUpEpochs` on. Their default is 80 epochs.
 */
export function oneKlRampUp(epoch: number, rampUpEpochs: number): number {
  assertNumberInRange(epoch, 'oneKlRampUp: epoch', 0);
  assertNumberInRange(rampUpEpochs, 'oneKlRampUp: rampUpEpochs', 0);
  if (rampUpEpochs === 0) return 1;
  const t = Math.min(epoch / rampUpEpochs, 1);
  return Math.exp(-5 * (1 - t) * (1 - t));
}
