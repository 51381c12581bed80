import { describe, expect, it } from 'vitest';
import { SeededRng } from '@fedkd/engine';
import { flipLabels, uniformRows } from '../robustness/attacks';
import { MedianRule } from './median-rule';
import { ClientAgreement } from './aggregation-rule';
import { createAggregationRule } from './create-aggregation-rule';
import { MeanRule } from './mean-rule';
import { aggregateByReputation, flaggingBar, REPUTATION_DEFAULTS, ReputationRule } from './reputation-rule';

const C = 10;
const N = 300;
const shape = { n: N, classes: C };
const labels = Array.from({ length: N }, (_, i) => i % C);

/**
 * A skewed (non-iid) honest client: it saw only `seen` classes. On an input of a seen class it
 * is right with some confidence; on an unseen class it confidently answers one of its own classes,
 * as real teachers do (they never learned the other classes).
 */
function skewedClient(seen: number[], seed: number): Float32Array {
  const rng = new SeededRng(seed);
  const out = new Float32Array(N * C);
  labels.forEach((label, i) => {
    const answer = seen.includes(label) ? label : seen[rng.int(seen.length)];
    const confidence = 0.55 + 0.35 * rng.uniform();
    for (let c = 0; c < C; c++) out[i * C + c] = (1 - confidence) / (C - 1);
    out[i * C + answer] = confidence;
  });
  return out;
}

/** Five honest clients of a skewed federation: 9, 8, 7, 6 and 5 classes seen. */
const honest = [
  skewedClient([0, 1, 2, 3, 4, 5, 6, 7, 8], 1),
  skewedClient([1, 2, 3, 4, 5, 6, 7, 8, 9], 2),
  skewedClient([0, 2, 3, 4, 5, 6, 8, 9], 3),
  skewedClient([0, 1, 3, 5, 7, 8, 9], 4),
  skewedClient([0, 1, 2, 4, 6, 9], 5),
];
const ids = (k: number) => Array.from({ length: k }, (_, i) => `client-${i}`);
const argmaxAccuracy = (target: Float32Array) =>
  labels.filter((label, i) => {
    const row = Array.from(target.subarray(i * C, (i + 1) * C));
    return row.indexOf(Math.max(...row)) === label;
  }).length / N;

/** Mean over rows of the L1 distance between two targets. */
const meanRowDistance = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, j) => sum + Math.abs(v - b[j]), 0) / N;

function round(answers: Float32Array[], priors: Map<string, number>, order?: number[]): { target: Float32Array; agreements: readonly ClientAgreement[] } {
  const accumulator = new ReputationRule().accumulator(shape, { priorReputations: priors });
  for (const k of order ?? answers.map((_, k) => k)) accumulator.add(`client-${k}`, answers[k]);
  const target = accumulator.result();
  return { target, agreements: accumulator.agreements!() };
}

