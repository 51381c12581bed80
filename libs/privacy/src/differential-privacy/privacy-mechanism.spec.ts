import { describe, expect, it } from 'vitest';
import { SeededRng } from '@fedkd/engine';
import { meanAndVariance } from './mechanisms/noise-statistics.testing';
import { privacyMechanism } from './privacy-mechanism';
import { rdpGaussian, rdpGnmaxDataIndependent } from './accountant';

/** A seeded normal source for the statistics (production passes secureNormalRng()). */
const seeded = (label: string) => new SeededRng(7).fork(label);

describe('the client transform of a private round (PrivacyMechanism.noise, what ClientCore sends)', () => {
  const clean = new Float64Array(20_000).fill(3);

  it('adds N(0, sigma^2) to every count when it is the only contributor', () => {
    const noisy = privacyMechanism({ mechanism: 'gnmax', sigma: 4 }).noise(clean, 1, seeded('full'));
    const { mean, variance } = meanAndVariance(noisy.map((v) => v - 3));
    expect(noisy).toHaveLength(clean.length);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(variance).toBeGreaterThan(16 * 0.95);
    expect(variance).toBeLessThan(16 * 1.05);
  });

  it('adds only a share N(0, sigma^2 / k) under secure aggregation, and k shares sum to the full noise', () => {
    const k = 5;
    const shares = Array.from({ length: k }, (_, i) => privacyMechanism({ mechanism: 'gnmax', sigma: 4 }).noise(clean, k, seeded(`share-${i}`)));
    const one = meanAndVariance(shares[0].map((v) => v - 3));
    expect(one.variance).toBeGreaterThan((16 / k) * 0.95);
    expect(one.variance).toBeLessThan((16 / k) * 1.05);
    const summed = clean.map((_, j) => shares.reduce((s, share) => s + share[j], 0) - k * 3);
    const total = meanAndVariance(summed);
    expect(total.variance).toBeGreaterThan(16 * 0.95);
    expect(total.variance).toBeLessThan(16 * 1.05);
  });

  it('sends two blocks for confident-gnmax: the threshold check with sigma1, then the answer with sigma2', () => {
    const noisy = privacyMechanism({ mechanism: 'confident-gnmax', threshold: 10, sigma1: 6, sigma2: 2 }).noise(clean, 1, seeded('two'));
    expect(noisy).toHaveLength(2 * clean.length);
    const check = meanAndVariance(noisy.subarray(0, clean.length).map((v) => v - 3));
    const answer = meanAndVariance(noisy.subarray(clean.length).map((v) => v - 3));
    expect(check.variance / 36).toBeGreaterThan(0.95);
    expect(check.variance / 36).toBeLessThan(1.05);
    expect(answer.variance / 4).toBeGreaterThan(0.95);
    expect(answer.variance / 4).toBeLessThan(1.05);
  });
});

describe('the coordinator release from the summed noisy statistics (PrivacyMechanism.release, what the strategy publishes)', () => {
  it('gnmax: one-hot at each row\'s largest summed count', () => {
    expect(Array.from(privacyMechanism({ mechanism: 'gnmax', sigma: 1 }).release([0.5, 2.5, 1, 7, 0.2, 0.1], 3))).toEqual([0, 1, 0, 1, 0, 0]);
  });

  it('confident-gnmax: answers a row from the second block only where the first block\'s largest noisy count reaches the threshold', () => {
    const spec = { mechanism: 'confident-gnmax' as const, threshold: 5, sigma1: 1, sigma2: 1 };
    // Row 0: check block top 6 >= 5, answer block says class 2. Row 1: check top 4 < 5: left all-zero (not answered).
    const sum = [6, 0, 1, 4, 3, 0, /* answer block */ 0, 1, 9, 5, 0, 0];
    expect(Array.from(privacyMechanism(spec).release(sum, 3))).toEqual([0, 0, 1, 0, 0, 0]);
  });

  it('gaussian: the noisy sum clamped at 0 and renormalised, uniform where nothing is left', () => {
    const released = privacyMechanism({ mechanism: 'gaussian', clipNorm: 1, sigma: 1 }).release([3, -1, 1, -2, -1, -0.5], 3);
    expect(Array.from(released)).toEqual([0.75, 0, 0.25, 1 / 3, 1 / 3, 1 / 3].map((v) => Math.fround(v)));
  });

  it('refuses a sum that is not whole blocks of rows, naming the sizes', () => {
    expect(() => privacyMechanism({ mechanism: 'confident-gnmax', threshold: 1, sigma1: 1, sigma2: 1 }).release(new Float64Array(9), 3)).toThrow(/9 values are not 2 block/);
  });
});

