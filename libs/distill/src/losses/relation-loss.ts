import * as tf from '@tensorflow/tfjs';

import { assertTemperature, softmaxWithTemperature } from '../temperature-softmax';
import { DistillationLoss, DistillationTargets, StudentOutputs } from './distillation-loss';
import { assertNumberInRange } from './loss-terms';
import { responseTerm } from './response-loss';

/**
 * Which pair of representations the relations are measured on:
 * - 'features': student.features vs targets.teacherFeatures (the paper's embeddings);
 * - 'logits': student.logits vs targets.teacherLogits;
 * - 'probabilities': softmax(student.logits / T) vs targets.softLabels (all a federated round has);
 * - 'auto' (default): the first of these whose inputs are all present.
 */
export type RelationRepresentation = 'auto' | 'features' | 'logits' | 'probabilities';

export interface RelationLossOptions {
  /** Weight of the distance-wise term (paper: 25). */
  distanceWeight?: number;
  /** Weight of the angle-wise term (paper: 50). */
  angleWeight?: number;
  representation?: RelationRepresentation;
  /** Weight of a response term added to the relational one (default 0). */
  beta?: number;
  /** Temperature of the response term and of the 'probabilities' representation (default 1). */
  temperature?: number;
  /** Hard-label weight inside the response term (default 0.5), see ResponseLoss. */
  alpha?: number;
}

/**
 * Relational knowledge distillation (RKD, Park, Kim, Lu & Cho 2019): the student matches the
 * *structure* of the teacher's batch rather than each output.
 *
 *   distance-wise: psi_D(i, j) = ||x_i - x_j|| / mu, mu = mean distance over the pairs i != j;
 *                  L_D = mean over all n^2 ordered pairs of smoothL1(psi_D(s) - psi_D(t))
 *   angle-wise:    psi_A(a, b, c) = <e_ab, e_ac>, e_ab = (x_b - x_a) / ||x_b - x_a||;
 *                  L_A = mean over all n^3 ordered triplets of smoothL1(psi_A(s) - psi_A(t))
 *   loss = wD * L_D + wA * L_A (+ beta * response term)
 *
 * smoothL1 is the Huber loss with delta 1. Means over n^2 and n^3 entries (degenerate pairs and
 * triplets contribute 0 on both sides) follow the authors' reference code, to which the default
 * weights wD = 25, wA = 50 were tuned.
 *
 * Zero distances (the diagonal, or duplicate samples in a batch) would give NaN gradients through
 * sqrt and through normalisation; every norm here is sqrt(max(squared, eps)), eps the backend's
 * epsilon, so a zero difference has a finite value and a zero gradient.
 *
 * Memory: the angle term builds [n, n, width] differences and an [n, n, n] cosine tensor, so keep
 * batches at a few hundred samples at most (n = 128, width 128: 2M + 2M floats).
 *
 * RKD alone is invariant to rotations and translations of the student's space, so a student trained
 * only on it need not put classes where the labels expect them: use beta > 0 to train a classifier.
 */
export class RelationLoss implements DistillationLoss {
  readonly name = 'relation';
  readonly needsFeatures: boolean;
  readonly distanceWeight: number;
  readonly angleWeight: number;
  readonly representation: RelationRepresentation;
  readonly beta: number;
  readonly temperature: number;
  readonly alpha: number;

  constructor(options: RelationLossOptions = {}) {
    this.distanceWeight = options.distanceWeight ?? 25;
    this.angleWeight = options.angleWeight ?? 50;
    assertNumberInRange(this.distanceWeight, 'relation loss: distanceWeight', 0);
    assertNumberInRange(this.angleWeight, 'relation loss: angleWeight', 0);
    this.representation = options.representation ?? 'auto';
    const known: RelationRepresentation[] = ['auto', 'features', 'logits', 'probabilities'];
    if (!known.includes(this.representation)) {
      throw new RangeError(`relation loss: unknown representation '${String(this.representation)}' (known: ${known.join(', ')})`);
    }
    this.needsFeatures = this.representation === 'auto' || this.representation === 'features';
    this.beta = options.beta ?? 0;
    assertNumberInRange(this.beta, 'relation loss: beta', 0);
    this.temperature = options.temperature ?? 1;
    assertTemperature(this.temperature, 'relation loss: temperature');
    this.alpha = options.alpha ?? 0.5;
    assertNumberInRange(this.alpha, 'relation loss: alpha', 0, 1);
  }

  trainableVariables(): tf.Variable[] {
    return [];
  }

