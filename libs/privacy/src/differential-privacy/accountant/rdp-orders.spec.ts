import { describe, expect, it } from 'vitest';

import { RdpAccountant } from './rdp-accountant';
import { gaussianRdpAt } from './rdp-gaussian';
import { rdpGnmaxDataIndependent } from './rdp-gnmax';
import { DEFAULT_ORDERS, TF_PRIVACY_ORDERS, nonNegativeRdp } from './rdp-orders';
import { subsampledGaussianRdpAt } from './rdp-subsampled-gaussian';
import { epsilonFromRdp, type EpsilonConversion } from './rdp-to-epsilon';

const DELTAS = [1e-5, 1e-6];
const CONVERSIONS: EpsilonConversion[] = ['classic', 'balle2020'];

/** epsilon at one order alpha from its RDP value r, by the same conversion the grid uses. */
function epsilonAt(alpha: number, r: number, delta: number, conversion: EpsilonConversion): number {
  return epsilonFromRdp([alpha], [r], delta, conversion).epsilon;
}

/**
 * Minimum over continuous orders alpha in (1.001, 5000] of f(alpha): a scan of 400 orders
 * spaced geometrically in alpha - 1, then golden-section search on log(alpha - 1) between the
 * neighbours of the best scanned order.
 */
function continuousMinimum(f: (alpha: number) => number): number {
  const lo = Math.log(1e-3);
  const hi = Math.log(5000 - 1);
  const n = 400;
  const g = (u: number) => f(1 + Math.exp(u));
  let bestK = 0;
  let best = Infinity;
  for (let k = 0; k <= n; k++) {
    const value = g(lo + ((hi - lo) * k) / n);
    if (value < best) [best, bestK] = [value, k];
  }
  let a = lo + ((hi - lo) * Math.max(0, bestK - 1)) / n;
  let b = lo + ((hi - lo) * Math.min(n, bestK + 1)) / n;
  const ratio = (Math.sqrt(5) - 1) / 2;
  let c = b - ratio * (b - a);
  let d = a + ratio * (b - a);
  let gc = g(c);
  let gd = g(d);
  for (let iteration = 0; iteration < 60; iteration++) {
    if (gc < gd) [b, d, gd, c] = [d, c, gc, b - ratio * (b - a)], (gc = g(c));
    else [a, c, gc, d] = [c, d, gd, a + ratio * (b - a)], (gd = g(d));
  }
  return Math.min(best, gc, gd);
}

interface Overshoot {
  worst: number;
  where: string;
}

function worse(current: Overshoot, onGrid: number, optimum: number, where: string): Overshoot {
  const overshoot = onGrid - optimum;
  return overshoot > current.worst ? { worst: overshoot, where } : current;
}

/** Largest epsilon(grid) - epsilon(continuous optimum) over the sweep, per mechanism. */
function sweepOvershoot(orders: readonly number[]): Record<'gaussian' | 'subsampledGaussian' | 'gnmax', Overshoot> {
  let gaussian: Overshoot = { worst: -Infinity, where: '' };
  for (const sigma of [0.5, 1, 2, 5, 10, 20, 50]) {
    for (const compositions of [1, 10, 100, 1000, 10_000]) {
      for (const delta of DELTAS) {
        for (const conversion of CONVERSIONS) {
          const onGrid = epsilonFromRdp(orders, orders.map((alpha) => compositions * gaussianRdpAt(alpha, sigma)), delta, conversion).epsilon;
          const optimum = continuousMinimum((alpha) => epsilonAt(alpha, compositions * gaussianRdpAt(alpha, sigma), delta, conversion));
          gaussian = worse(gaussian, onGrid, optimum, `sigma ${sigma} x${compositions} delta ${delta} ${conversion}`);
        }
      }
    }
  }
  let gnmax: Overshoot = { worst: -Infinity, where: '' };
  for (const sigma of [20, 40, 100, 200]) {
    const perQuery = rdpGnmaxDataIndependent(sigma, orders);
    for (const queries of [1, 10, 100, 1000, 10_000]) {
      for (const delta of DELTAS) {
        for (const conversion of CONVERSIONS) {
          const onGrid = epsilonFromRdp(orders, perQuery.map((r) => queries * r), delta, conversion).epsilon;
          const optimum = continuousMinimum((alpha) => epsilonAt(alpha, rdpGnmaxDataIndependent(sigma, [alpha])[0]! * queries, delta, conversion));
          gnmax = worse(gnmax, onGrid, optimum, `sigma ${sigma} x${queries} delta ${delta} ${conversion}`);
        }
      }
    }
  }
  let subsampledGaussian: Overshoot = { worst: -Infinity, where: '' };
  for (const q of [1e-3, 1e-2, 0.1]) {
    for (const sigma of [0.6, 1, 2, 4]) {
      const perStep = orders.map((alpha) => subsampledGaussianRdpAt(q, sigma, alpha));
      const cache = new Map<number, number>();
      const perStepAt = (alpha: number) => {
        let r = cache.get(alpha);
        if (r === undefined) cache.set(alpha, (r = subsampledGaussianRdpAt(q, sigma, alpha)));
        return r;
      };
      for (const steps of [1, 100, 10_000]) {
        for (const delta of DELTAS) {
          for (const conversion of CONVERSIONS) {
            const onGrid = epsilonFromRdp(orders, perStep.map((r) => steps * r), delta, conversion).epsilon;
            const optimum = continuousMinimum((alpha) => epsilonAt(alpha, Math.max(0, steps * perStepAt(alpha)), delta, conversion));
            subsampledGaussian = worse(subsampledGaussian, onGrid, optimum, `q ${q} sigma ${sigma} x${steps} delta ${delta} ${conversion}`);
          }
        }
      }
    }
  }
  return { gaussian, subsampledGaussian, gnmax };
}

