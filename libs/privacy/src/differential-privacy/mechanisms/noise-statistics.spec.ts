import { SeededRng } from '@fedkd/engine';
import { describe, expect, it } from 'vitest';

import { distributedNoiseShare, shareVarianceFor } from './distributed-noise';
import { confidentGnmax, gnmax } from './gnmax';
import { addGaussianNoise, type NormalSource } from './normal-source';
import { meanAndVariance, standardNormalCdf } from './noise-statistics.testing';
import { secureNormalRng } from './secure-normal-rng';

const DRAWS = 20_000;

/** Noise statistics within tolerance: |mean| <= `standardErrors` SE and variance within 5% of sigma^2. */
function expectGaussianNoise(noise: ArrayLike<number>, sigma: number, standardErrors = 3): void {
  const { mean, variance } = meanAndVariance(noise);
  const standardError = sigma / Math.sqrt(noise.length);
  expect(Math.abs(mean)).toBeLessThanOrEqual(standardErrors * standardError);
  expect(Math.abs(variance / (sigma * sigma) - 1)).toBeLessThanOrEqual(0.05);
}

function difference(noised: ArrayLike<number>, original: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: noised.length }, (_, k) => noised[k] - original[k]);
}

describe('noise statistics', () => {
  it('addGaussianNoise adds N(0, sigma^2): mean within 3 standard errors of 0, variance within 5%', () => {
    const values = Float64Array.from({ length: DRAWS }, (_, k) => (k % 17) - 3);
    for (const [seed, sigma] of [[1, 0.5], [2, 4], [3, 40]] as const) {
      const noised = addGaussianNoise(values, sigma, new SeededRng(1000 + seed));
      expectGaussianNoise(difference(noised, values), sigma);
    }
  });

  it('gnmax flips a 2-class vote with the probability its noise implies', () => {
    // votes (10, 6), sigma = 2 sqrt 2: the noisy difference is N(4, 2 sigma^2 = 16), so it flips with Phi(-1).
    const sigma = 2 * Math.SQRT2;
    const votes = new Float64Array(2 * DRAWS);
    for (let i = 0; i < DRAWS; i++) votes.set([10, 6], 2 * i);
    const { labels } = gnmax(votes, 2, sigma, new SeededRng(11));
    const flipped = labels.reduce((count, label) => count + label, 0) / DRAWS;
    const expected = standardNormalCdf(-1); // 0.1587
    expect(Math.abs(flipped - expected)).toBeLessThanOrEqual(3 * Math.sqrt((expected * (1 - expected)) / DRAWS));
  });

  it('confidentGnmax answers a query whose top count equals the threshold half of the time', () => {
    const votes = new Float64Array(3 * DRAWS);
    for (let i = 0; i < DRAWS; i++) votes.set([60, 30, 10], 3 * i);
    const { answered } = confidentGnmax(votes, 3, { threshold: 60, sigma1: 15, sigma2: 1 }, new SeededRng(12));
    const rate = answered.reduce((count, a) => count + a, 0) / DRAWS;
    expect(Math.abs(rate - 0.5)).toBeLessThanOrEqual(3 * Math.sqrt(0.25 / DRAWS));
    // and one standard deviation above it, Phi(1) of the time
    const { answered: above } = confidentGnmax(votes, 3, { threshold: 45, sigma1: 15, sigma2: 1 }, new SeededRng(13));
    const rateAbove = above.reduce((count, a) => count + a, 0) / DRAWS;
    const expected = standardNormalCdf(1);
    expect(Math.abs(rateAbove - expected)).toBeLessThanOrEqual(3 * Math.sqrt((expected * (1 - expected)) / DRAWS));
  });

  it('distributed shares of k clients sum to variance sigma^2 within 5%', () => {
    const sigma = 3;
    for (const k of [1, 5, 40]) {
      const rng = new SeededRng(500 + k);
      const total = new Float64Array(DRAWS);
      for (let client = 0; client < k; client++) {
        const share = distributedNoiseShare(DRAWS, sigma, k, rng.fork(client));
        if (client === 0) expectGaussianNoise(share, Math.sqrt(shareVarianceFor(sigma, k)));
        for (let j = 0; j < DRAWS; j++) total[j] += share[j];
      }
      expectGaussianNoise(total, sigma);
    }
  });

  it('shares sized for the minimum contributors keep at least sigma^2 when only that many survive', () => {
    const sigma = 2;
    const minimum = 6;
    const rng = new SeededRng(77);
    const survivors = new Float64Array(DRAWS);
    for (let client = 0; client < minimum; client++) {
      const share = distributedNoiseShare(DRAWS, sigma, minimum, rng.fork(`survivor ${client}`));
      for (let j = 0; j < DRAWS; j++) survivors[j] += share[j];
    }
    expectGaussianNoise(survivors, sigma);
    expect(shareVarianceFor(sigma, minimum)).toBeCloseTo(4 / 6, 12);
    // sized for 10 but only 6 survive: the sum falls short, 6/10 of sigma^2
    const short = new Float64Array(DRAWS);
    for (let client = 0; client < minimum; client++) {
      const share = distributedNoiseShare(DRAWS, sigma, 10, rng.fork(`short ${client}`));
      for (let j = 0; j < DRAWS; j++) short[j] += share[j];
    }
    expectGaussianNoise(short, sigma * Math.sqrt(0.6));
  });

  it('secureNormalRng draws N(mean, std^2) (unseeded: mean checked at 5 standard errors)', () => {
    const rng: NormalSource = secureNormalRng();
    const draws = Float64Array.from({ length: DRAWS }, () => rng.normal(0, 2.5));
    expectGaussianNoise(draws, 2.5, 5);
    const shifted = Float64Array.from({ length: DRAWS }, () => rng.normal(10, 1) - 10);
    expectGaussianNoise(shifted, 1, 5);
  });

  it('a seeded source reproduces its noise exactly; the secure source does not', () => {
    const values = new Float64Array(64);
    expect(addGaussianNoise(values, 1, new SeededRng(3))).toEqual(addGaussianNoise(values, 1, new SeededRng(3)));
    expect(addGaussianNoise(values, 1, secureNormalRng())).not.toEqual(addGaussianNoise(values, 1, secureNormalRng()));
  });

  it('secureNormalRng uniforms lie in [0, 1) with mean 1/2 and variance 1/12', () => {
    const rng = secureNormalRng();
    const u = Float64Array.from({ length: DRAWS }, () => rng.uniform());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const { mean, variance } = meanAndVariance(u);
    expect(Math.abs(mean - 0.5)).toBeLessThanOrEqual(5 * Math.sqrt(1 / 12 / DRAWS));
    expect(Math.abs(variance * 12 - 1)).toBeLessThanOrEqual(0.05);
  });
});
