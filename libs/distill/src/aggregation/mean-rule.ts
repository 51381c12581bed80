import { aggregateThroughAccumulator, WeightedSumAccumulator } from './aggregation-accumulator';
import { AggregationAccumulator, AggregationAccumulatorOptions, AggregationRule, PredictionShape } from './aggregation-rule';

/**
 * The plain average of the clients' rows (FedMD, FedDF). Only needs the sum of the clients'
 * predictions, so it works under secure aggregation, and its accumulator keeps one exact running
 * sum (O(n x C), never the answers). Per-client weights, when passed, are validated but not used:
 * this is the unweighted rule; use 'weighted' to weight by sample counts.
 */
export class MeanRule implements AggregationRule {
  readonly name = 'mean';
  readonly needsIndividualPredictions = false;

  aggregate(predictions: readonly Float32Array[], shape: PredictionShape, weights?: readonly number[], coverage?: readonly Float32Array[]): Float32Array {
    return aggregateThroughAccumulator(this, predictions, shape, weights, coverage);
  }

  accumulator(shape: PredictionShape, options?: AggregationAccumulatorOptions): AggregationAccumulator {
    return new WeightedSumAccumulator(this.name, shape, 'ignored', options);
  }
}
