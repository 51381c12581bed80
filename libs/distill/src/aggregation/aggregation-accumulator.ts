import { AggregationAccumulator, AggregationAccumulatorOptions, AggregationRule, PredictionShape } from './aggregation-rule';
import { writeNormalisedRow } from './prediction-rows';
import {
  AggregationInputError,
  AggregationInputErrorCode,
  coverageProblem,
  DEFAULT_ROW_SUM_TOLERANCE,
  validateClientPredictions,
} from './validate-predictions';

/**
 * The fixed point of the running sums: every term is rounded to a multiple of 2^-32.
 *
 * Exact, order-free sums. Floating-point addition is not associative: summing the same answers in
 * another order can change the last bits, and answers arrive over sockets in a different order
 * than in an in-memory simulation, while the same seed must give a bit-identical student through
 * both. So every term (a probability p, a weighted probability w * p, or a weight w) is first
 * rounded to this fixed point, Math.round(term * 2^32), and the running sums add these integers in
 * a Float64Array. Integers up to 2^53 are exact in float64, so every partial sum is exact and the
 * final sums are the same integers in any order: bit-identical results. Terms are <= 1 (weights
 * are divided by `weightScale`), so that holds for about 2 million answers (2^53 / 2^32 = 2^21);
 * `add` refuses an answer that could push a sum past 2^53 rather than silently lose exactness.
 *
 * Precision: each term is off by at most 2^-33, so a probability (or w * p) below 2^-33 (1.2e-10)
 * becomes 0 in the sum, and a normalised result is off by at most k * 2^-33 / sum_k(w_k / weightScale)
 * (2^-33 for equal weights) from the exact average.
 */
export const FIXED_POINT_SCALE = 2 ** 32;

/** Integers up to 2^53 are exact in float64: the running sums must stay at or below it. */
export const EXACT_SUM_LIMIT = 2 ** 53;

/** Default cap on the answers a median or trimmed-mean accumulator keeps in memory. */
export const DEFAULT_MAX_HELD_ANSWERS = 1000;

/** The largest value a valid answer can hold: rows are non-negative and sum to 1 within the tolerance. */
const LARGEST_PROBABILITY = 1 + 2 * DEFAULT_ROW_SUM_TOLERANCE;

/** `term` rounded to the fixed point, as an integer count of 2^-32 units. */
export function toFixedPoint(term: number): number {
  return Math.round(term * FIXED_POINT_SCALE);
}

export type AggregationAnswerErrorCode =
  | AggregationInputErrorCode
  /** The client already answered this round. */
  | 'DUPLICATE_CLIENT'
  /** A median or trimmed-mean accumulator already holds maxHeldAnswers answers. */
  | 'HELD_ANSWERS_CAP'
  /** The answer could push a running sum past 2^53, where sums stop being exact. */
  | 'SUM_NOT_EXACT';

/**
 * Why an accumulator refused one client's answer. A RangeError that names the client: `clientId`
 * lets the coordinator drop that answer (and log who sent it) and go on with the others; the
 * accumulator is unchanged. HELD_ANSWERS_CAP and SUM_NOT_EXACT concern the round, not the client.
 */
export class AggregationAnswerError extends RangeError {
  override readonly name = 'AggregationAnswerError';

  constructor(
    readonly code: AggregationAnswerErrorCode,
    message: string,
    readonly clientId: string,
  ) {
    super(message);
  }
}

/** How a rule uses the weight passed with an answer. */
export type ClientWeightUse =
  /** Validated when given, not used (mean, median, trimmed-mean). */
  | 'ignored'
  /**
   * Used when given (divided by weightScale), else 1 (not divided: an unweighted round keeps full
   * precision whatever weightScale says); every answer of a round must carry one, or none
   * (entropy-weighted).
   */
  | 'optional'
  /** Every answer must carry one (weighted). */
  | 'required';

