import { describe, expect, it } from 'vitest';

import { AggregationRuleSpec, createAggregationRule, parseAggregationRuleSpec } from './create-aggregation-rule';
import { EntropyWeightedRule } from './entropy-weighted-rule';
import { MeanRule } from './mean-rule';
import { MedianRule } from './median-rule';
import { TrimmedMeanRule } from './trimmed-mean-rule';
import { WeightedMeanRule } from './weighted-mean-rule';

const KNOWN = 'known: mean, weighted, entropy-weighted, median, trimmed-mean, reputation, selective';

describe('createAggregationRule', () => {
  it('builds each rule from a config object, and says which need individual predictions', () => {
    const cases: [AggregationRuleSpec, unknown, boolean][] = [
      [{ name: 'mean' }, MeanRule, false],
      [{ name: 'weighted' }, WeightedMeanRule, false],
      [{ name: 'entropy-weighted' }, EntropyWeightedRule, true],
      [{ name: 'median' }, MedianRule, true],
      [{ name: 'trimmed-mean', beta: 0.2 }, TrimmedMeanRule, true],
    ];
    for (const [spec, type, individual] of cases) {
      const rule = createAggregationRule(spec);
      expect(rule).toBeInstanceOf(type);
      expect(rule.name).toBe(spec.name);
      expect(rule.needsIndividualPredictions).toBe(individual);
    }
    expect(createAggregationRule({ name: 'entropy-weighted', sharpenTemperature: 0.5 })).toMatchObject({ sharpenTemperature: 0.5 });
    expect(createAggregationRule({ name: 'entropy-weighted' })).toMatchObject({ sharpenTemperature: 0.1 });
  });

  it("builds from a string 'name' or 'name:value'", () => {
    expect(createAggregationRule('median')).toBeInstanceOf(MedianRule);
    expect(createAggregationRule('trimmed-mean:0.2')).toMatchObject({ name: 'trimmed-mean', beta: 0.2 });
    expect(createAggregationRule('entropy-weighted:0.25')).toMatchObject({ sharpenTemperature: 0.25 });
    expect(parseAggregationRuleSpec(' trimmed-mean : 0.1 ')).toEqual({ name: 'trimmed-mean', beta: 0.1 });
  });

  it('throws on an unknown name, listing the known ones', () => {
    expect(() => createAggregationRule('krum')).toThrow(`unknown aggregation rule 'krum' (${KNOWN})`);
    expect(() => createAggregationRule({ name: 'krum' } as unknown as AggregationRuleSpec)).toThrow(`unknown aggregation rule 'krum' (${KNOWN})`);
    expect(() => createAggregationRule('krum:3')).toThrow(KNOWN);
  });

  it('throws on malformed strings, missing or unexpected parameters and unknown options', () => {
    expect(() => createAggregationRule('trimmed-mean')).toThrow("'trimmed-mean' needs beta: write 'trimmed-mean:0.2'");
    expect(() => createAggregationRule('trimmed-mean:abc')).toThrow("'abc' is not a number");
    expect(() => createAggregationRule('trimmed-mean:')).toThrow("'' is not a number");
    expect(() => createAggregationRule('trimmed-mean:0.7')).toThrow(/beta must be a number in \[0, 0.5\)/);
    expect(() => createAggregationRule('median:3')).toThrow("aggregation rule 'median' takes no parameter, got 'median:3'");
    expect(() => createAggregationRule({ name: 'median', beta: 0.1 } as unknown as AggregationRuleSpec)).toThrow(
      "aggregation rule 'median': unknown option(s) beta (it takes none)",
    );
    expect(() => createAggregationRule({ name: 'trimmed-mean', beta: 0.1, bta: 2 } as unknown as AggregationRuleSpec)).toThrow(
      "unknown option(s) bta (known: beta)",
    );
  });
});

describe('parseAggregationRuleSpec: named options', () => {
  it('reads option=value pairs for any rule, and refuses unknown options, malformed pairs and non-numbers', () => {
    expect(parseAggregationRuleSpec('selective:maxEntropy=0.9,selectorEpochs=10')).toEqual({ name: 'selective', maxEntropy: 0.9, selectorEpochs: 10 });
    expect(parseAggregationRuleSpec('reputation:memory=0.3, tolerance=2')).toEqual({ name: 'reputation', memory: 0.3, tolerance: 2 });
    expect(() => parseAggregationRuleSpec('selective:depth=3')).toThrow("aggregation rule 'selective': unknown option depth (known: maxEntropy, minCoverage, selectorEpochs, oddsScale)");
    expect(() => parseAggregationRuleSpec('mean:x=1')).toThrow("aggregation rule 'mean': unknown option x (it takes none)");
    expect(() => parseAggregationRuleSpec('selective:maxEntropy=0.9,minCoverage')).toThrow("'minCoverage' is not option=value");
    expect(() => parseAggregationRuleSpec('selective:maxEntropy=high')).toThrow("maxEntropy 'high' is not a number");
    // Values are checked at parsing too, as a command line needs.
    expect(() => parseAggregationRuleSpec('selective:2')).toThrow(/selective: maxEntropy must be in \(0, 1\]/);
    expect(() => parseAggregationRuleSpec('trimmed-mean:0.7')).toThrow(/beta/);
  });
});
