import { aggregateThroughAccumulator, WeightedSumAccumulator } from './aggregation-accumulator';
import { AggregationAccumulator, AggregationAccumulatorOptions, AggregationRule, PredictionShape } from './aggregation-rule';
import { AggregationInputError } from './validate-predictions';

/**
 * sum_k w_k P_k / sum_k w_k, with w_k the number of private samples client k trained on (as
 * FedAvg weights its updates). Needs only the weighted sum, so it works under secure aggregation
 * (each client masks w_k P_k and w_k), and its accumulator keeps one exact running sum of
 * (w_k / weightScale) P_k: pass the round's largest sample count as weightScale so that every term
 * stays <= 1 (see aggregation-accumulator.ts). The weights are self-reported: a client that lies
 * about its sample count buys influence, so prefer median or trimmed-mean when clients may be
 * adversarial.
 */
export class WeightedMeanRule implements AggregationRule {
  readonly name = 'weighted';
  readonly needsIndividualPredictions = false;

  aggregate(predictions: readonly Float32Array[], shape: PredictionShape, weights?: readonly number[], coverage?: readonly Float32Array[]): Float32Array {
    if (weights === undefined) {
      throw new AggregationInputError('BAD_WEIGHTS', "the 'weighted' rule needs one weight (sample count) per client; got none");
    }
    return aggregateThroughAccumulator(this, predictions, shape, weights, coverage);
  }

  /** Every `add` must carry the client's weight (sample count). */
  accumulator(shape: PredictionShape, options?: AggregationAccumulatorOptions): AggregationAccumulator {
    return new WeightedSumAccumulator(this.name, shape, 'required', options);
  }
}
