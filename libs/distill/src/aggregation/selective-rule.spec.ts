import { describe, expect, it } from 'vitest';
import { AggregationAnswerError } from './aggregation-accumulator';
import { createAggregationRule } from './create-aggregation-rule';
import { SelectiveRule } from './selective-rule';
import { coverageFromOdds } from '../selection/coverage-selector';

const shape = { n: 3, classes: 2 };
const rows = (...values: number[][]) => Float32Array.from(values.flat());

describe('SelectiveRule', () => {
  it('weights each answer by its coverage: a confident client that never saw the input does not move the target', () => {
    const expert = rows([0.9, 0.1], [0.2, 0.8], [0.6, 0.4]);
    const outsider = rows([0.0, 1.0], [1.0, 0.0], [0.5, 0.5]);
    const target = new SelectiveRule().aggregate([expert, outsider], shape, undefined, [Float32Array.of(1, 1, 0.5), Float32Array.of(0, 0, 0.5)]);
    expect(Array.from(target)).toEqual(Array.from(Float32Array.of(0.9, 0.1, 0.2, 0.8, 0.55, 0.45)));
  });

  it('drops (all-zero rows) the inputs nobody covers and those on which the covering clients disagree', () => {
    const a = rows([1, 0], [1, 0], [0.95, 0.05]);
    const b = rows([0, 1], [0, 1], [0.95, 0.05]);
    const rule = new SelectiveRule({ maxEntropy: 0.9 });
    const accumulator = rule.accumulator(shape);
    accumulator.add('a', a, undefined, Float32Array.of(0, 0.5, 1));
    accumulator.add('b', b, undefined, Float32Array.of(0, 0.5, 1));
    const target = accumulator.result();
    // Row 0: no coverage; row 1: a 50/50 split of two confident clients (entropy log 2 = 1 x log C); row 2: kept.
    expect(Array.from(target.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    expect(target[4]).toBeCloseTo(0.95, 6);
    expect(accumulator.selection!()).toEqual({ rows: 3, kept: 1, uncovered: 1, ambiguous: 1 });
  });

  it('minCoverage drops inputs whose summed coverage is below it', () => {
    const p = rows([1, 0], [1, 0], [1, 0]);
    const accumulator = new SelectiveRule({ minCoverage: 0.3 }).accumulator(shape);
    accumulator.add('a', p, undefined, Float32Array.of(0.1, 0.2, 0.3));
    accumulator.add('b', p, undefined, Float32Array.of(0.1, 0.05, 0.3));
    accumulator.result();
    expect(accumulator.selection!()).toEqual({ rows: 3, kept: 1, uncovered: 2, ambiguous: 0 });
  });

  it('gives the bit-identical target in any order of arrival', () => {
    const answers = Array.from({ length: 5 }, (_, k) => rows([0.1 * k + 0.05, 0.95 - 0.1 * k], [0.3, 0.7], [1 / 3, 2 / 3]));
    const coverage = answers.map((_, k) => Float32Array.of(0.1 + 0.17 * k, 1 / (k + 2), 0.3));
    const forward = new SelectiveRule().accumulator(shape);
    const backward = new SelectiveRule().accumulator(shape);
    answers.forEach((p, k) => forward.add(`c${k}`, p, undefined, coverage[k]));
    [...answers.keys()].reverse().forEach((k) => backward.add(`c${k}`, answers[k], undefined, coverage[k]));
    expect(Buffer.from(forward.result().buffer).equals(Buffer.from(backward.result().buffer))).toBe(true);
  });

  it('refuses an answer without coverage, or with coverage of the wrong length or outside [0, 1], naming the client, and keeps the others', () => {
    const accumulator = new SelectiveRule().accumulator(shape);
    const p = rows([1, 0], [1, 0], [1, 0]);
    const refused = (coverage?: Float32Array) => {
      try {
        accumulator.add('liar', p, undefined, coverage);
      } catch (error) {
        expect(error).toBeInstanceOf(AggregationAnswerError);
        return `${(error as AggregationAnswerError).code}: ${(error as Error).message}`;
      }
      return 'accepted';
    };
    expect(refused()).toMatch(/BAD_COVERAGE: client 'liar': the 'selective' rule needs the client's coverage weights/);
    expect(refused(Float32Array.of(1, 1))).toMatch(/BAD_COVERAGE: client 'liar': coverage has 2 weights, expected one per input \(3\)/);
    expect(refused(Float32Array.of(1, 1.5, 1))).toMatch(/coverage of input 1 is 1.5; coverage weights must be in \[0, 1\]/);
    expect(refused(Float32Array.of(1, NaN, 1))).toMatch(/coverage of input 1 is NaN/);
    expect(accumulator.count).toBe(0);
    accumulator.add('honest', p, undefined, Float32Array.of(1, 1, 1));
    expect(accumulator.count).toBe(1);
  });

  it('is built by name with its options, and refuses bad ones', () => {
    const rule = createAggregationRule('selective:0.8') as SelectiveRule;
    expect([rule.name, rule.maxEntropy, rule.minCoverage, rule.needsCoverage, rule.needsIndividualPredictions]).toEqual(['selective', 0.8, 0, true, false]);
    expect(() => createAggregationRule('selective:1.5')).toThrow(/selective: maxEntropy must be in \(0, 1\]/);
    expect(() => createAggregationRule({ name: 'selective', minCoverage: -1 })).toThrow(/minCoverage must be a finite number >= 0/);
    expect(() => createAggregationRule({ name: 'selective', selectorEpochs: 0 })).toThrow(/selectorEpochs must be an integer in \[1, 100\]/);
    expect((createAggregationRule('selective:oddsScale=1') as SelectiveRule).oddsScale).toBe(1);
    expect(rule.oddsScale).toBe(100);
    expect(() => createAggregationRule('selective:oddsScale=0')).toThrow(/oddsScale must be a number in \(0, 1e6\]/);
  });

  it('the rules that do not select check coverage weights when given and ignore them', () => {
    const p = rows([1, 0], [0, 1], [0.5, 0.5]);
    const mean = createAggregationRule('mean');
    expect(mean.aggregate([p, p], shape, undefined, [Float32Array.of(1, 0, 0), Float32Array.of(0, 0, 1)])).toEqual(mean.aggregate([p, p], shape));
    expect(() => mean.aggregate([p], shape, undefined, [Float32Array.of(2, 0, 0)])).toThrow(/coverage weights must be in \[0, 1\]/);
  });

  it('coverage weights are the odds over the odds scale, capped at 1', () => {
    expect(Array.from(coverageFromOdds([0, 0.5, 1, 50, 100, 1e9]))).toEqual(Array.from(Float32Array.of(0, 0.005, 0.01, 0.5, 1, 1)));
    expect(Array.from(coverageFromOdds([0, 0.5, 1, 50], 1))).toEqual([0, 0.5, 1, 1]);
    expect(() => coverageFromOdds([1], 0)).toThrow(/oddsScale must be a finite number > 0/);
  });
});
