import { softmaxRows } from '../temperature-softmax';
import { aggregateThroughAccumulator, FIXED_POINT_SCALE, RunningSumAccumulator } from './aggregation-accumulator';
import { AggregationAccumulator, AggregationAccumulatorOptions, AggregationRule, PredictionShape } from './aggregation-rule';
import { writeNormalisedRow } from './prediction-rows';

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
 *
 * Its accumulator keeps running sums only, never the answers: sum_k w_k p_k and sum_k w_k per row
 * for step 1, and sum_k v_k p_k (v_k the client weight, 1 when none) for the fallback, all exact in
 * fixed point (aggregation-accumulator.ts). So "every w_k is 0" means every w_k rounds to 0 at
 * 2^-32 (confidence x client weight / weightScale below 2^-33), e.g. on a row where every client
 * is uniform; there the average is the client-weighted one. Precision: a row's confidence-weighted
 * average (before step 2) is off by at most k x 2^-33 / sum_k w_k, below 1e-6 while the mean w_k
 * is above 1.2e-4; only rows on which every client is nearly uniform fall below that, and their
 * average is nearly uniform anyway.
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

  aggregate(predictions: readonly Float32Array[], shape: PredictionShape, weights?: readonly number[], coverage?: readonly Float32Array[]): Float32Array {
    return aggregateThroughAccumulator(this, predictions, shape, weights, coverage);
  }

  /**
   * An answer's weight, when given, multiplies its confidences (divided by options.weightScale);
   * a round's answers carry a weight all or none.
   */
  accumulator(shape: PredictionShape, options?: AggregationAccumulatorOptions): AggregationAccumulator {
    return new EntropyWeightedAccumulator(shape, options, this.sharpenTemperature, this.confidenceWeighting);
  }
}

/**
 * The entropy-weighted rule's running sums (fixed-point integers, see aggregation-accumulator.ts):
 * confidence-weighted numerator sum_k w_ik p_ik and per-row totals sum_k w_ik (only with
 * confidence weighting), and the client-weighted sum_k v_k p_ik used where the totals are 0
 * (and, without confidence weighting, everywhere).
 */
class EntropyWeightedAccumulator extends RunningSumAccumulator {
  private readonly confidenceWeightedSums: Float64Array;
  private readonly confidenceTotals: Float64Array;
  private readonly clientWeightedSums: Float64Array;

  constructor(
    shape: PredictionShape,
    options: AggregationAccumulatorOptions | undefined,
    private readonly sharpenTemperature: number,
    private readonly confidenceWeighting: boolean,
  ) {
    super('entropy-weighted', shape, 'optional', options);
    const { n, classes } = this.shape;
    this.clientWeightedSums = new Float64Array(n * classes);
    this.confidenceWeightedSums = new Float64Array(confidenceWeighting ? n * classes : 0);
    this.confidenceTotals = new Float64Array(confidenceWeighting ? n : 0);
  }

  protected accumulate(p: Float32Array, clientWeight: number): void {
    const { n, classes } = this.shape;
    const { clientWeightedSums, confidenceWeightedSums, confidenceTotals } = this;
    const logClasses = Math.log(classes);
    const confidenceWeighting = this.confidenceWeighting;
    // Math.round(term * scale) is toFixedPoint, written out: a call through the module import is
    // not inlined and made this loop about 3x slower.
    const scale = FIXED_POINT_SCALE;
    for (let i = 0; i < n; i++) {
      const offset = i * classes;
      for (let c = 0; c < classes; c++) clientWeightedSums[offset + c] += Math.round(clientWeight * p[offset + c] * scale);
      if (!confidenceWeighting) continue;
      const confidence = classes > 1 ? 1 - rowEntropy(p, offset, classes) / logClasses : 1;
      const w = Math.min(Math.max(confidence, 0), 1) * clientWeight;
      confidenceTotals[i] += Math.round(w * scale);
      for (let c = 0; c < classes; c++) confidenceWeightedSums[offset + c] += Math.round(w * p[offset + c] * scale);
    }
  }

  protected finish(): Float32Array {
    const { n, classes } = this.shape;
    const average = new Float32Array(n * classes);
    for (let i = 0; i < n; i++) {
      const offset = i * classes;
      const clientWeighted = (): Float64Array => {
        const row = this.clientWeightedSums.subarray(offset, offset + classes);
        if (!row.some((v) => v > 0)) throw this.roundedAwayError(i);
        return row;
      };
      // Where every w_k rounded to 0 (or, with w_k a few 2^-32 units, every w_k p_k did): the client-weighted average.
      if (this.confidenceWeighting && this.confidenceTotals[i] > 0) {
        writeNormalisedRow(average, offset, this.confidenceWeightedSums.subarray(offset, offset + classes), clientWeighted);
      } else {
        writeNormalisedRow(average, offset, clientWeighted());
      }
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