describe('DEFAULT_ORDERS: a grid dense enough for epsilon within 0.01 of the continuous optimum', () => {
  it('is the accountant default, a sorted superset of TensorFlow Privacy orders, of at most 700 orders', () => {
    expect([...DEFAULT_ORDERS].sort((a, b) => a - b)).toEqual(DEFAULT_ORDERS);
    for (const alpha of TF_PRIVACY_ORDERS) expect(DEFAULT_ORDERS, `order ${alpha}`).toContain(alpha);
    expect(DEFAULT_ORDERS.length).toBeLessThanOrEqual(700);
    expect(new RdpAccountant().orders).toEqual(DEFAULT_ORDERS);
    expect(new Set(DEFAULT_ORDERS).size).toBe(DEFAULT_ORDERS.length);
  });

  it('Gaussian, subsampled Gaussian and GNMax sweeps: epsilon on the grid is within 0.01 above the continuous optimum', () => {
    const result = sweepOvershoot(DEFAULT_ORDERS);
    for (const [mechanism, { worst, where }] of Object.entries(result)) {
      expect(worst, `${mechanism} at ${where}`).toBeLessThanOrEqual(0.01);
      // The grid can never beat the continuous optimum (up to the search's rounding).
      expect(worst, `${mechanism} at ${where}`).toBeGreaterThanOrEqual(-1e-9);
    }
  });

  it('the old TensorFlow Privacy grid fails the same sweep (the check can fail)', () => {
    const result = sweepOvershoot(TF_PRIVACY_ORDERS);
    expect(Math.max(result.gaussian.worst, result.gnmax.worst, result.subsampledGaussian.worst)).toBeGreaterThan(0.01);
  });
});

describe('negative RDP values: rounding is clamped to 0, real errors are refused', () => {
  it('clamps values within 1e-12 (relative to the curve) below 0 and keeps the rest', () => {
    expect(nonNegativeRdp([-1e-17, 0.5, Infinity], [2, 3, 4], 'test')).toEqual([0, 0.5, Infinity]);
    expect(nonNegativeRdp([-1e-10, 1000], [2, 3], 'test')).toEqual([0, 1000]);
  });

  it('refuses clearly negative or NaN values naming the order', () => {
    expect(() => nonNegativeRdp([-1e-9, 0.5], [2, 3], 'test')).toThrow(/test: RDP values must be >= 0.*-1e-9 at order 2/);
    expect(() => nonNegativeRdp([0.5, Number.NaN], [2, 3], 'test')).toThrow(/NaN at order 3/);
    expect(() => nonNegativeRdp([-1e-10, 1], [2, 3], 'test')).toThrow(/-1e-10 at order 2/);
  });

  it('the accountant and the conversions accept a rounding-level negative as 0 and refuse -0.01', () => {
    const accountant = new RdpAccountant([2, 3]).compose([-1e-16, 0.25]);
    expect(accountant.rdp).toEqual([0, 0.25]);
    expect(Object.is(accountant.rdp[0], 0)).toBe(true);
    expect(epsilonFromRdp([2, 3], [-1e-16, 0.25], 1e-5, 'classic').epsilon).toBe(epsilonFromRdp([2, 3], [0, 0.25], 1e-5).epsilon);
    expect(accountant.epsilon(1e-5).epsilon).toBe(0.25 + Math.log(1e5) / 2);
    expect(epsilonFromRdp([2, 3], [-1e-16, 0.25], 1e-5, 'balle2020').epsilon).toBe(epsilonFromRdp([2, 3], [0, 0.25], 1e-5, 'balle2020').epsilon);
    expect(() => new RdpAccountant([2, 3]).compose([-0.01, 0.25])).toThrow(/RdpAccountant.compose: RDP values must be >= 0/);
    expect(() => epsilonFromRdp([2, 3], [0.1, -0.01], 1e-5)).toThrow(/epsilonFromRdpClassic: RDP values must be >= 0.*at order 3/);
  });
});