/**
 * Base of the accumulators that keep only running sums, O(n x C) whatever the number of answers
 * (mean, weighted, entropy-weighted): it checks each answer, scales its weight, guards exactness,
 * and leaves the sums to the subclass, which must add only toFixedPoint(...) integers (see
 * FIXED_POINT_SCALE) so that the sums are exact and the result the same in any order of arrival.
 */
export abstract class RunningSumAccumulator implements AggregationAccumulator {
  readonly heldMatrices = 0;
  readonly shape: PredictionShape;
  /** Client weights are divided by this before they enter the sums. */
  readonly weightScale: number;
  private readonly answered = new Set<string>();
  /** An upper bound (fixed-point units) of every running sum so far: the sum of each answer's largest possible term. */
  private largestPossibleSum = 0;
  /** For optional weights: whether this round's answers carry one (set by the first answer). */
  private answersCarryWeights: boolean | null = null;

  protected constructor(
    readonly ruleName: string,
    shape: PredictionShape,
    private readonly weightUse: ClientWeightUse,
    options: AggregationAccumulatorOptions = {},
    /** Whether every answer must carry coverage weights (selective). */
    private readonly coverageRequired = false,
  ) {
    this.shape = checkedShape(shape);
    this.weightScale = checkedWeightScale(options.weightScale);
  }

  get count(): number {
    return this.answered.size;
  }

  add(clientId: string, predictions: Float32Array, weight?: number, coverage?: Float32Array): void {
    checkAnswer(this.ruleName, this.shape, clientId, predictions, weight, this.weightUse, this.answered.has(clientId), coverage, this.coverageRequired);
    const carriesWeight = weight !== undefined;
    if (this.weightUse === 'optional' && this.answersCarryWeights !== null && carriesWeight !== this.answersCarryWeights) {
      throw new AggregationAnswerError(
        'BAD_WEIGHTS',
        `client '${clientId}': ${carriesWeight ? 'sent a weight, but earlier answers of this round carried none' : 'sent no weight, but earlier answers of this round carried one'} ` +
          `(give a weight with every answer of a round or with none)`,
        clientId,
      );
    }
    const scaledWeight = this.weightUse === 'ignored' || weight === undefined ? 1 : weight / this.weightScale;
    const largestTerm = Math.ceil(scaledWeight * LARGEST_PROBABILITY * FIXED_POINT_SCALE);
    if (this.largestPossibleSum + largestTerm > EXACT_SUM_LIMIT) {
      throw new AggregationAnswerError(
        'SUM_NOT_EXACT',
        `${this.ruleName}: cannot take the answer of client '${clientId}': its terms (weight ${scaledWeight} after dividing by ` +
          `weightScale ${this.weightScale}) could push a running sum past 2^53, where the sums stop being exact ` +
          `(${this.count} answers so far); pass a weightScale of at least the largest weight`,
        clientId,
      );
    }
    this.accumulate(predictions, scaledWeight, coverage);
    this.largestPossibleSum += largestTerm;
    this.answered.add(clientId);
    this.answersCarryWeights = carriesWeight;
  }

  result(): Float32Array {
    if (this.count === 0) throw new AggregationInputError('NO_CLIENTS', `${this.ruleName}: no client predictions to aggregate (zero clients)`);
    return this.finish();
  }

  /**
   * Adds one validated answer, whose weight is already divided by weightScale (1 when the rule
   * ignores weights), with its coverage weights when it carried them (always, for a rule that requires them).
   */
  protected abstract accumulate(predictions: Float32Array, scaledWeight: number, coverage?: Float32Array): void;

  /** The target from the sums (count > 0). */
  protected abstract finish(): Float32Array;

  /** For a row whose sum is 0 because every term rounded to 0 at the fixed point. */
  protected roundedAwayError(row: number): RangeError {
    return new RangeError(
      `${this.ruleName}: row ${row} sums to 0 because every term rounded to 0 at the 2^-32 fixed point: ` +
        `weightScale (${this.weightScale}) is far larger than the weights; pass the largest weight`,
    );
  }
}

