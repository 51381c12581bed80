import { gaussianRdpAt } from './rdp-gaussian';
import { rdpGnmaxDataIndependent } from './rdp-gnmax';
import { subsampledGaussianRdpAt } from './rdp-subsampled-gaussian';
import { epsilonFromRdp, type EpsilonConversion } from './rdp-to-epsilon';

/**
 * How far epsilon on a grid of orders lies above the optimum over continuous orders, on the sweep of
 * issue 13: Gaussian sigma 0.5..50 x 1..10^4 compositions, subsampled Gaussian q 1e-3..0.1 x
 * sigma 0.6..4 x 1..10^4 steps, GNMax (data-independent) sigma 20..200 x 1..10^4 queries, each at
 * delta 1e-5 and 1e-6 and with both conversions. Used by rdp-orders.spec.ts and
 * scripts/order-grid.ts.
 */
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

export interface Overshoot {
  /** Largest epsilon(grid) - epsilon(continuous optimum) found. */
  worst: number;
  /** The sweep point where it was found. */
  where: string;
}

export type OrderGridMechanism = 'gaussian' | 'subsampledGaussian' | 'gnmax';
export const ORDER_GRID_MECHANISMS: readonly OrderGridMechanism[] = ['gaussian', 'subsampledGaussian', 'gnmax'];

function worse(current: Overshoot, onGrid: number, optimum: number, where: string): Overshoot {
  const overshoot = onGrid - optimum;
  return overshoot > current.worst ? { worst: overshoot, where } : current;
}

/** Largest epsilon(grid) - epsilon(continuous optimum) over the sweep, per mechanism. */
export function sweepOvershoot(
  orders: readonly number[],
  mechanisms: readonly OrderGridMechanism[] = ORDER_GRID_MECHANISMS,
): Partial<Record<OrderGridMechanism, Overshoot>> {
  const result: Partial<Record<OrderGridMechanism, Overshoot>> = {};
  if (mechanisms.includes('gaussian')) result.gaussian = gaussianSweep(orders);
  if (mechanisms.includes('subsampledGaussian')) result.subsampledGaussian = subsampledGaussianSweep(orders);
  if (mechanisms.includes('gnmax')) result.gnmax = gnmaxSweep(orders);
  return result;
}

function gaussianSweep(orders: readonly number[]): Overshoot {
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
  return gaussian;
}

function gnmaxSweep(orders: readonly number[]): Overshoot {
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
  return gnmax;
}

function subsampledGaussianSweep(orders: readonly number[]): Overshoot {
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
  return subsampledGaussian;
}

