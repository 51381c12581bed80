import { aggregateThroughAccumulator, HeldAnswersAccumulator } from './aggregation-accumulator';
import { AggregationAccumulator, AggregationAccumulatorOptions, AggregationRule, PredictionShape } from './aggregation-rule';
import { combineCoordinatewise } from './prediction-rows';

/**
 * Coordinate-wise median of the clients' probabilities (Yin et al. 2018), then each row
 * normalised to sum 1 (the medians of a row need not sum to 1). With an even number of clients the
 * median is the mean of the two middle values. Robust to fewer than half the clients sending
 * garbage. A row whose medians are all 0 falls back to the mean of that row (see
 * combineCoordinatewise). Weights, when passed, are validated but not used: a self-reported sample
 * count must not buy influence in a robust rule. Its accumulator must hold every answer (up to
 * maxHeldAnswers) and combines them in clientId order.
 */
export class MedianRule implements AggregationRule {
  readonly name = 'median';
  readonly needsIndividualPredictions = true;

  aggregate(predictions: readonly Float32Array[], shape: PredictionShape, weights?: readonly number[], coverage?: readonly Float32Array[]): Float32Array {
    return aggregateThroughAccumulator(this, predictions, shape, weights, coverage);
  }

  accumulator(shape: PredictionShape, options?: AggregationAccumulatorOptions): AggregationAccumulator {
    return new HeldAnswersAccumulator(
      this.name,
      shape,
      (answers, { n, classes }) =>
        combineCoordinatewise(answers, n, classes, (sorted) => {
          const k = sorted.length;
          const mid = k >> 1;
          return k % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        }),
      options,
    );
  }
}
