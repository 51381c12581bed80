import { SeededRng } from '@fedkd/engine';
import { describe, expect, it } from 'vitest';

import { clippedSum, clippedSumL2Sensitivity, clipRowsL2 } from './clipping';
import { confidentGnmax, gnmax } from './gnmax';
import type { NormalSource } from './normal-source';
import { projectRowsToSimplex } from './simplex-projection';
import { teacherVotes } from './teacher-votes';

// SeededRng is a NormalSource (compile-time check).
const seeded: NormalSource = new SeededRng(1);
void seeded;

function rowNorm(values: ArrayLike<number>, row: number, classes: number): number {
  let s = 0;
  for (let c = 0; c < classes; c++) s += values[row * classes + c] ** 2;
  return Math.sqrt(s);
}

function randomProbabilities(n: number, classes: number, rng: SeededRng): Float32Array {
  const out = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) out.set(rng.dirichlet(0.3, classes), i * classes);
  return out;
}

describe('teacherVotes', () => {
  it('counts each teacher\'s argmax per query', () => {
    const a = Float32Array.from([0.7, 0.2, 0.1, 0.1, 0.1, 0.8]);
    const b = Float32Array.from([0.1, 0.6, 0.3, 0.2, 0.1, 0.7]);
    const c = Float32Array.from([0.5, 0.4, 0.1, 0.4, 0.4, 0.2]); // row 1 ties: lowest class wins
    expect(Array.from(teacherVotes([a, b, c], 2, 3))).toEqual([2, 1, 0, 1, 0, 2]);
  });

  it('refuses a teacher whose matrix has the wrong size', () => {
    expect(() => teacherVotes([new Float32Array(5)], 2, 3)).toThrow(/teacher 0 has 5 values/);
  });
});

describe('gnmax', () => {
  it('returns the plurality when sigma is tiny', () => {
    const votes = Float64Array.from([5, 3, 2, 0, 1, 9, 4, 4.5, 1.5]);
    expect(Array.from(gnmax(votes, 3, 1e-6, new SeededRng(2)).labels)).toEqual([0, 2, 1]);
  });

  it('with a large sigma it no longer follows the votes', () => {
    const votes = new Float64Array(3 * 1000);
    for (let i = 0; i < 1000; i++) votes.set([3, 2, 1], 3 * i);
    const { labels } = gnmax(votes, 3, 100, new SeededRng(3));
    const counts = [0, 0, 0];
    for (const label of labels) counts[label]! += 1;
    for (const count of counts) expect(count).toBeGreaterThan(250);
  });

  it('refuses a negative or non-finite sigma and non-finite votes', () => {
    expect(() => gnmax(new Float64Array(3), 3, -1, new SeededRng(1))).toThrow(/sigma/);
    expect(() => gnmax(new Float64Array(3), 3, Number.NaN, new SeededRng(1))).toThrow(/sigma/);
    expect(() => gnmax(Float64Array.from([1, Number.NaN, 0]), 3, 1, new SeededRng(1))).toThrow(/finite/);
    expect(() => gnmax(new Float64Array(4), 3, 1, new SeededRng(1))).toThrow(/multiple of 3/);
  });
});

describe('confidentGnmax', () => {
  const parameters = { threshold: 80, sigma1: 1, sigma2: 1 };

  it('abstains when the votes are split and sigma1 is small', () => {
    const votes = new Float64Array(10 * 100);
    for (let i = 0; i < 100; i++) votes.set([35, 33, 32], 10 * i);
    const { answered, labels } = confidentGnmax(votes, 10, parameters, new SeededRng(4));
    expect(answered.every((a) => a === 0)).toBe(true);
    expect(labels.every((l) => l === -1)).toBe(true);
  });

  it('answers unanimous votes with their class', () => {
    const votes = new Float64Array(10 * 100);
    for (let i = 0; i < 100; i++) votes[10 * i + (i % 10)] = 100;
    const { answered, labels } = confidentGnmax(votes, 10, parameters, new SeededRng(5));
    expect(answered.every((a) => a === 1)).toBe(true);
    expect(Array.from(labels)).toEqual(Array.from({ length: 100 }, (_, i) => i % 10));
  });

  it('marks exactly the answered queries and labels only those', () => {
    const votes = Float64Array.from([100, 0, 0, 34, 33, 33, 0, 0, 100]);
    const { answered, labels } = confidentGnmax(votes, 3, parameters, new SeededRng(6));
    expect(Array.from(answered)).toEqual([1, 0, 1]);
    expect(Array.from(labels)).toEqual([0, -1, 2]);
  });
});