/**
 * Mean and weighted mean: one running sum of toFixedPoint(w_k * p_k) per (row, class), each row
 * normalised at the end (so weights need not be normalised: sum_k w_k p_k / sum_k w_k up to the
 * row sums' tolerance, as the rules always did). With weights ignored, w_k = 1: the plain mean.
 */
export class WeightedSumAccumulator extends RunningSumAccumulator {
  private readonly sums: Float64Array;

  constructor(ruleName: string, shape: PredictionShape, weightUse: 'ignored' | 'required', options: AggregationAccumulatorOptions = {}) {
    super(ruleName, shape, weightUse, options);
    this.sums = new Float64Array(this.shape.n * this.shape.classes);
  }

  protected accumulate(predictions: Float32Array, scaledWeight: number): void {
    const sums = this.sums;
    for (let j = 0; j < sums.length; j++) sums[j] += toFixedPoint(scaledWeight * predictions[j]);
  }

  protected finish(): Float32Array {
    const { n, classes } = this.shape;
    const out = new Float32Array(n * classes);
    for (let i = 0; i < n; i++) {
      const offset = i * classes;
      writeNormalisedRow(out, offset, this.sums.subarray(offset, offset + classes), () => {
        throw this.roundedAwayError(i);
      });
    }
    return out;
  }
}

/**
 * For the rules that need every answer (median, trimmed-mean): keeps each client's matrix (the
 * array itself, not a copy: do not modify it after `add`) by clientId, at most `maxHeldAnswers`
 * of them, and combines them at the end in clientId order (the default string sort, by UTF-16 code
 * units), so that the result does not depend on the order of arrival either.
 */
export class HeldAnswersAccumulator implements AggregationAccumulator {
  readonly shape: PredictionShape;
  readonly maxHeldAnswers: number;
  private readonly answers = new Map<string, Float32Array>();

  /** `combine` gets the answers in clientId order (and those ids, in the same order). */
  constructor(
    readonly ruleName: string,
    shape: PredictionShape,
    private readonly combine: (answers: readonly Float32Array[], shape: PredictionShape, clientIds: readonly string[]) => Float32Array,
    options: AggregationAccumulatorOptions = {},
  ) {
    this.shape = checkedShape(shape);
    checkedWeightScale(options.weightScale);
    const cap = options.maxHeldAnswers ?? DEFAULT_MAX_HELD_ANSWERS;
    if (!(Number.isInteger(cap) || cap === Number.POSITIVE_INFINITY) || cap < 1) {
      throw new RangeError(`${ruleName}: maxHeldAnswers must be a positive integer (or Infinity), got ${String(cap)}`);
    }
    this.maxHeldAnswers = cap;
  }

  get count(): number {
    return this.answers.size;
  }

  get heldMatrices(): number {
    return this.answers.size;
  }

  add(clientId: string, predictions: Float32Array, weight?: number, coverage?: Float32Array): void {
    checkAnswer(this.ruleName, this.shape, clientId, predictions, weight, 'ignored', this.answers.has(clientId), coverage, false);
    if (this.answers.size >= this.maxHeldAnswers) {
      const { n, classes } = this.shape;
      const bytes = n * classes * 4;
      throw new AggregationAnswerError(
        'HELD_ANSWERS_CAP',
        `${this.ruleName}: cannot take the answer of client '${clientId}': the '${this.ruleName}' rule needs every answer in memory ` +
          `(n x C x 4 = ${n} x ${classes} x 4 = ${bytes} bytes per answer) and already holds ${this.answers.size} ` +
          `(maxHeldAnswers ${this.maxHeldAnswers}, ${bytes * this.answers.size} bytes); use mean, weighted or entropy-weighted, ` +
          `which keep running sums, or raise maxHeldAnswers`,
        clientId,
      );
    }
    this.answers.set(clientId, predictions);
  }

  result(): Float32Array {
    if (this.count === 0) throw new AggregationInputError('NO_CLIENTS', `${this.ruleName}: no client predictions to aggregate (zero clients)`);
    const ids = [...this.answers.keys()].sort();
    return this.combine(
      ids.map((id) => this.answers.get(id) as Float32Array),
      this.shape,
      ids,
    );
  }
}

