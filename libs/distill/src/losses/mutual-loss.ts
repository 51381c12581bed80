import * as tf from '@tensorflow/tfjs';

import { assertTemperature, logSoftmaxWithTemperature } from '../temperature-softmax';
import { DistillationLoss, DistillationTargets, StudentOutputs } from './distillation-loss';
import {
  assertHardLabels,
  assertNumberInRange,
  assertSameShape,
  distributionFromProbabilities,
  meanHardLabelCrossEntropy,
  meanKlDivergence,
  stopGradient,
} from './loss-terms';

export interface MutualLossOptions {
  /** Temperature of the peer term and of soft labels (default 1, as in the paper). */
  temperature?: number;
  /** Weight of the peer term (default 1, as in the paper). */
  peerWeight?: number;
}

/**
 * Deep mutual learning (Zhang, Xiang, Hospedales & Lu 2018): K peers learn together, each from the
 * labels and from the others. For peer i with logits z_i and the other peers' probabilities p_l:
 *
 *   supervised term + peerWeight * T^2 * (1 / (K - 1)) * sum_{l != i} KL(p_l || softmax(z_i / T))
 *
 * supervised term: CE(hardLabels, softmax(z_i)) when hard labels exist, else
 * T^2 * KL(softLabels || softmax(z_i / T)) (the federated case: soft labels at temperature T).
 * The paper uses T = 1; the T^2 factor is 1 then.
 *
 * The peers' probabilities (`targets.peerProbabilities`, each [batch, classes], at temperature T)
 * are constants for peer i's update, as in the paper's alternating optimisation. TensorFlow.js has
 * no tf.stopGradient, so compute them *outside* the gradient tape of peer i, e.g.
 *
 *   const peerProbs = tf.tidy(() => softmaxWithTemperature(peer.predict(x) as tf.Tensor2D, T));
 *   optimizer.minimize(() => loss.compute({ logits: model.apply(x) }, { hardLabels, peerProbabilities: [peerProbs] }));
 *
 * As a safety net the loss also wraps them in a zero-gradient identity, so no gradient reaches a
 * peer even if they were computed inside the tape (the peer's forward pass then wastes tape memory).
 * The trainer (not this file) alternates the peers' updates.
 */
export class MutualLoss implements DistillationLoss {
  readonly name = 'mutual';
  readonly needsFeatures = false;
  readonly temperature: number;
  readonly peerWeight: number;

  constructor(options: MutualLossOptions = {}) {
    this.temperature = options.temperature ?? 1;
    assertTemperature(this.temperature, 'mutual loss: temperature');
    this.peerWeight = options.peerWeight ?? 1;
    assertNumberInRange(this.peerWeight, 'mutual loss: peerWeight', 0);
  }

  trainableVariables(): tf.Variable[] {
    return [];
  }

  compute(student: StudentOutputs, targets: DistillationTargets): tf.Scalar {
    const peers = targets.peerProbabilities ?? [];
    if (peers.length === 0) throw new Error('mutual loss: needs targets.peerProbabilities (one tensor per other peer)');
    if (!targets.hardLabels && !targets.softLabels) throw new Error('mutual loss: needs targets.hardLabels or targets.softLabels');
    const logits = student.logits;
    peers.forEach((p, i) => assertSameShape(logits, p, `mutual loss: student logits vs peerProbabilities[${i}]`));
    const T = this.temperature;
    return tf.tidy(() => {
      const logProbsAtT = logSoftmaxWithTemperature(logits, T);
      let supervised: tf.Scalar;
      if (targets.hardLabels) {
        assertHardLabels(targets.hardLabels, logits, 'mutual loss');
        supervised = meanHardLabelCrossEntropy(targets.hardLabels, logits);
      } else {
        const soft = targets.softLabels as tf.Tensor2D;
        assertSameShape(logits, soft, 'mutual loss: student logits vs softLabels');
        supervised = tf.mul(meanKlDivergence(distributionFromProbabilities(soft), logProbsAtT), T * T) as tf.Scalar;
      }
      const klSum = peers
        .map((p) => meanKlDivergence(distributionFromProbabilities(stopGradient(p)), logProbsAtT))
        .reduce((a, b) => tf.add(a, b) as tf.Scalar);
      const peerTerm = tf.mul(klSum, (this.peerWeight * T * T) / peers.length);
      return tf.add(supervised, peerTerm) as tf.Scalar;
    });
  }

  dispose(): void {
    // Owns no tensors.
  }
}
