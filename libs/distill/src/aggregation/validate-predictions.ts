import { PredictionShape } from './aggregation-rule';

/**
 * Row-sum tolerance: |sum_c p[i, c] - 1| <= 1e-3 for every row of every client.
 *
 * Why 1e-3: float32 rounding over a row of C = 10..100 probabilities is ~1e-6; a float16 codec
 * rounds each entry to a relative 2^-11 (4.9e-4), so a decoded row is off by at most
 * 4.9e-4 * sum(p) = 4.9e-4. Both pass. A uint8 codec (steps of 1/255) can be off by C / 510
 * (0.02 for 10 classes) and does not: it must renormalise after decoding (or quantise with
 * largest-remainder rounding so the integers sum to 255). Likewise differential-privacy noise must
 * be followed by a projection onto the simplex before sending (post-processing costs no privacy).
 * A row further off than that is a bug upstream, not noise to average away.
 */
export const DEFAULT_ROW_SUM_TOLERANCE = 1e-3;

export type AggregationInputErrorCode =
  | 'BAD_SHAPE'
  | 'NO_CLIENTS'
  | 'LENGTH_MISMATCH'
  | 'NOT_FINITE'
  | 'NEGATIVE'
  | 'ROW_SUM'
  | 'BAD_WEIGHTS'
  /** Per-input coverage weights missing where the rule needs them, of the wrong length, or outside [0, 1]. */
  | 'BAD_COVERAGE';

/**
 * Why a set of client predictions cannot be aggregated. `clientIndex` (position in the array
 * passed to the rule) lets a strategy drop the offending client and name it in the round's log.
 */
export class AggregationInputError extends Error {
  override readonly name = 'AggregationInputError';

  constructor(
    readonly code: AggregationInputErrorCode,
    message: string,
    readonly clientIndex?: number,
  ) {
    super(message);
  }
}

export interface PredictionValidationOptions {
  /** Default DEFAULT_ROW_SUM_TOLERANCE (1e-3). */
  rowSumTolerance?: number;
}

/**
 * The one validation every aggregation rule runs first. Throws AggregationInputError on:
 * a bad shape; zero clients; a client whose array is not a Float32Array of n * C values;
 * NaN or +-Infinity; a negative value; a row whose sum is not 1 within the tolerance;
 * weights (when given) that are not one positive finite number per client.
 */
export function validateClientPredictions(
  predictions: readonly Float32Array[],
  shape: PredictionShape,
  weights?: readonly number[],
  options: PredictionValidationOptions = {},
): void {
  const { n, classes } = shape ?? ({} as PredictionShape);
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(classes) || classes < 1) {
    throw new AggregationInputError('BAD_SHAPE', `prediction shape must have positive integer n and classes, got n=${n}, classes=${classes}`);
  }
  if (!Array.isArray(predictions) || predictions.length === 0) {
    throw new AggregationInputError('NO_CLIENTS', 'no client predictions to aggregate (zero clients)');
  }
  const tolerance = options.rowSumTolerance ?? DEFAULT_ROW_SUM_TOLERANCE;
  const expected = n * classes;
  predictions.forEach((p, k) => {
    if (!(p instanceof Float32Array)) {
      throw new AggregationInputError('LENGTH_MISMATCH', `client ${k}: predictions must be a Float32Array of n*C = ${expected} values`, k);
    }
    if (p.length !== expected) {
      throw new AggregationInputError(
        'LENGTH_MISMATCH',
        `client ${k}: expected n*C = ${n}*${classes} = ${expected} values, got ${p.length}`,
        k,
      );
    }
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let c = 0; c < classes; c++) {
        const v = p[i * classes + c];
        if (!Number.isFinite(v)) throw new AggregationInputError('NOT_FINITE', `client ${k}: row ${i}, class ${c} is ${v}`, k);
        if (v < 0) throw new AggregationInputError('NEGATIVE', `client ${k}: row ${i}, class ${c} is negative (${v})`, k);
        sum += v;
      }
      if (Math.abs(sum - 1) > tolerance) {
        throw new AggregationInputError(
          'ROW_SUM',
          `client ${k}: row ${i} sums to ${sum}, not 1 within ${tolerance} (rows must be probability vectors)`,
          k,
        );
      }
    }
  });
  if (weights !== undefined) validateClientWeights(weights, predictions.length);
}

/** One positive finite weight per client, or AggregationInputError('BAD_WEIGHTS'). */
export function validateClientWeights(weights: readonly number[], clients: number): void {
  if (!Array.isArray(weights) || weights.length !== clients) {
    throw new AggregationInputError(
      'BAD_WEIGHTS',
      `expected one weight per client (${clients}), got ${Array.isArray(weights) ? weights.length : String(weights)}`,
    );
  }
  weights.forEach((w, k) => {
    if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0) {
      throw new AggregationInputError('BAD_WEIGHTS', `client ${k}: weight must be a positive finite number, got ${String(w)}`, k);
    }
  });
}

/** Why `coverage` is not n weights in [0, 1] (null when it is). */
export function coverageProblem(coverage: Float32Array, n: number): string | null {
  if (!(coverage instanceof Float32Array)) return `coverage must be a Float32Array of ${n} weights, got ${String(coverage)}`;
  if (coverage.length !== n) return `coverage has ${coverage.length} weights, expected one per input (${n})`;
  for (let i = 0; i < n; i++) {
    const w = coverage[i];
    if (!(w >= 0 && w <= 1)) return `coverage of input ${i} is ${w}; coverage weights must be in [0, 1]`;
  }
  return null;
}
