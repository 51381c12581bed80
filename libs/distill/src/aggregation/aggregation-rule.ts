/** Shape of one client's soft-prediction matrix: n proxy inputs x C classes, row-major. */
export interface PredictionShape {
  n: number;
  classes: number;
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
  aggregate(predictions: readonly Float32Array[], shape: PredictionShape, weights?: readonly number[]): Float32Array;
}