describe('reputation rule', () => {
  it('flags no honest client of a skewed federation, and then is exactly the mean', () => {
    const { target, agreements } = round(honest, new Map());
    expect(agreements.filter((a) => a.flagged)).toEqual([]);
    expect(Array.from(target)).toEqual(Array.from(new MeanRule().aggregate(honest, shape)));
  });

  it('flags two flipping attackers of seven in the first round and keeps the target as accurate as the honest mean', () => {
    const attackers = [flipLabels(honest[0], shape), flipLabels(honest[3], shape)];
    const { target, agreements } = round([...honest, ...attackers], new Map());
    expect(agreements.filter((a) => a.flagged).map((a) => a.clientId)).toEqual(['client-5', 'client-6']);
    expect(agreements.find((a) => a.clientId === 'client-5')!.weight).toBe(0);
    const honestMean = new MeanRule().aggregate(honest, shape);
    expect(argmaxAccuracy(target)).toBe(argmaxAccuracy(honestMean));
    // Per row, the target is the honest mean; the plain mean of all seven moves 2/7 of its mass.
    expect(meanRowDistance(target, honestMean)).toBeLessThan(1e-6);
    expect(meanRowDistance(new MeanRule().aggregate([...honest, ...attackers], shape), honestMean)).toBeGreaterThan(0.3);
  });

  it('flags an identical block of three in seven (sybils) that a coordinate-wise median of all would adopt', () => {
    const block = uniformRows(honest[0], shape);
    const answers = [...honest.slice(0, 4), block, block, block];
    const medianOfAll = new MedianRule().aggregate(answers, shape);
    // The block sits amid the honest clients' spread: the plain median mostly follows it.
    expect(meanRowDistance(medianOfAll, block)).toBeLessThan(meanRowDistance(medianOfAll, new MeanRule().aggregate(honest.slice(0, 4), shape)));
    const { agreements } = round(answers, new Map());
    expect(agreements.filter((a) => a.flagged).map((a) => a.clientId)).toEqual(['client-4', 'client-5', 'client-6']);
  });

  it('loses a client that turns: its reputation falls round after round until it is flagged, carried by the priors', () => {
    let priors = new Map<string, number>();
    const history: ClientAgreement[] = [];
    for (let r = 1; r <= 5; r++) {
      // client-5 answers honestly (a copy of client 1's answer) for two rounds, then flips it.
      const turncoat = r <= 2 ? honest[1] : flipLabels(honest[1], shape);
      const { agreements } = round([...honest, turncoat], priors);
      history.push(agreements.find((a) => a.clientId === 'client-5')!);
      priors = new Map(agreements.map((a) => [a.clientId, a.reputation]));
    }
    expect(history.slice(0, 2).every((h) => !h.flagged)).toBe(true);
    for (let r = 2; r < 5; r++) expect(history[r].reputation).toBeLessThan(history[r - 1].reputation);
    // Round 3 halves a high reputation only once: the turn shows, and the next rounds confirm it.
    expect(history[4].flagged).toBe(true);
    expect(history[4].reputation).toBeLessThan(history[2].reputation);
  });

  it('gives the same target and evidence in any order of arrival', () => {
    const answers = [...honest, flipLabels(honest[2], shape)];
    const priors = new Map([['client-1', 0.9], ['client-5', 0.4]]);
    const a = round(answers, priors);
    const b = round(answers, priors, [5, 2, 0, 4, 1, 3]);
    expect(Array.from(b.target)).toEqual(Array.from(a.target));
    expect(b.agreements).toEqual(a.agreements);
  });

  it('gives the same target bit for bit whatever the ids (so whatever order the answers are summed in)', () => {
    const answers = [...honest, flipLabels(honest[2], shape)];
    const forward = aggregateByReputation(answers, ids(6), shape, new Map()).target;
    const reversed = aggregateByReputation([...answers].reverse(), ids(6), shape, new Map()).target;
    expect(Array.from(reversed)).toEqual(Array.from(forward));
  });

  it('flags nobody below three answers, and at most fewer than half the clients', () => {
    expect(flaggingBar([0.9, 0.1])).toBe(-Infinity);
    const evidence = aggregateByReputation(honest.slice(0, 2), ids(2), shape, new Map()).clients;
    expect(evidence.every((e) => !e.flagged)).toBe(true);
    const bar = flaggingBar([0.1, 0.2, 0.8, 0.85, 0.9]);
    expect(bar).toBeGreaterThan(0.2);
    expect(bar).toBeCloseTo(0.8 - REPUTATION_DEFAULTS.maximumGap, 10);
  });

  it('is refused by secure aggregation (it needs every answer) and reports its agreements only after result()', () => {
    const rule = createAggregationRule('reputation');
    expect(rule.needsIndividualPredictions).toBe(true);
    const accumulator = rule.accumulator(shape);
    accumulator.add('a', honest[0]);
    expect(() => accumulator.agreements!()).toThrow(/once result\(\) has run/);
  });

  it('names a bad option', () => {
    expect(() => createAggregationRule({ name: 'reputation', memory: 1 })).toThrow('reputation: memory must be a number in [0, 1), got 1');
    expect(() => createAggregationRule('reputation:0.25')).not.toThrow();
    expect(() => createAggregationRule({ name: 'reputation', minimumGap: 0.3, maximumGap: 0.2 })).toThrow(/maximumGap must be a number in \[minimumGap \(0.3\), 1\]/);
  });
});
