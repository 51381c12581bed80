/** Shape of one client's soft-prediction matrix: n proxy inputs x C classes, row-major. */
export interface PredictionShape {
  n: number;
  classes: number;
}

/** How an accumulator is set up for one round. */
export interface AggregationAccumulatorOptions {
  /**
   * Divisor of the client weights (sample counts) before they enter the fixed-point sums, so that
   * every term stays <= 1: pass the largest sample count among the round's participants. Used by
   * 'weighted', and by 'entropy-weighted' when its answers carry weights; ignored otherwise. The
   * result does not depend on it except through rounding: a client weight below weightScale x 2^-33
   * counts as 0, so do not make it much larger than the largest weight. Default 1.
   */
  weightScale?: number;
  /**
   * Most answers a rule that needs every answer (median, trimmed-mean) keeps in memory; `add`
   * beyond it throws. Ignored by the running-sum rules. Default DEFAULT_MAX_HELD_ANSWERS (1000).
   */
  maxHeldAnswers?: number;
  /**
   * For the rules that track each client's agreement with the consensus over rounds (reputation):
   * each client's reputation after its previous rounds, by clientId (a client not in the map has
   * none yet). The caller keeps them between rounds (the coordinator persists them); the rule
   * stays a pure function of the answers and these. Ignored by the other rules.
   */
  priorReputations?: ReadonlyMap<string, number>;
}

/** One client's part in a round aggregated by a reputation rule: the evidence for its weight. */
export interface ClientAgreement {
  clientId: string;
  /** This round: 1 - mean over the rows of the total-variation distance to the robust consensus, in [0, 1]. */
  agreement: number;
  /** After this round: the running combination of its agreements (what the next round gets as its prior). */
  reputation: number;
  /** Its weight in this round's target (0 when flagged). */
  weight: number;
  /** Its reputation fell too far below the round's median: it did not count in this round's target. */
  flagged: boolean;
}

/**
 * One round's aggregation, fed answer by answer as they arrive. The result does not depend on the
 * order of the `add` calls: bit for bit the same in any order (see aggregation-accumulator.ts).
 */
export interface AggregationAccumulator {
  /**
   * Adds client `clientId`'s [n x C] soft predictions (and its weight, e.g. its sample count).
   * Throws an AggregationAnswerError (a RangeError) naming the client when the matrix is not n * C
   * finite, non-negative values whose rows sum to 1 (as validateClientPredictions checks), when
   * the weight is not a positive finite number (or missing where the rule needs it), when the
   * client already answered, or when the answer cannot be taken (held-answer cap, exactness bound).
   * A rejected answer changes nothing. `coverage`: the client's per-input weights in [0, 1] (its
   * selector's, see CoverageSelector), required by 'selective' (BAD_COVERAGE without), checked
   * and ignored by the other rules.
   */
  add(clientId: string, predictions: Float32Array, weight?: number, coverage?: Float32Array): void;
  /** Answers added so far. */
  readonly count: number;
  /** [n x C] matrices kept in memory: 0 for the running-sum rules, `count` for median and trimmed-mean. */
  readonly heldMatrices: number;
  /** The [n x C] target (rows summing to 1) of the answers added so far; throws when there are none. */
  result(): Float32Array;
  /**
   * Rules that weight clients by their agreement with the consensus (reputation): each answering
   * client's agreement, updated reputation and weight, in clientId order, once `result()` ran.
   * Absent for the other rules.
   */
  agreements?(): readonly ClientAgreement[];
  /** Rules that drop inputs (selective): how many rows were kept and why the others were dropped, once `result()` ran. */
  selection?(): RowSelection;
}

/** What a selecting rule did with a round's rows: dropped rows are all-zero in its target (the student skips them). */
export interface RowSelection {
  rows: number;
  kept: number;
  /** No client's coverage reached the rule's minimum: nobody has seen data like it. */
  uncovered: number;
  /** The aggregate's normalised entropy stayed above the rule's maximum: the clients that cover it disagree. */
  ambiguous: number;
}

/**
 * The AggregationRule seam (DESIGN.md): k clients' [n x C] soft predictions (+ optional
 * per-client weights) -> one [n x C] target whose rows sum to 1.
 * Pure functions on Float32Arrays: no tensors, no network, trivially testable.
 */
export interface AggregationRule {
  readonly name: string;
  /**
   * True when the rule must see each client's vector separately (median, trimmed mean,
   * entropy weights). Secure aggregation only reveals the sum, so it refuses such rules.
   */
  readonly needsIndividualPredictions: boolean;
  /** True when every answer must carry per-input coverage weights (selective: clients run their selector). */
  readonly needsCoverage?: boolean;
  /**
   * All answers at once: validated as a whole (validateClientPredictions), then fed to this rule's
   * accumulator in index order. Same result as adding them one by one, in any order.
   */
  aggregate(predictions: readonly Float32Array[], shape: PredictionShape, weights?: readonly number[], coverage?: readonly Float32Array[]): Float32Array;
  /**
   * An empty accumulator for one round of answers of this shape. Mean, weighted and
   * entropy-weighted keep only O(n x C) running sums; median and trimmed-mean keep every answer.
   */
  accumulator(shape: PredictionShape, options?: AggregationAccumulatorOptions): AggregationAccumulator;
}
