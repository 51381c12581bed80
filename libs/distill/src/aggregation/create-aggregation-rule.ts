import { AggregationRule } from './aggregation-rule';
import { EntropyWeightedRule } from './entropy-weighted-rule';
import { MeanRule } from './mean-rule';
import { MedianRule } from './median-rule';
import { ReputationRule } from './reputation-rule';
import { SelectiveRule } from './selective-rule';
import { TrimmedMeanRule } from './trimmed-mean-rule';
import { WeightedMeanRule } from './weighted-mean-rule';

/** An aggregation rule as plain config. */
export type AggregationRuleSpec =
  | { name: 'mean' }
  | { name: 'weighted' }
  | { name: 'entropy-weighted'; sharpenTemperature?: number; confidenceWeighting?: boolean }
  | { name: 'median' }
  | { name: 'trimmed-mean'; beta: number }
  | { name: 'reputation'; memory?: number; tolerance?: number; minimumGap?: number; maximumGap?: number }
  | { name: 'selective'; maxEntropy?: number; minCoverage?: number; selectorEpochs?: number; oddsScale?: number };

export type AggregationRuleName = AggregationRuleSpec['name'];

/** Each rule's options (a key not listed is rejected), and the one a `name:value` string sets. */
const RULES: { readonly [N in AggregationRuleName]: { options: readonly string[]; stringParameter?: string } } = {
  mean: { options: [] },
  weighted: { options: [] },
  'entropy-weighted': { options: ['sharpenTemperature', 'confidenceWeighting'], stringParameter: 'sharpenTemperature' },
  median: { options: [] },
  'trimmed-mean': { options: ['beta'], stringParameter: 'beta' },
  reputation: { options: ['memory', 'tolerance', 'minimumGap', 'maximumGap'], stringParameter: 'memory' },
  selective: { options: ['maxEntropy', 'minCoverage', 'selectorEpochs', 'oddsScale'], stringParameter: 'maxEntropy' },
};

export const AGGREGATION_RULE_NAMES: readonly AggregationRuleName[] = Object.keys(RULES) as AggregationRuleName[];

/**
 * Builds an aggregation rule from config: an object (`{ name: 'trimmed-mean', beta: 0.2 }`) or a
 * string `name` or `name:value` (`'median'`, `'trimmed-mean:0.2'`, `'entropy-weighted:0.1'`, `'reputation:0.5'`;
 * the value is beta for trimmed-mean, sharpenTemperature for entropy-weighted, memory for reputation,
 * maxEntropy for selective: 'selective:0.8'), or named numeric options: 'selective:maxEntropy=0.9,selectorEpochs=10'. Throws naming the
 * problem: an unknown name (listing the known ones), an unknown option, a malformed value.
 */
export function createAggregationRule(spec: AggregationRuleSpec | string): AggregationRule {
  const parsed = typeof spec === 'string' ? parseRuleText(spec) : spec;
  if (typeof parsed !== 'object' || parsed === null) {
    throw new TypeError(`createAggregationRule: expected { name, ...options } or 'name[:value]', got ${String(parsed)}`);
  }
  const name = (parsed as { name?: unknown }).name;
  assertKnownName(name);
  const known = RULES[name].options;
  const unknown = Object.keys(parsed).filter((k) => k !== 'name' && !known.includes(k));
  if (unknown.length > 0) {
    throw new RangeError(
      `aggregation rule '${name}': unknown option(s) ${unknown.join(', ')} (${known.length ? `known: ${known.join(', ')}` : 'it takes none'})`,
    );
  }
  switch (parsed.name) {
    case 'mean':
      return new MeanRule();
    case 'weighted':
      return new WeightedMeanRule();
    case 'entropy-weighted':
      return new EntropyWeightedRule(parsed);
    case 'median':
      return new MedianRule();
    case 'trimmed-mean':
      return new TrimmedMeanRule(parsed);
    case 'reputation':
      return new ReputationRule(parsed);
    case 'selective':
      return new SelectiveRule(parsed);
  }
}

/** 'trimmed-mean:0.2' -> { name: 'trimmed-mean', beta: 0.2 }; 'mean' -> { name: 'mean' }. */
export function parseAggregationRuleSpec(text: string): AggregationRuleSpec {
  const spec = parseRuleText(text);
  // The values too (e.g. a maxEntropy above 1), so that a command line fails at parsing, naming the flag's value.
  createAggregationRule(spec);
  return spec;
}

function parseRuleText(text: string): AggregationRuleSpec {
  const colon = text.indexOf(':');
  const name = (colon < 0 ? text : text.slice(0, colon)).trim();
  assertKnownName(name);
  if (colon < 0) {
    if (name === 'trimmed-mean') throw new RangeError("aggregation rule 'trimmed-mean' needs beta: write 'trimmed-mean:0.2'");
    return { name } as AggregationRuleSpec;
  }
  const parameter = RULES[name].stringParameter;
  const raw = text.slice(colon + 1).trim();
  if (raw.includes('=')) return { name, ...namedOptions(name, raw, text) } as AggregationRuleSpec;
  if (!parameter) throw new RangeError(`aggregation rule '${name}' takes no parameter, got '${text}'`);
  const value = raw === '' ? NaN : Number(raw);
  if (!Number.isFinite(value)) throw new RangeError(`aggregation rule '${name}': '${raw}' is not a number (in '${text}')`);
  return { name, [parameter]: value } as AggregationRuleSpec;
}

/** 'maxEntropy=0.9,selectorEpochs=10' -> { maxEntropy: 0.9, selectorEpochs: 10 }: numbers only, known options only. */
function namedOptions(name: AggregationRuleName, raw: string, text: string): Record<string, number> {
  const known = RULES[name].options;
  const options: Record<string, number> = {};
  for (const pair of raw.split(',')) {
    const [key, value, extra] = pair.split('=').map((v) => v.trim());
    if (!key || value === undefined || extra !== undefined) throw new RangeError(`aggregation rule '${name}': '${pair}' is not option=value (in '${text}')`);
    if (!known.includes(key)) {
      throw new RangeError(`aggregation rule '${name}': unknown option ${key} (${known.length ? `known: ${known.join(', ')}` : 'it takes none'})`);
    }
    const number = value === '' ? NaN : Number(value);
    if (!Number.isFinite(number)) throw new RangeError(`aggregation rule '${name}': ${key} '${value}' is not a number (in '${text}')`);
    options[key] = number;
  }
  return options;
}

function assertKnownName(name: unknown): asserts name is AggregationRuleName {
  if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(RULES, name)) {
    throw new RangeError(`unknown aggregation rule '${String(name)}' (known: ${AGGREGATION_RULE_NAMES.join(', ')})`);
  }
}
