import * as tf from '@tensorflow/tfjs';

import { DistillationLoss, DistillationTargets, StudentOutputs } from './distillation-loss';
import { assertNumberInRange } from './loss-terms';
import { responseTerm } from './response-loss';
import { assertTemperature } from '../temperature-softmax';

export interface HintLossOptions {
  /** Width of the student's features (the guided layer). */
  studentWidth: number;
  /** Width of the teacher's features (the hint layer). */
  teacherWidth: number;
  /** Seed of the projection's initialisation; the same seed gives the same projection. */
  seed: number;
  /** Weight of the response term added to the hint term (default 0: hint only). */
  beta?: number;
  /** Temperature of the response term; required when beta > 0. */
  temperature?: number;
  /** Hard-label weight inside the response term (default 0.5), see ResponseLoss. */
  alpha?: number;
}

/**
 * Hint-based distillation (FitNets, Romero et al. 2015):
 *
 *   MSE(r(f_s), f_t) + beta * response term
 *
 * f_s, f_t are the student's and teacher's features [batch, width]. The regressor r is the identity
 * when the widths match, else a learned affine map f_s W + b, W [studentWidth, teacherWidth]
 * (Glorot-normal from `seed`), b zeros. The paper's regressor is a convolution because it guides
 * convolutional layers; on the flat features fedkd's dense models expose it reduces to this map.
 * W and b are owned by the loss: `trainableVariables()` returns them for the trainer to optimise
 * with the student, `dispose()` frees them.
 *
 * MSE is the mean over batch and feature dimensions, so its scale does not depend on the width.
 * FitNets trains the hint stage first and the response stage after; here both are one weighted
 * sum (beta), and a trainer can run the stages by building two losses.
 */
export class HintLoss implements DistillationLoss {
  readonly name = 'hint';
  readonly needsFeatures = true;
  readonly studentWidth: number;
  readonly teacherWidth: number;
  readonly beta: number;
  readonly alpha: number;
  readonly temperature: number | undefined;
  private readonly projection: { weights: tf.Variable; bias: tf.Variable } | null;

  constructor(options: HintLossOptions) {
    assertNumberInRange(options.studentWidth, 'hint loss: studentWidth', 1);
    assertNumberInRange(options.teacherWidth, 'hint loss: teacherWidth', 1);
    if (!Number.isInteger(options.studentWidth) || !Number.isInteger(options.teacherWidth)) {
      throw new RangeError(`hint loss: widths must be integers, got ${options.studentWidth} and ${options.teacherWidth}`);
    }
    if (!Number.isInteger(options.seed)) throw new RangeError(`hint loss: seed must be an integer, got ${options.seed}`);
    this.studentWidth = options.studentWidth;
    this.teacherWidth = options.teacherWidth;
    this.beta = options.beta ?? 0;
    assertNumberInRange(this.beta, 'hint loss: beta', 0);
    this.alpha = options.alpha ?? 0.5;
    assertNumberInRange(this.alpha, 'hint loss: alpha', 0, 1);
    this.temperature = options.temperature;
    if (this.beta > 0) {
      if (this.temperature === undefined) throw new Error('hint loss: temperature is required when beta > 0');
      assertTemperature(this.temperature, 'hint loss: temperature');
    }
    if (this.studentWidth === this.teacherWidth) {
      this.projection = null;
    } else {
      const std = Math.sqrt(2 / (this.studentWidth + this.teacherWidth));
      // Created inside tidy so that the initial-value tensors are freed; tidy never disposes variables.
      const [width, seed] = [this.teacherWidth, options.seed];
      this.projection = tf.tidy(() => ({
        weights: tf.variable(tf.randomNormal([this.studentWidth, width], 0, std, 'float32', seed), true),
        bias: tf.variable(tf.zeros([width]), true),
      }));
    }
  }

  trainableVariables(): tf.Variable[] {
    return this.projection ? [this.projection.weights, this.projection.bias] : [];
  }

  /** r(f_s): the student's features mapped into the teacher's feature space. */
  project(studentFeatures: tf.Tensor2D): tf.Tensor2D {
    if (studentFeatures.rank !== 2 || studentFeatures.shape[1] !== this.studentWidth) {
      throw new RangeError(
        `hint loss: student features must be [batch, ${this.studentWidth}], got [${studentFeatures.shape.join(', ')}]`,
      );
    }
    if (!this.projection) return studentFeatures.clone();
    const { weights, bias } = this.projection;
    return tf.tidy(() => tf.add(tf.matMul(studentFeatures, weights), bias) as tf.Tensor2D);
  }

  compute(student: StudentOutputs, targets: DistillationTargets): tf.Scalar {
    if (!student.features) throw new Error('hint loss: needs student.features');
    if (!targets.teacherFeatures) throw new Error('hint loss: needs targets.teacherFeatures');
    const teacherFeatures = targets.teacherFeatures;
    if (teacherFeatures.rank !== 2 || teacherFeatures.shape[1] !== this.teacherWidth || teacherFeatures.shape[0] !== student.features.shape[0]) {
      throw new RangeError(
        `hint loss: teacher features must be [${student.features.shape[0]}, ${this.teacherWidth}], got [${teacherFeatures.shape.join(', ')}]`,
      );
    }
    const features = student.features;
    return tf.tidy(() => {
      const hint = tf.mean(tf.squaredDifference(this.project(features), teacherFeatures)) as tf.Scalar;
      if (this.beta === 0) return hint;
      const response = responseTerm(student.logits, targets, this.temperature as number, this.alpha, 'hint loss');
      return tf.add(hint, tf.mul(response, this.beta)) as tf.Scalar;
    });
  }

  dispose(): void {
    if (!this.projection || this.projection.weights.isDisposed) return;
    this.projection.weights.dispose();
    this.projection.bias.dispose();
  }
}
