import { describe, expect, it } from 'vitest';

import { SeededRng } from '@fedkd/engine';

import { AggregationAnswerError, AggregationAnswerErrorCode, DEFAULT_MAX_HELD_ANSWERS, FIXED_POINT_SCALE } from './aggregation-accumulator';
import { AggregationAccumulatorOptions, AggregationRule, PredictionShape } from './aggregation-rule';
import { AggregationRuleSpec, createAggregationRule } from './create-aggregation-rule';
import { EntropyWeightedRule } from './entropy-weighted-rule';
import { MedianRule } from './median-rule';
import { WeightedMeanRule } from './weighted-mean-rule';

/** fedkd's seeded generator as a function, so that every run sees the same "random" answers. */
function seededRandom(seed: number): () => number {
  const rng = new SeededRng(seed);
  return () => rng.uniform();
}

/** n rows of softmax(random logits in [0, spread)), as a client's float32 answer. */
function randomSoftmaxRows(random: () => number, { n, classes }: PredictionShape, spread = 6): Float32Array {
  const out = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    const e = Array.from({ length: classes }, () => Math.exp(random() * spread));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, c) => (out[i * classes + c] = v / sum));
  }
  return out;
}

function shuffled<T>(random: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const bytesOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const maxAbsDifference = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - b[j]));
  return worst;
};

interface Answer {
  clientId: string;
  predictions: Float32Array;
  weight: number;
}

function randomAnswers(seed: number, clients: number, shape: PredictionShape): Answer[] {
  const random = seededRandom(seed);
  return Array.from({ length: clients }, (_, k) => ({
    clientId: `client-${k}`,
    predictions: randomSoftmaxRows(random, shape),
    weight: 100 + Math.floor(random() * 4901), // sample counts 100..5000
  }));
}

function accumulate(rule: AggregationRule, shape: PredictionShape, answers: readonly Answer[], options?: AggregationAccumulatorOptions): Float32Array {
  const accumulator = rule.accumulator(shape, options);
  for (const a of answers) accumulator.add(a.clientId, a.predictions, a.weight);
  return accumulator.result();
}

/* Straightforward float64 references: the rules as they were written before the accumulators. */

function normalisedRow(row: number[]): number[] {
  const sum = row.reduce((a, b) => a + b, 0);
  return row.map((v) => v / sum);
}

function rowOf(p: Float32Array, i: number, classes: number): number[] {
  return Array.from(p.subarray(i * classes, (i + 1) * classes));
}

function referenceWeightedMean(predictions: readonly Float32Array[], { n, classes }: PredictionShape, weights: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(classes).fill(0);
    predictions.forEach((p, k) => rowOf(p, i, classes).forEach((v, c) => (row[c] += weights[k] * v)));
    out.push(...normalisedRow(row));
  }
  return out;
}

function referenceEntropyWeighted(
  predictions: readonly Float32Array[],
  { n, classes }: PredictionShape,
  weights: readonly number[],
  temperature: number,
  confidenceWeighting: boolean,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const rows = predictions.map((p) => rowOf(p, i, classes));
    let w = rows.map((r, k) => {
      const entropy = r.reduce((h, v) => (v > 0 ? h - v * Math.log(v) : h), 0);
      const confidence = confidenceWeighting ? Math.min(Math.max(1 - entropy / Math.log(classes), 0), 1) : 1;
      return confidence * weights[k];
    });
    if (!(w.reduce((a, b) => a + b, 0) > 0)) w = [...weights];
    const average = normalisedRow(Array.from({ length: classes }, (_, c) => rows.reduce((s, r, k) => s + w[k] * r[c], 0)));
    const top = Math.max(...average);
    out.push(...normalisedRow(average.map((v) => Math.exp((v - top) / temperature))));
  }
  return out;
}

function referenceCoordinatewise(
  predictions: readonly Float32Array[],
  { n, classes }: PredictionShape,
  combine: (sorted: number[]) => number,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: classes }, (_, c) => combine(predictions.map((p) => p[i * classes + c]).sort((a, b) => a - b)));
    out.push(...normalisedRow(row));
  }
  return out;
}

