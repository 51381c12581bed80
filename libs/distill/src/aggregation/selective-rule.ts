import { aggregateThroughAccumulator, FIXED_POINT_SCALE, RunningSumAccumulator } from './aggregation-accumulator';
import { COVERAGE_ODDS_SCALE } from '../selection/coverage-selector';
import { AggregationAccumulator, AggregationAccumulatorOptions, AggregationRule, PredictionShape, RowSelection } from './aggregation-rule';

export interface SelectiveOptions {
  /**
   * Server-side selection: an input whose aggregate's entropy, divided by log C, is above this is
   * dropped (the clients that cover it disagree). In (0, 1]; 1 keeps every covered input.
   */
  maxEntropy?: number;
  /**
   * An input whose summed coverage (over the answering clients, each weight in [0, 1]) is below
   * this is dropped: no client has seen data like it. >= 0; 0 drops only inputs nobody covers at all.
   */
  minCoverage?: number;
  /** Epochs of each client's selector (own inputs against the proxy set), sent with the round. */
  selectorEpochs?: number;
  /**
   * Clients send min(1, odds / oddsScale), sent with the round. The larger, the more a client with
   * much data near an input outweighs one with little; but a liar claiming coverage 1 everywhere
   * weighs as much as an honest client with odds of oddsScale. Measured (README): 100 gives the
   * best targets among honest clients; 1 bounds a liar to the weight of one covering client.
   */
  oddsScale?: number;
}

/** Defaults, measured with `npm run non-iid-table` (README). */
export const SELECTIVE_DEFAULTS: Required<SelectiveOptions> = { maxEntropy: 1, minCoverage: 0, selectorEpochs: 20, oddsScale: COVERAGE_ODDS_SCALE };

/**
 * Selective federated distillation (after Selective-FD: Shao, Wu & Zhang, "Selective knowledge
 * sharing for privacy-preserving federated distillation without a good teacher", Nature
 * Communications 2024), in the form that fits secure aggregation:
 *
 * 1. Client side: each client weighs its answer on input i by its coverage c_ik in [0, 1], how much
 *    of i's neighbourhood its own data holds (CoverageSelector: a density-ratio classifier learned
 *    on its private data against the proxy set). The target is the coverage-weighted mean
 *        t_i = sum_k c_ik p_ik / sum_k c_ik,
 *    which needs only two sums (sum_k c_ik p_ik and sum_k c_ik), so a client can mask them under
 *    secure aggregation and the coordinator never sees one client's weights or predictions.
 * 2. Server side: inputs that nobody covers (sum_k c_ik < minCoverage) or on which the covering
 *    clients disagree (normalised entropy of t_i > maxEntropy) are dropped: their target row is all
 *    zeros, which the coordinator reads as "no target" and the student skips.
 *
 * Client sample counts are not used: the odds already carry them (a client with more data near x
 * has higher odds there). Not a defence against adversaries: a liar can claim full coverage.
 */
export class SelectiveRule implements AggregationRule {
  readonly name = 'selective';
  readonly needsIndividualPredictions = false;
  readonly needsCoverage = true;
  readonly maxEntropy: number;
  readonly minCoverage: number;
  readonly selectorEpochs: number;
  readonly oddsScale: number;

  constructor(options: SelectiveOptions = {}) {
    const { maxEntropy, minCoverage, selectorEpochs, oddsScale } = { ...SELECTIVE_DEFAULTS, ...definedOnly(options) };
    if (typeof maxEntropy !== 'number' || !(maxEntropy > 0 && maxEntropy <= 1)) {
      throw new RangeError(`selective: maxEntropy must be in (0, 1] (a share of log C), got ${String(maxEntropy)}`);
    }
    if (typeof minCoverage !== 'number' || !(minCoverage >= 0 && Number.isFinite(minCoverage))) {
      throw new RangeError(`selective: minCoverage must be a finite number >= 0, got ${String(minCoverage)}`);
    }
    if (!Number.isInteger(selectorEpochs) || selectorEpochs < 1 || selectorEpochs > 100) {
      throw new RangeError(`selective: selectorEpochs must be an integer in [1, 100], got ${String(selectorEpochs)}`);
    }
    if (typeof oddsScale !== 'number' || !(oddsScale > 0 && oddsScale <= 1e6)) {
      throw new RangeError(`selective: oddsScale must be a number in (0, 1e6], got ${String(oddsScale)}`);
    }
    this.maxEntropy = maxEntropy;
    this.minCoverage = minCoverage;
    this.selectorEpochs = selectorEpochs;
    this.oddsScale = oddsScale;
  }

  aggregate(predictions: readonly Float32Array[], shape: PredictionShape, weights?: readonly number[], coverage?: readonly Float32Array[]): Float32Array {
    return aggregateThroughAccumulator(this, predictions, shape, weights, coverage);
  }