describe('clipRowsL2', () => {
  it('brings every row to L2 norm <= clipNorm', () => {
    const rng = new SeededRng(8);
    const p = randomProbabilities(2000, 10, rng);
    for (const clipNorm of [0.1, 0.5, 0.8]) {
      const clipped = clipRowsL2(p, 10, clipNorm);
      for (let i = 0; i < 2000; i++) expect(rowNorm(clipped, i, 10)).toBeLessThanOrEqual(clipNorm);
    }
  });

  it('leaves rows at or below clipNorm unchanged and scales the others along their direction', () => {
    const p = Float32Array.from([0.25, 0.25, 0.25, 0.25, 1, 0, 0, 0, 0.6, 0.3, 0.1, 0]);
    const clipped = clipRowsL2(p, 4, 0.5);
    expect(Array.from(clipped.subarray(0, 4))).toEqual([0.25, 0.25, 0.25, 0.25]); // norm exactly 0.5
    expect(clipped[4]).toBeCloseTo(0.5, 12);
    const scale = clipped[8] / p[8];
    expect(scale).toBeCloseTo(0.5 / rowNorm(p, 2, 4), 12);
    for (let c = 0; c < 4; c++) expect(clipped[8 + c]).toBeCloseTo(p[8 + c] * scale, 12);
    expect(Array.from(p.subarray(0, 4))).toEqual([0.25, 0.25, 0.25, 0.25]); // input untouched
  });

  it('sums the clipped rows of several teachers', () => {
    const a = Float32Array.from([1, 0, 0.5, 0.5]);
    const b = Float32Array.from([0, 1, 0.5, 0.5]);
    const sum = clippedSum([a, b], 2, 2, 0.5);
    expect(sum[0]).toBeCloseTo(0.5, 12);
    expect(sum[1]).toBeCloseTo(0.5, 12);
    expect(sum[2]).toBeCloseTo(2 * 0.5 * Math.SQRT1_2, 12);
  });

  it('states the sensitivity of a row of the clipped sum', () => {
    expect(clippedSumL2Sensitivity(0.5, 'add-remove')).toBe(0.5);
    expect(clippedSumL2Sensitivity(0.5)).toBeCloseTo(0.5 * Math.SQRT2, 15);
    expect(clippedSumL2Sensitivity(3)).toBeCloseTo(Math.SQRT2, 15); // probability rows never exceed norm 1
  });
});

describe('projectRowsToSimplex', () => {
  function expectOnSimplex(x: ArrayLike<number>, classes: number): void {
    for (let i = 0; i < x.length / classes; i++) {
      let sum = 0;
      for (let c = 0; c < classes; c++) {
        expect(x[i * classes + c]).toBeGreaterThanOrEqual(0);
        sum += x[i * classes + c];
      }
      expect(Math.abs(sum - 1)).toBeLessThan(1e-12);
    }
  }

  it('projects hand cases to their nearest simplex points', () => {
    const cases: [number[], number[]][] = [
      [[0.6, 0.6, -0.2], [0.5, 0.5, 0]],
      [[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]], // already on the simplex
      [[2, 0, 0], [1, 0, 0]],
      [[0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]],
      [[1.5, 1, -3], [0.75, 0.25, 0]],
      [[-1, -1, -1], [1 / 3, 1 / 3, 1 / 3]],
    ];
    for (const [input, expected] of cases) {
      const out = projectRowsToSimplex(input, input.length);
      expected.forEach((e, c) => expect(out[c]).toBeCloseTo(e, 12));
    }
  });

  it('returns rows on the simplex that no other sampled simplex point beats', () => {
    const classes = 10;
    const rng = new SeededRng(9);
    const p = randomProbabilities(300, classes, rng);
    const noised = Float64Array.from(p, (v) => v + rng.normal(0, 0.3));
    const projected = projectRowsToSimplex(noised, classes);
    expectOnSimplex(projected, classes);
    for (let i = 0; i < 300; i++) {
      const row = noised.subarray(i * classes, (i + 1) * classes);
      const x = projected.subarray(i * classes, (i + 1) * classes);
      const distance = (y: ArrayLike<number>) => row.reduce((s, v, c) => s + (v - y[c]) ** 2, 0);
      const best = distance(x);
      // Nearest point: every other simplex point is at least as far (random points and small moves along the simplex).
      for (let t = 0; t < 20; t++) expect(distance(rng.dirichlet(1, classes))).toBeGreaterThanOrEqual(best - 1e-12);
      for (let a = 0; a < classes; a++) {
        for (let b = 0; b < classes; b++) {
          if (a === b || x[b] === 0) continue;
          const moved = Float64Array.from(x);
          const step = Math.min(1e-3, moved[b]);
          moved[a] += step;
          moved[b] -= step;
          expect(distance(moved)).toBeGreaterThanOrEqual(best - 1e-12);
        }
      }
    }
  });

  it('passes the protocol\'s row-sum tolerance after conversion to Float32Array', () => {
    const rng = new SeededRng(10);
    const noisy = Float64Array.from({ length: 2000 * 10 }, () => rng.normal(0.1, 1));
    const f32 = Float32Array.from(projectRowsToSimplex(noisy, 10));
    for (let i = 0; i < 2000; i++) {
      let sum = 0;
      for (let c = 0; c < 10; c++) sum += f32[i * 10 + c];
      expect(Math.abs(sum - 1)).toBeLessThan(1e-6);
    }
  });

  it('refuses non-finite values', () => {
    expect(() => projectRowsToSimplex([0.5, Number.POSITIVE_INFINITY], 2)).toThrow(/row 0, class 1/);
  });
});
