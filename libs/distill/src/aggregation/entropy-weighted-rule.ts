import { softmaxRows } from '../temperature-softmax';
import { AggregationRule, PredictionShape } from './aggregation-rule';
import { writeNormalisedRow } from './prediction-rows';
import { validateClientPredictions } from './validate-predictions';

export interface EntropyWeightedOptions {
  /**
   * Temperature of the entropy-reduction step, > 0 (default 0.1, DS-FL's setting).
   * Below 1 it sharpens; it acts on probabilities, so its effect is bounded (see class comment).
   */
  sharpenTemperature?: number;
  /**
   * Weight each client's row by its confidence before averaging (default true). With false the rule
   * is exactly DS-FL's ERA, which only needs the mean and so works under secure aggregation.
   */
  confidenceWeighting?: boolean;
}

/**
 * Entropy-reduced aggregation after DS-FL (Itahara, Nishio, Koda, Morikura & Yamamoto 2021,
 * "Distillation-Based Semi-Supervised Federated Learning for Communication-Efficient Collaborative
 * Training with Non-IID Private Data", IEEE TMC), in two steps per proxy sample i:
 *
 * 1. Confidence-weighted average (fedkd's addition, not in DS-FL; on by default). Client k's row
 *    p_k gets weight w_k = 1 - H(p_k) / log C (0 for a uniform row, 1 for a one-hot row; times the
 *    client's weight when weights are passed) and the average is sum_k w_k p_k / sum_k w_k, with
 *    equal weights if every row is uniform. A client sure of a sample outweighs clients that are
 *    guessing, which suits non-IID clients: the one that saw the class knows it.
 * 2. DS-FL's "entropy reduction averaging" (ERA): out = softmax(avg / T) with T < 1 (T = 0.1 in
 *    the paper's experiments and in public reimplementations, e.g. FedLab's DS-FL benchmark:
 *    F.softmax(mean_soft_labels / era_temperature), era_temperature = 0.1). The temperature
 *    softmax acts on the averaged *probabilities*, not on log-probabilities: with avg in [0, 1] the
 *    odds between two classes grow by at most exp(1 / T) (e^10 at T = 0.1), a bounded sharpening
 *    that keeps the argmax, whereas softmax(log avg / T) = avg^(1/T) normalised would be avg^10,
 *    nearly one-hot on every sample. A near-uniform average stays near uniform.
 *
 * DS-FL's rationale (abstract): with non-IID clients the averaged outputs are ambiguous (high
 * entropy), which slows training; sharpening them on purpose restores convergence. This is not a
 * rule against adversaries: a confident liar gets full weight in step 1 (use median/trimmed-mean).
 */
export class EntropyWeightedRule implements AggregationRule {
  readonly name = 'entropy-weighted';
  readonly needsIndividualPredictions: boolean;
  readonly sharpenTemperature: number;
  readonly confidenceWeighting: boolean;

  constructor(options: EntropyWeightedOptions = {}) {
    const t = options.sharpenTemperature ?? 0.1;
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) {
      throw new RangeError(`entropy-weighted: sharpenTemperature must be a finite number > 0, got ${String(t)}`);
    }
    this.sharpenTemperature = t;
    this.confidenceWeighting = options.confidenceWeighting ?? true;
    this.needsIndividualPredictions = this.confidenceWeighting;
  }

  aggregate(predictions: readonly Float32Array[], shape: PredictionShape, weights?: readonly number[]): Float32Array {
    validateClientPredictions(predictions, shape, weights);
    const { n, classes } = shape;
    const clientWeight = (k: number): number => (weights ? weights[k] : 1);
    const logClasses = Math.log(classes);
    const average = new Float32Array(n * classes);
    const row = new Float64Array(classes);
    const w = new Float64Array(predictions.length);
    for (let i = 0; i < n; i++) {
      let total = 0;
      predictions.forEach((p, k) => {
        const confidence = this.confidenceWeighting && classes > 1 ? 1 - rowEntropy(p, i * classes, classes) / logClasses : 1;
        w[k] = Math.min(Math.max(confidence, 0), 1) * clientWeight(k);
        total += w[k];
      });
      if (!(total > 0)) predictions.forEach((_, k) => (w[k] = clientWeight(k)));
      row.fill(0);
      predictions.forEach((p, k) => {
        for (let c = 0; c < classes; c++) row[c] += w[k] * p[i * classes + c];
      });
      writeNormalisedRow(average, i * classes, row);
    }
    return entropyReduction(average, classes, this.sharpenTemperature);
  }
}

/**
 * DS-FL's entropy-reduction step alone: softmax(p / T) on each row of an aggregated [n x C]
 * probability matrix. Exported so that a strategy under secure aggregation can apply it to the
 * mean it recovers from the masked sum.
 */
export function entropyReduction(probabilities: Float32Array, classes: number, sharpenTemperature = 0.1): Float32Array {
  return softmaxRows(probabilities, classes, sharpenTemperature);
}

/** Shannon entropy (nats) of p[offset .. offset + C), with 0 log 0 = 0. */
function rowEntropy(p: Float32Array, offset: number, classes: number): number {
  let h = 0;
  for (let c = 0; c < classes; c++) {
    const v = p[offset + c];
    if (v > 0) h -= v * Math.log(v);
  }
  return h;
}