  /** Every `add` must carry the client's coverage weights; its sample-count weight is checked and ignored. */
  accumulator(shape: PredictionShape, options?: AggregationAccumulatorOptions): AggregationAccumulator {
    return new SelectiveAccumulator(shape, options, this);
  }

  /**
   * The target from the two sums, as real numbers: weightedSums [n x C] = sum_k c_ik p_ik and
   * coverageTotals [n] = sum_k c_ik. The accumulator's result and the secure-aggregation path (which
   * recovers exactly these sums, masked) both end here.
   */
  selectTargets(weightedSums: Float64Array, coverageTotals: Float64Array, classes: number): { targets: Float32Array; selection: RowSelection } {
    const n = coverageTotals.length;
    if (weightedSums.length !== n * classes) throw new RangeError(`selective: ${weightedSums.length} weighted sums for ${n} inputs of ${classes} classes`);
    const targets = new Float32Array(n * classes);
    const selection: RowSelection = { rows: n, kept: 0, uncovered: 0, ambiguous: 0 };
    const logClasses = Math.log(classes);
    const row = new Float64Array(classes);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let c = 0; c < classes; c++) {
        row[c] = Math.max(0, weightedSums[i * classes + c]);
        sum += row[c];
      }
      if (!(coverageTotals[i] > 0) || !(sum > 0) || coverageTotals[i] < this.minCoverage) {
        selection.uncovered++;
        continue;
      }
      let entropy = 0;
      for (let c = 0; c < classes; c++) {
        const p = row[c] / sum;
        if (p > 0) entropy -= p * Math.log(p);
      }
      if (classes > 1 && entropy / logClasses > this.maxEntropy) {
        selection.ambiguous++;
        continue;
      }
      for (let c = 0; c < classes; c++) targets[i * classes + c] = row[c] / sum;
      selection.kept++;
    }
    return { targets, selection };
  }
}

/** Running sums of toFixedPoint(c_ik p_ik) and toFixedPoint(c_ik): exact, so the target is the same in any order of arrival. */
class SelectiveAccumulator extends RunningSumAccumulator {
  private readonly weightedSums: Float64Array;
  private readonly coverageTotals: Float64Array;
  private lastSelection: RowSelection | null = null;

  constructor(
    shape: PredictionShape,
    options: AggregationAccumulatorOptions | undefined,
    private readonly rule: SelectiveRule,
  ) {
    super('selective', shape, 'ignored', options, true);
    this.weightedSums = new Float64Array(this.shape.n * this.shape.classes);
    this.coverageTotals = new Float64Array(this.shape.n);
  }

  protected accumulate(p: Float32Array, _weight: number, coverage?: Float32Array): void {
    const { n, classes } = this.shape;
    const scale = FIXED_POINT_SCALE;
    for (let i = 0; i < n; i++) {
      const c = coverage![i];
      if (c === 0) continue;
      this.coverageTotals[i] += Math.round(c * scale);
      const offset = i * classes;
      for (let j = 0; j < classes; j++) this.weightedSums[offset + j] += Math.round(c * p[offset + j] * scale);
    }
  }

  protected finish(): Float32Array {
    const units = (sums: Float64Array) => Float64Array.from(sums, (v) => v / FIXED_POINT_SCALE);
    const { targets, selection } = this.rule.selectTargets(units(this.weightedSums), units(this.coverageTotals), this.shape.classes);
    this.lastSelection = selection;
    return targets;
  }

  selection(): RowSelection {
    if (!this.lastSelection) throw new Error('selective: selection() is known once result() ran');
    return this.lastSelection;
  }
}

/**
 * What a client masks in a selective round under secure aggregation: its [n x C] predictions
 * weighted by its coverage, then its n coverage weights, [c_1 p_1, ..., c_n p_n, c_1, ..., c_n]
 * (every value in [0, 1]). Summed over the clients this is exactly the two sums the rule needs.
 */
export function coverageWeightedVector(predictions: Float32Array, coverage: Float32Array, classes: number): Float32Array {
  const n = coverage.length;
  if (predictions.length !== n * classes) throw new RangeError(`coverageWeightedVector: ${predictions.length} predictions for ${n} inputs of ${classes} classes`);
  const out = new Float32Array(n * (classes + 1));
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < classes; c++) out[i * classes + c] = coverage[i] * predictions[i * classes + c];
    out[n * classes + i] = coverage[i];
  }
  return out;
}

/** The inverse layout for the sum of such vectors: the weighted sums [n x C] and the coverage totals [n]. */
export function splitCoverageWeightedSum(sum: Float64Array, classes: number): { weightedSums: Float64Array; coverageTotals: Float64Array } {
  if (sum.length % (classes + 1) !== 0) throw new RangeError(`splitCoverageWeightedSum: ${sum.length} values are not n x (${classes} + 1)`);
  const n = sum.length / (classes + 1);
  return { weightedSums: sum.slice(0, n * classes), coverageTotals: sum.slice(n * classes) };
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