describe('the central release (one party holds every vote: the privacy-curve script)', () => {
  it('confident-gnmax as Algorithm 1: abstains (-1) where the true top count plus noise misses the threshold', () => {
    const votes = [200, 10, 40, 0, 120, 130];
    const labels = privacyMechanism({ mechanism: 'confident-gnmax', threshold: 150, sigma1: 1e-9, sigma2: 1e-9 }).releaseCentrally(votes, 3, seeded('central'));
    expect(Array.from(labels)).toEqual([0, -1]);
    expect(Array.from(privacyMechanism({ mechanism: 'gnmax', sigma: 1e-9 }).releaseCentrally(votes, 3, seeded('central')))).toEqual([0, 2]);
  });
});

describe('the client statistic and the round cost (PrivacyMechanism.statistic and roundRdp, what ClientCore and the ledger use)', () => {
  it('votes: each teacher votes for the argmax of its row (logits or probabilities alike)', () => {
    const teacherA = [0.1, 2, -1, /* row 1 */ 5, 0, 0];
    const teacherB = [3, 1, 0, /* row 1 */ 0.2, 0.1, 0.9];
    for (const spec of [{ mechanism: 'gnmax' as const, sigma: 1 }, { mechanism: 'confident-gnmax' as const, threshold: 1, sigma1: 1, sigma2: 1 }]) {
      expect(Array.from(privacyMechanism(spec).statistic([teacherA, teacherB], 2, 3))).toEqual([1, 1, 0, 1, 0, 1]);
    }
  });

  it('gaussian: each teacher\'s probability row clipped to clipNorm in L2, then summed', () => {
    const sum = privacyMechanism({ mechanism: 'gaussian', clipNorm: 0.5, sigma: 1 }).statistic([[1, 0], [0.6, 0.8]], 1, 2);
    expect(sum[0]).toBeCloseTo(0.5 + 0.3, 12);
    expect(sum[1]).toBeCloseTo(0.4, 12);
  });

  it('charges per query: gnmax alpha / sigma^2; confident-gnmax both whole noisy histograms; gaussian at sensitivity sqrt(2) clipNorm', () => {
    const orders = [2, 8, 32];
    expect(privacyMechanism({ mechanism: 'gnmax', sigma: 4 }).roundRdp(10, orders)).toEqual(rdpGnmaxDataIndependent(4, orders).map((r) => r * 10));
    const confident = privacyMechanism({ mechanism: 'confident-gnmax', threshold: 5, sigma1: 6, sigma2: 2 }).roundRdp(3, orders);
    orders.forEach((alpha, k) => expect(confident[k]).toBeCloseTo(3 * (alpha / 36 + alpha / 4), 12));
    expect(privacyMechanism({ mechanism: 'gaussian', clipNorm: 1, sigma: 4 }).roundRdp(2, orders)).toEqual(rdpGaussian(4 / Math.SQRT2, orders).map((r) => r * 2));
  });

  it('refuses an unknown mechanism by name', () => {
    expect(() => privacyMechanism({ mechanism: 'laplace' } as never)).toThrow("unknown private mechanism 'laplace' (known: gnmax, confident-gnmax, gaussian)");
  });
});
