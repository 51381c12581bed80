import { describe, expect, it } from 'vitest';

import { AggregationRuleSpec, createAggregationRule } from './create-aggregation-rule';
import { AggregationInputError, AggregationInputErrorCode, validateClientPredictions } from './validate-predictions';

const rows = (...r: number[][]): Float32Array => new Float32Array(r.flat());
const SHAPE = { n: 2, classes: 3 };
const GOOD = rows([0.2, 0.3, 0.5], [1, 0, 0]);

/** Runs `f` and returns the AggregationInputError it throws. */
function caught(f: () => unknown): AggregationInputError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(AggregationInputError);
    return e as AggregationInputError;
  }
  throw new Error('expected an AggregationInputError, nothing was thrown');
}

function expectRejected(f: () => unknown, code: AggregationInputErrorCode, message: RegExp, clientIndex?: number): void {
  const error = caught(f);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
  expect(error.clientIndex).toBe(clientIndex);
}

describe('validateClientPredictions', () => {
  it('accepts k well-formed [n x C] probability matrices, with or without one positive weight per client', () => {
    expect(() => validateClientPredictions([GOOD, GOOD], SHAPE)).not.toThrow();
    expect(() => validateClientPredictions([GOOD, GOOD], SHAPE, [10, 0.5])).not.toThrow();
  });

  it('rejects zero clients', () => {
    expectRejected(() => validateClientPredictions([], SHAPE), 'NO_CLIENTS', /zero clients/);
  });

  it('rejects a shape without positive integer n and classes', () => {
    expectRejected(() => validateClientPredictions([GOOD], { n: 0, classes: 3 }), 'BAD_SHAPE', /n=0, classes=3/);
    expectRejected(() => validateClientPredictions([GOOD], { n: 2, classes: 1.5 }), 'BAD_SHAPE', /classes=1.5/);
  });

  it('rejects a client whose length is not n*C, naming the client', () => {
    expectRejected(() => validateClientPredictions([GOOD, rows([1, 0, 0])], SHAPE), 'LENGTH_MISMATCH', /client 1: expected n\*C = 2\*3 = 6 values, got 3/, 1);
    expectRejected(
      () => validateClientPredictions([[0.2, 0.3, 0.5, 1, 0, 0] as unknown as Float32Array], SHAPE),
      'LENGTH_MISMATCH',
      /client 0: predictions must be a Float32Array/,
      0,
    );
  });

  it('rejects NaN and Infinity, naming client, row and class', () => {
    expectRejected(() => validateClientPredictions([GOOD, rows([0.2, 0.3, 0.5], [NaN, 0, 0])], SHAPE), 'NOT_FINITE', /client 1: row 1, class 0 is NaN/, 1);
    expectRejected(() => validateClientPredictions([rows([Infinity, 0, 0], [1, 0, 0])], SHAPE), 'NOT_FINITE', /row 0, class 0 is Infinity/, 0);
  });

  it('rejects negative values', () => {
    expectRejected(() => validateClientPredictions([rows([1.1, -0.1, 0], [1, 0, 0])], SHAPE), 'NEGATIVE', /row 0, class 1 is negative/, 0);
  });

  it('rejects rows that do not sum to 1 within 1e-3, and accepts float16-sized rounding', () => {
    expectRejected(() => validateClientPredictions([rows([0.2, 0.3, 0.49], [1, 0, 0])], SHAPE), 'ROW_SUM', /row 0 sums to 0.99.* not 1 within 0.001/, 0);
    expectRejected(() => validateClientPredictions([rows([0.2, 0.3, 0.5], [0, 0, 0])], SHAPE), 'ROW_SUM', /row 1 sums to 0/, 0);
    // float16 rounds each entry by at most 2^-11 of itself, so a row is off by at most ~4.9e-4.
    expect(() => validateClientPredictions([rows([0.2001, 0.3001, 0.5003], [0.9995, 0, 0])], SHAPE)).not.toThrow();
  });

  it('rejects weights that are not one positive finite number per client', () => {
    expectRejected(() => validateClientPredictions([GOOD, GOOD], SHAPE, [1]), 'BAD_WEIGHTS', /one weight per client \(2\), got 1/);
    expectRejected(() => validateClientPredictions([GOOD, GOOD], SHAPE, [1, 0]), 'BAD_WEIGHTS', /client 1: weight must be a positive finite number, got 0/, 1);
    expectRejected(() => validateClientPredictions([GOOD, GOOD], SHAPE, [-3, 1]), 'BAD_WEIGHTS', /got -3/, 0);
    expectRejected(() => validateClientPredictions([GOOD, GOOD], SHAPE, [1, NaN]), 'BAD_WEIGHTS', /got NaN/, 1);
    expectRejected(() => validateClientPredictions([GOOD, GOOD], SHAPE, [Infinity, 1]), 'BAD_WEIGHTS', /got Infinity/, 0);
  });

  it('runs first in every rule', () => {
    const specs: AggregationRuleSpec[] = [
      { name: 'mean' },
      { name: 'weighted' },
      { name: 'entropy-weighted' },
      { name: 'median' },
      { name: 'trimmed-mean', beta: 0.2 },
    ];
    for (const spec of specs) {
      const rule = createAggregationRule(spec);
      expectRejected(() => rule.aggregate([], SHAPE, []), 'NO_CLIENTS', /zero clients/);
      expectRejected(() => rule.aggregate([rows([NaN, 0, 1], [1, 0, 0])], SHAPE, [1]), 'NOT_FINITE', /NaN/, 0);
      expectRejected(() => rule.aggregate([GOOD], SHAPE, [0]), 'BAD_WEIGHTS', /weight must be a positive finite number/, 0);
    }
  });

  it("requires weights for the 'weighted' rule", () => {
    expectRejected(() => createAggregationRule({ name: 'weighted' }).aggregate([GOOD], SHAPE), 'BAD_WEIGHTS', /needs one weight \(sample count\) per client/);
  });
});
