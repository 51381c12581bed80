import { aggregateThroughAccumulator, HeldAnswersAccumulator } from './aggregation-accumulator';
import { AggregationAccumulator, AggregationAccumulatorOptions, AggregationRule, PredictionShape } from './aggregation-rule';
import { combineCoordinatewise } from './prediction-rows';

export interface TrimmedMeanOptions {
  /** Fraction trimmed at each end, in [0, 0.5): floor(beta * k) lowest and highest values per coordinate are dropped. */
  beta: number;
}

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): for each (row, class) drop the floor(beta * k)
 * lowest and the floor(beta * k) highest of the k clients' values, average the rest, then
 * normalise each row to sum 1. beta = 0 is the mean; beta < 0.5 always leaves at least one value.
 * Tolerates up to floor(beta * k) garbage clients per coordinate. A row left all 0 falls back to
 * the mean of that row (see combineCoordinatewise). Weights are validated but not used (see MedianRule).
 * Its accumulator must hold every answer (up to maxHeldAnswers) and combines them in clientId order.
 */
export class TrimmedMeanRule implements AggregationRule {
  readonly name = 'trimmed-mean';
  readonly needsIndividualPredictions = true;
  readonly beta: number;

  constructor(options: TrimmedMeanOptions) {
    const beta = options?.beta;
    if (typeof beta !== 'number' || !Number.isFinite(beta) || beta < 0 || beta >= 0.5) {
      throw new RangeError(`trimmed-mean: beta must be a number in [0, 0.5), got ${String(beta)}`);
    }
    this.beta = beta;
  }

  aggregate(predictions: readonly Float32Array[], shape: PredictionShape, weights?: readonly number[], coverage?: readonly Float32Array[]): Float32Array {
    return aggregateThroughAccumulator(this, predictions, shape, weights, coverage);
  }

  accumulator(shape: PredictionShape, options?: AggregationAccumulatorOptions): AggregationAccumulator {
    return new HeldAnswersAccumulator(
      this.name,
      shape,
      (answers, { n, classes }) => {
        // The 1e-9 keeps decimal betas exact: 0.29 * 100 is 28.999999999999996 in binary floating point.
        const trim = Math.floor(this.beta * answers.length + 1e-9);
        return combineCoordinatewise(answers, n, classes, (sorted) => {
          let sum = 0;
          for (let j = trim; j < sorted.length - trim; j++) sum += sorted[j];
          return sum / (sorted.length - 2 * trim);
        });
      },
      options,
    );
  }
}