  compute(student: StudentOutputs, targets: DistillationTargets): tf.Scalar {
    return tf.tidy(() => {
      const [s, t] = this.pickRepresentations(student, targets);
      if (s.rank !== 2 || t.rank !== 2 || s.shape[0] !== t.shape[0]) {
        throw new RangeError(
          `relation loss: student and teacher must be [batch, width] with the same batch (widths may differ), got [${s.shape.join(', ')}] and [${t.shape.join(', ')}]`,
        );
      }
      // A batch of one sample has no relations (and a mean distance of 0 to divide by): the
      // relational part is 0 then, so a trainer's last, short batch is harmless.
      let loss: tf.Scalar =
        s.shape[0] < 2
          ? tf.scalar(0)
          : (tf.add(tf.mul(rkdDistanceTerm(s, t), this.distanceWeight), tf.mul(rkdAngleTerm(s, t), this.angleWeight)) as tf.Scalar);
      if (this.beta > 0) {
        loss = tf.add(loss, tf.mul(responseTerm(student.logits, targets, this.temperature, this.alpha, 'relation loss'), this.beta));
      }
      return loss;
    });
  }

  dispose(): void {
    // Owns no tensors.
  }

  private pickRepresentations(student: StudentOutputs, targets: DistillationTargets): [tf.Tensor2D, tf.Tensor2D] {
    const wanted = this.representation;
    if ((wanted === 'auto' || wanted === 'features') && student.features && targets.teacherFeatures) {
      return [student.features, targets.teacherFeatures];
    }
    if (wanted === 'features') throw new Error('relation loss: needs student.features and targets.teacherFeatures');
    if ((wanted === 'auto' || wanted === 'logits') && targets.teacherLogits) return [student.logits, targets.teacherLogits];
    if (wanted === 'logits') throw new Error('relation loss: needs targets.teacherLogits');
    if (targets.softLabels) return [softmaxWithTemperature(student.logits, this.temperature), targets.softLabels];
    throw new Error(
      wanted === 'probabilities'
        ? 'relation loss: needs targets.softLabels'
        : 'relation loss: needs teacher features, teacher logits or soft labels in the targets',
    );
  }
}

/** Huber loss with delta 1, elementwise: 0.5 x^2 for |x| < 1, |x| - 0.5 beyond. Finite gradient at 0. */
function smoothL1(x: tf.Tensor): tf.Tensor {
  const absolute = tf.abs(x);
  const quadratic = tf.minimum(absolute, 1);
  return tf.add(tf.mul(tf.square(quadratic), 0.5), tf.sub(absolute, quadratic));
}

/** sqrt(max(squared, eps)): finite, with a zero gradient where `squared` is (near) zero. */
function safeSqrt(squared: tf.Tensor): tf.Tensor {
  return tf.sqrt(tf.maximum(squared, tf.backend().epsilon()));
}

/** x_b - x_a for every ordered pair: [n, n, width], entry [a, b]. */
function pairwiseDifferences(x: tf.Tensor2D): tf.Tensor3D {
  return tf.sub(tf.expandDims(x, 0), tf.expandDims(x, 1)) as tf.Tensor3D;
}

/** Pairwise Euclidean distances [n, n] divided by their mean over the pairs i != j; diagonal 0. */
function normalisedDistances(x: tf.Tensor2D): tf.Tensor2D {
  const n = x.shape[0];
  const offDiagonal = tf.sub(1, tf.eye(n));
  const distances = tf.mul(safeSqrt(tf.sum(tf.square(pairwiseDifferences(x)), 2)), offDiagonal);
  const pairs = Math.max(n * (n - 1), 1);
  const mean = tf.div(tf.sum(distances), pairs);
  return tf.div(distances, mean) as tf.Tensor2D;
}

/** Cosines of the angle at vertex a between b and c, for every ordered triplet: [n, n, n]. */
function tripletCosines(x: tf.Tensor2D): tf.Tensor3D {
  const differences = pairwiseDifferences(x);
  const unit = tf.div(differences, safeSqrt(tf.sum(tf.square(differences), 2, true)));
  return tf.matMul(unit as tf.Tensor3D, unit as tf.Tensor3D, false, true);
}

/** RKD distance-wise term for one pair of representations (each [n, width]). */
export function rkdDistanceTerm(student: tf.Tensor2D, teacher: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(smoothL1(tf.sub(normalisedDistances(student), normalisedDistances(teacher)))) as tf.Scalar);
}

/** RKD angle-wise term for one pair of representations (each [n, width]). */
export function rkdAngleTerm(student: tf.Tensor2D, teacher: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(smoothL1(tf.sub(tripletCosines(student), tripletCosines(teacher)))) as tf.Scalar);
}
