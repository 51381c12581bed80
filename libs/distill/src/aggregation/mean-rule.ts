import { AggregationRule, PredictionShape } from './aggregation-rule';
import { meanRow, writeNormalisedRow } from './prediction-rows';
import { validateClientPredictions } from './validate-predictions';

/**
 * The plain average of the clients' rows (FedMD, FedDF). Only needs the sum of the clients'
 * predictions, so it works under secure aggregation. Per-client weights, when passed, are
 * validated but not used: this is the unweighted rule; use 'weighted' to weight by sample counts.
 */
export class MeanRule implements AggregationRule {
  readonly name = 'mean';
  readonly needsIndividualPredictions = false;

  aggregate(predictions: readonly Float32Array[], shape: PredictionShape, weights?: readonly number[]): Float32Array {
    validateClientPredictions(predictions, shape, weights);
    const { n, classes } = shape;
    const out = new Float32Array(n * classes);
    for (let i = 0; i < n; i++) writeNormalisedRow(out, i * classes, meanRow(predictions, i, classes));
    return out;
  }
}