const referenceMedian = (sorted: number[]): number => {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const referenceTrimmedMean =
  (beta: number) =>
  (sorted: number[]): number => {
    const trim = Math.floor(beta * sorted.length + 1e-9);
    const kept = sorted.slice(trim, sorted.length - trim);
    return kept.reduce((a, b) => a + b, 0) / kept.length;
  };

const FIVE_RULES: AggregationRuleSpec[] = [
  { name: 'mean' },
  { name: 'weighted' },
  { name: 'entropy-weighted' },
  { name: 'median' },
  { name: 'trimmed-mean', beta: 0.2 },
];

describe('aggregation accumulators', () => {
  describe('order of arrival', () => {
    const shape = { n: 40, classes: 10 };
    const answers = randomAnswers(11, 41, shape);
    const orders = Array.from({ length: 5 }, (_, s) => shuffled(seededRandom(100 + s), answers));

    for (const spec of FIVE_RULES) {
      it(`${spec.name}: the same answers added in 5 shuffled orders give bit-identical results`, () => {
        const rule = createAggregationRule(spec);
        const results = orders.map((order) => accumulate(rule, shape, order, { weightScale: 5000 }));
        for (const r of results.slice(1)) expect(bytesOf(r)).toEqual(bytesOf(results[0]));
      });
    }

    it('mean and weighted: answers on which a plain float64 running sum gives two different results by order give one', () => {
      // 8 answers whose class-0 sum is 4 + 2^-22 (a mean of 0.5 + 2^-25: halfway between the float32
      // values 0.5 and 0.5 + 2^-24) plus three 2^-51s. Summed first, the 2^-51s survive and the mean
      // rounds up; added to a partial sum near 4 each is lost and the mean rounds to even (0.5).
      const t = 2 ** -51;
      const answers = [[1, 0], [1, 0], [1, 0], [0.5 + 2 ** -22, 0.5 - 2 ** -22], [0.5, 0.5], [t, 1], [t, 1], [t, 1]].map((row, k) => ({
        clientId: `c${k}`,
        predictions: new Float32Array(row),
        weight: 1,
      }));
      const tiny = { n: 1, classes: 2 };
      const float64RunningMean = (order: readonly Answer[]): Float32Array => {
        const sums = new Float64Array(2);
        for (const a of order) a.predictions.forEach((v, c) => (sums[c] += v));
        return Float32Array.from(sums, (v) => v / (sums[0] + sums[1]));
      };
      const reversed = [...answers].reverse();
      expect(float64RunningMean(answers)[0]).toBe(0.5);
      expect(float64RunningMean(reversed)[0]).toBe(0.5 + 2 ** -24);
      for (const rule of [createAggregationRule('mean'), createAggregationRule('weighted')]) {
        expect(bytesOf(accumulate(rule, tiny, reversed))).toEqual(bytesOf(accumulate(rule, tiny, answers)));
      }
    });

    it('(control) a float32 running sum of the same answers does depend on the order, so the check above can fail', () => {
      const naiveMeans = orders.map((order) => {
        const sums = new Float32Array(shape.n * shape.classes);
        for (const a of order) for (let j = 0; j < sums.length; j++) sums[j] += a.predictions[j];
        return sums;
      });
      expect(naiveMeans.slice(1).some((r) => !bytesOf(r).every((b, j) => b === bytesOf(naiveMeans[0])[j]))).toBe(true);
    });

    it('batch aggregate() is the accumulator: bit-identical to adding the answers in any order', () => {
      const weights = answers.map((a) => a.weight);
      const weightScale = Math.max(...weights);
      for (const spec of FIVE_RULES) {
        const rule = createAggregationRule(spec);
        const batch = rule.aggregate(
          answers.map((a) => a.predictions),
          shape,
          weights,
        );
        expect(bytesOf(accumulate(rule, shape, orders[3], { weightScale }))).toEqual(bytesOf(batch));
      }
    });
  });

  describe('memory', () => {
    const shape = { n: 5, classes: 4 };
    const answers = randomAnswers(3, 200, shape);

    it('mean, weighted and entropy-weighted hold no matrix after 200 answers (running sums only)', () => {
      for (const name of ['mean', 'weighted', 'entropy-weighted'] as const) {
        const accumulator = createAggregationRule(name).accumulator(shape, { weightScale: 5000 });
        for (const a of answers) accumulator.add(a.clientId, a.predictions, a.weight);
        expect(accumulator.count).toBe(200);
        expect(accumulator.heldMatrices).toBe(0);
      }
    });

    it('median and trimmed-mean hold every answer: 200 after 200', () => {
      for (const rule of [new MedianRule(), createAggregationRule('trimmed-mean:0.1')]) {
        const accumulator = rule.accumulator(shape);
        for (const a of answers) accumulator.add(a.clientId, a.predictions, a.weight);
        expect(accumulator.count).toBe(200);
        expect(accumulator.heldMatrices).toBe(200);
      }
    });

    it('median with maxHeldAnswers 10 refuses the 11th answer, saying why and what to do', () => {
      const accumulator = new MedianRule().accumulator(shape, { maxHeldAnswers: 10 });
      for (const a of answers.slice(0, 10)) accumulator.add(a.clientId, a.predictions);
      const error = caught(() => accumulator.add('client-10', answers[10].predictions));
      expect(error.code).toBe('HELD_ANSWERS_CAP');
      expect(error.clientId).toBe('client-10');
      expect(error.message).toMatch(/client 'client-10'/);
      expect(error.message).toMatch(/'median' rule needs every answer in memory/);
      expect(error.message).toMatch(/n x C x 4 = 5 x 4 x 4 = 80 bytes per answer/);
      expect(error.message).toMatch(/use mean, weighted or entropy-weighted/);
      expect(error.message).toMatch(/raise maxHeldAnswers/);
      expect(accumulator.count).toBe(10);
    });

    it(`holds at most ${DEFAULT_MAX_HELD_ANSWERS} answers by default`, () => {
      const tiny = { n: 1, classes: 2 };
      const accumulator = createAggregationRule('trimmed-mean:0.1').accumulator(tiny);
      const answer = new Float32Array([0.25, 0.75]);
      for (let k = 0; k < DEFAULT_MAX_HELD_ANSWERS; k++) accumulator.add(`c${k}`, answer);
      expect(() => accumulator.add('one-too-many', answer)).toThrow(/needs every answer in memory/);
    });
  });

  describe('agreement with a direct float64 reference (k = 7, n = 50, C = 10, weights 100..5000)', () => {
    const shape = { n: 50, classes: 10 };
    const answers = randomAnswers(7, 7, shape);
    const predictions = answers.map((a) => a.predictions);
    const weights = answers.map((a) => a.weight);
    const ones = weights.map(() => 1);
    const weightScale = Math.max(...weights);
    const cases: [string, AggregationRule, number[], boolean][] = [
      ['mean', createAggregationRule('mean'), referenceWeightedMean(predictions, shape, ones), false],
      ['weighted', createAggregationRule('weighted'), referenceWeightedMean(predictions, shape, weights), true],
      ['entropy-weighted', new EntropyWeightedRule(), referenceEntropyWeighted(predictions, shape, ones, 0.1, true), false],
      ['entropy-weighted with client weights', new EntropyWeightedRule(), referenceEntropyWeighted(predictions, shape, weights, 0.1, true), true],
      [
        'entropy-weighted without confidence weighting (DS-FL ERA)',
        new EntropyWeightedRule({ confidenceWeighting: false, sharpenTemperature: 0.25 }),
        referenceEntropyWeighted(predictions, shape, ones, 0.25, false),
        false,
      ],
      ['median', createAggregationRule('median'), referenceCoordinatewise(predictions, shape, referenceMedian), false],
      ['trimmed-mean', createAggregationRule('trimmed-mean:0.2'), referenceCoordinatewise(predictions, shape, referenceTrimmedMean(0.2)), false],
    ];

    for (const [title, rule, reference, withWeights] of cases) {
      it(`${title}: accumulator and aggregate() within 1e-6 of the reference`, () => {
        const accumulator = rule.accumulator(shape, { weightScale });
        for (const a of shuffled(seededRandom(5), answers)) accumulator.add(a.clientId, a.predictions, withWeights ? a.weight : undefined);
        expect(maxAbsDifference(accumulator.result(), reference)).toBeLessThan(1e-6);
        expect(maxAbsDifference(rule.aggregate(predictions, shape, withWeights ? weights : undefined), reference)).toBeLessThan(1e-6);
      });
    }
  });

  describe('entropy-weighted', () => {
    it('falls back to the client weights on rows where every client is uniform (every confidence rounds to 0)', () => {
      // Row 0: both clients exactly uniform. Row 1: both within 2^-19 of uniform, so their
      // confidences (about 2 d^2 / ln 2 < 1e-11) round to 0 at the 2^-32 fixed point: the row is
      // averaged with the client weights 3 and 1, as if every client were uniform. Row 2: client A
      // is sure, client B uniform: B's confidence is 0, so A alone makes the average.
      const d = 2 ** -20;
      const shape = { n: 3, classes: 2 };
      const a = new Float32Array([0.5, 0.5, 0.5 + d, 0.5 - d, 0.9, 0.1]);
      const b = new Float32Array([0.5, 0.5, 0.5 - 2 * d, 0.5 + 2 * d, 0.5, 0.5]);
      const accumulator = new EntropyWeightedRule({ sharpenTemperature: 0.1 }).accumulator(shape, { weightScale: 3 });
      accumulator.add('b', b, 1);
      accumulator.add('a', a, 3);
      const out = accumulator.result();
      const era = (p0: number): number => 1 / (1 + Math.exp(-(p0 - (1 - p0)) / 0.1)); // softmax([p0, 1 - p0] / 0.1)[0]
      expect(out[0]).toBe(0.5);
      expect(out[1]).toBe(0.5);
      // client weights: (3 (0.5 + d) + (0.5 - 2d)) / 4 = 0.5 + d / 4; equal weights would give 0.5 - d / 2,
      // confidence weights (B 4x as confident as A, times 1 vs 3) 0.5 - 5d / 7.
      expect(out[2]).toBeCloseTo(era(0.5 + d / 4), 7);
      expect(out[2]).toBeGreaterThan(0.5);
      expect(out[4]).toBeCloseTo(era(0.9), 6);
    });
  });

  describe('entropy-weighted client weights', () => {
    it('are all or none within a round: an answer that breaks the pattern is refused', () => {
      const shape = { n: 1, classes: 2 };
      const weighted = new EntropyWeightedRule().accumulator(shape, { weightScale: 10 });
      weighted.add('a', new Float32Array([0.9, 0.1]), 10);
      expectRefused(() => weighted.add('b', new Float32Array([0.2, 0.8])), 'BAD_WEIGHTS', /client 'b': sent no weight, but earlier answers/, 'b');
      const unweighted = new EntropyWeightedRule().accumulator(shape);
      unweighted.add('a', new Float32Array([0.9, 0.1]));
      expectRefused(() => unweighted.add('b', new Float32Array([0.2, 0.8]), 3), 'BAD_WEIGHTS', /client 'b': sent a weight, but earlier answers/, 'b');
    });
  });

  describe('bad answers', () => {
    const shape = { n: 2, classes: 3 };
    const good = new Float32Array([0.2, 0.3, 0.5, 1, 0, 0]);
    const bad: [string, Float32Array, AggregationAnswerErrorCode, RegExp][] = [
      ['wrong length', new Float32Array([1, 0, 0]), 'LENGTH_MISMATCH', /client 'alice': expected n\*C = 2\*3 = 6 values, got 3/],
      ['not a Float32Array', [0.2, 0.3, 0.5, 1, 0, 0] as unknown as Float32Array, 'LENGTH_MISMATCH', /client 'alice': predictions must be a Float32Array/],
      ['NaN', new Float32Array([0.2, 0.3, 0.5, NaN, 0, 1]), 'NOT_FINITE', /client 'alice': row 1, class 0 is NaN/],
      ['negative', new Float32Array([1.1, -0.1, 0, 1, 0, 0]), 'NEGATIVE', /client 'alice': row 0, class 1 is negative/],
      ['row not summing to 1', new Float32Array([0.2, 0.3, 0.49, 1, 0, 0]), 'ROW_SUM', /client 'alice': row 0 sums to 0.99.* not 1 within 0.001/],
    ];

    for (const spec of FIVE_RULES) {
      it(`${spec.name}: a malformed matrix, a bad weight or a second answer throws a RangeError naming the client and changes nothing`, () => {
        const rule = createAggregationRule(spec);
        const accumulator = rule.accumulator(shape, { weightScale: 2 }); // as aggregate() picks: the largest weight
        accumulator.add('bob', good, 2);
        for (const [, predictions, code, message] of bad) expectRefused(() => accumulator.add('alice', predictions, 1), code, message);
        for (const weight of [0, -1, NaN, Infinity]) {
          expectRefused(() => accumulator.add('alice', good, weight), 'BAD_WEIGHTS', /client 'alice': weight must be a positive finite number/);
        }
        expectRefused(() => accumulator.add('bob', good, 2), 'DUPLICATE_CLIENT', /client 'bob' already answered/, 'bob');
        expect(accumulator.count).toBe(1);
        accumulator.add('alice', new Float32Array([0.5, 0.5, 0, 0, 1, 0]), 1);
        expect(accumulator.count).toBe(2);
        expect(bytesOf(accumulator.result())).toEqual(
          bytesOf(rule.aggregate([good, new Float32Array([0.5, 0.5, 0, 0, 1, 0])], shape, [2, 1])),
        );
      });
    }

    it("weighted: an answer without a weight (sample count) is refused, naming the client", () => {
      const accumulator = new WeightedMeanRule().accumulator(shape);
      expectRefused(() => accumulator.add('carol', good), 'BAD_WEIGHTS', /client 'carol': the 'weighted' rule needs a weight \(sample count\)/, 'carol');
    });

    it('result() with no answer throws', () => {
      for (const spec of FIVE_RULES) expect(() => createAggregationRule(spec).accumulator(shape).result()).toThrow(/zero clients/);
    });

    it('rejects a bad shape, weightScale or maxHeldAnswers when the accumulator is made', () => {
      const rule = createAggregationRule('median');
      expect(() => rule.accumulator({ n: 0, classes: 3 })).toThrow(/positive integer n and classes, got n=0/);
      for (const weightScale of [0, -5, NaN, Infinity]) {
        expect(() => createAggregationRule('weighted').accumulator(shape, { weightScale })).toThrow(/weightScale must be a positive finite number/);
      }
      for (const maxHeldAnswers of [0, 1.5, NaN]) expect(() => rule.accumulator(shape, { maxHeldAnswers })).toThrow(/maxHeldAnswers must be a positive integer/);
    });
  });

  describe('exactness', () => {
    const shape = { n: 2, classes: 3 };
    const p = new Float32Array([0.2, 0.3, 0.5, 1, 0, 0]);

    it('refuses an answer that could push a running sum past 2^53 (where sums stop being exact), suggesting weightScale', () => {
      const accumulator = new WeightedMeanRule().accumulator(shape); // weightScale 1: terms up to 2^20
      accumulator.add('a', p, 2 ** 20);
      expectRefused(() => accumulator.add('b', p, 2 ** 20), 'SUM_NOT_EXACT', /past 2\^53.*weightScale/, 'b');
      const scaled = new WeightedMeanRule().accumulator(shape, { weightScale: 2 ** 20 });
      scaled.add('a', p, 2 ** 20);
      expect(() => scaled.add('b', p, 2 ** 20)).not.toThrow();
    });

    it('rounds every term to 2^-32: a probability below 2^-33 adds nothing', () => {
      const tiny = 2 ** -34;
      const accumulator = createAggregationRule('mean').accumulator({ n: 1, classes: 2 });
      accumulator.add('a', new Float32Array([tiny, 1 - tiny]));
      expect(Array.from(accumulator.result())).toEqual([0, 1]);
      expect(FIXED_POINT_SCALE).toBe(2 ** 32);
    });

    it('weighted: weightScale 1, 1000 and 5000 give results within 1e-6 of each other', () => {
      const shape50 = { n: 50, classes: 10 };
      const answers = randomAnswers(23, 7, shape50);
      const [one, thousand, fiveThousand] = [1, 1000, 5000].map((weightScale) => accumulate(new WeightedMeanRule(), shape50, answers, { weightScale }));
      expect(maxAbsDifference(one, thousand)).toBeLessThan(1e-6);
      expect(maxAbsDifference(one, fiveThousand)).toBeLessThan(1e-6);
    });
  });
});

function caught(f: () => unknown): AggregationAnswerError {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(AggregationAnswerError);
    expect(error).toBeInstanceOf(RangeError);
    return error as AggregationAnswerError;
  }
  throw new Error('expected an AggregationAnswerError, nothing was thrown');
}

function expectRefused(f: () => unknown, code: AggregationAnswerErrorCode, message: RegExp, clientId = 'alice'): void {
  const error = caught(f);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
  expect(error.clientId).toBe(clientId);
}
