import { AggregationRule, PredictionShape } from './aggregation-rule';
import { writeNormalisedRow } from './prediction-rows';
import { AggregationInputError, validateClientPredictions } from './validate-predictions';

/**
 * sum_k w_k P_k / sum_k w_k, with w_k the number of private samples client k trained on (as
 * FedAvg weights its updates). Needs only the weighted sum, so it works under secure aggregation
 * (each client masks w_k P_k and w_k). The weights are self-reported: a client that lies about its
 * sample count buys influence, so prefer median or trimmed-mean when clients may be adversarial.
 */
export class WeightedMeanRule implements AggregationRule {
  readonly name = 'weighted';
  readonly needsIndividualPredictions = false;

  aggregate(predictions: readonly Float32Array[], shape: PredictionShape, weights?: readonly number[]): Float32Array {
    if (weights === undefined) {
      throw new AggregationInputError('BAD_WEIGHTS', "the 'weighted' rule needs one weight (sample count) per client; got none");
    }
    validateClientPredictions(predictions, shape, weights);
    const { n, classes } = shape;
    const total = weights.reduce((a, b) => a + b, 0);
    const out = new Float32Array(n * classes);
    const row = new Float64Array(classes);
    for (let i = 0; i < n; i++) {
      row.fill(0);
      predictions.forEach((p, k) => {
        const w = weights[k] / total;
        for (let c = 0; c < classes; c++) row[c] += w * p[i * classes + c];
      });
      writeNormalisedRow(out, i * classes, row);
    }
    return out;
  }
}