/**
 * A rule's batch `aggregate`, through its accumulator (one implementation of each rule): validates
 * all answers as before (AggregationInputError with the client's index), then adds them with ids
 * '0', '1', ... zero-padded so that string order is index order, weightScale the largest weight
 * and no held-answer cap (the caller holds them all already), and returns the result.
 */
export function aggregateThroughAccumulator(
  rule: AggregationRule,
  predictions: readonly Float32Array[],
  shape: PredictionShape,
  weights?: readonly number[],
  coverage?: readonly Float32Array[],
): Float32Array {
  validateClientPredictions(predictions, shape, weights);
  if (coverage !== undefined && coverage.length !== predictions.length) {
    throw new AggregationInputError('BAD_COVERAGE', `got coverage for ${coverage.length} clients but predictions from ${predictions.length}`);
  }
  const weightScale = weights ? weights.reduce((largest, w) => Math.max(largest, w), 0) : 1;
  const accumulator = rule.accumulator(shape, { weightScale, maxHeldAnswers: predictions.length });
  const width = String(predictions.length - 1).length;
  predictions.forEach((p, k) => accumulator.add(String(k).padStart(width, '0'), p, weights?.[k], coverage?.[k]));
  return accumulator.result();
}

function checkedShape(shape: PredictionShape): PredictionShape {
  const { n, classes } = shape ?? ({} as PredictionShape);
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(classes) || classes < 1) {
    throw new AggregationInputError('BAD_SHAPE', `prediction shape must have positive integer n and classes, got n=${n}, classes=${classes}`);
  }
  return { n, classes };
}

function checkedWeightScale(weightScale: number | undefined): number {
  const scale = weightScale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0) {
    throw new RangeError(`weightScale must be a positive finite number, got ${String(scale)}`);
  }
  return scale;
}

/**
 * One answer's checks, in order: the client id, a repeated answer, the matrix (exactly as
 * validateClientPredictions checks one client, its message re-addressed to the client id), the weight.
 */
function checkAnswer(
  ruleName: string,
  shape: PredictionShape,
  clientId: string,
  predictions: Float32Array,
  weight: number | undefined,
  weightUse: ClientWeightUse,
  alreadyAnswered: boolean,
  coverage: Float32Array | undefined,
  coverageRequired: boolean,
): void {
  if (typeof clientId !== 'string') throw new TypeError(`${ruleName}: clientId must be a string, got ${String(clientId)}`);
  if (alreadyAnswered) {
    throw new AggregationAnswerError('DUPLICATE_CLIENT', `client '${clientId}' already answered (one answer per client and round)`, clientId);
  }
  try {
    validateClientPredictions([predictions], shape);
  } catch (error) {
    if (!(error instanceof AggregationInputError)) throw error;
    throw new AggregationAnswerError(error.code, `client '${clientId}': ${error.message.replace(/^client 0: /, '')}`, clientId);
  }
  if (weight === undefined) {
    if (weightUse === 'required') {
      throw new AggregationAnswerError(
        'BAD_WEIGHTS',
        `client '${clientId}': the '${ruleName}' rule needs a weight (sample count) with every answer; got none`,
        clientId,
      );
    }
  } else if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new AggregationAnswerError('BAD_WEIGHTS', `client '${clientId}': weight must be a positive finite number, got ${String(weight)}`, clientId);
  }
  if (coverage === undefined) {
    if (coverageRequired) {
      throw new AggregationAnswerError(
        'BAD_COVERAGE',
        `client '${clientId}': the '${ruleName}' rule needs the client's coverage weights (one per input) with every answer; got none`,
        clientId,
      );
    }
    return;
  }
  const problem = coverageProblem(coverage, shape.n);
  if (problem) throw new AggregationAnswerError('BAD_COVERAGE', `client '${clientId}': ${problem}`, clientId);
}
