import { describe, expect, it } from 'vitest';

import { epsilonFromRdpBalle2020, epsilonFromRdpClassic } from './rdp-to-epsilon';
import { rdpGaussian } from './rdp-gaussian';
import { DEFAULT_ORDERS, TF_PRIVACY_ORDERS } from './rdp-orders';
import { rdpSubsampledGaussian } from './rdp-subsampled-gaussian';
import { expectRelativelyClose } from './relative-error.testing';

const DELTA = 1e-5;

describe('rdpSubsampledGaussian (Poisson-subsampled Gaussian, Mironov et al. 2019)', () => {
  // TensorFlow Privacy's DP-SGD MNIST tutorial: N = 60000, batch 256, noise multiplier 1.1,
  // 60 epochs, delta = 1e-5 -> "epsilon = 3.01". compute_dp_sgd_privacy takes
  // steps = ceil(epochs * N / batch) = ceil(14062.5) = 14063.
  const q = 256 / 60000;

  it('reproduces the TF Privacy tutorial at its orders: epsilon 3.01 (classic), 2.60 (Balle et al. 2020)', () => {
    const steps = Math.ceil((60 * 60000) / 256);
    expect(steps).toBe(14063);
    const rdp = rdpSubsampledGaussian(q, 1.1, steps, TF_PRIVACY_ORDERS);
    const classic = epsilonFromRdpClassic(TF_PRIVACY_ORDERS, rdp, DELTA);
    expect(classic.epsilon.toFixed(2)).toBe('3.01');
    expectRelativelyClose(classic.epsilon, 3.009211172997904, 1e-9, 'classic');
    expect(classic.order).toBe(9);
    const balle = epsilonFromRdpBalle2020(TF_PRIVACY_ORDERS, rdp, DELTA);
    expectRelativelyClose(balle.epsilon, 2.597079519657094, 1e-9, 'balle2020');
    expect(balle.order).toBe(8);
    expect(balle.epsilon).toBeLessThan(classic.epsilon);

    // int(epochs * N / batch) = 14062 steps gives 3.01 as well.
    const floorSteps = rdpSubsampledGaussian(q, 1.1, Math.floor((60 * 60000) / 256), TF_PRIVACY_ORDERS);
    expectRelativelyClose(epsilonFromRdpClassic(TF_PRIVACY_ORDERS, floorSteps, DELTA).epsilon, 3.009099525732749, 1e-9, '14062');
  });

  it('matches TF Privacy compute_rdp order by order (integer and fractional orders)', () => {
    // Reference: TF Privacy's algorithm (_compute_log_a_int / _compute_log_a_frac) run with scipy.
    const reference: Array<[number, number]> = [
      [1.25, 1.4538843121529385e-5],
      [1.75, 2.043205492592668e-5],
      [2, 2.3395776010005287e-5],
      [2.5, 2.9358070265466377e-5],
      [4.5, 5.3691723410413026e-5],
      [9, 0.00011164726515513229],
      [10, 0.00012523984244293328],
      [32, 7.59018834621011],
      [64, 20.90274077918983],
      [512, 206.10264662835974],
    ];
    const orders = reference.map(([alpha]) => alpha);
    const rdp = rdpSubsampledGaussian(q, 1.1, 1, orders);
    reference.forEach(([alpha, expected], k) => expectRelativelyClose(rdp[k]!, expected, 1e-9, `order ${alpha}`));
  });

  it('agrees with direct numerical integration of E_mu0[(mu / mu0)^alpha]', () => {
    for (const [sampling, sigma] of [
      [0.1, 2],
      [0.02, 0.8],
    ] as const) {
      const orders = [1.5, 2.5, 3, 7.25];
      const rdp = rdpSubsampledGaussian(sampling, sigma, 1, orders);
      orders.forEach((alpha, k) => {
        const expected = Math.log(integrateA(sampling, sigma, alpha)) / (alpha - 1);
        expectRelativelyClose(rdp[k]!, expected, 1e-8, `q=${sampling} sigma=${sigma} order ${alpha}`);
      });
    }
  });

  it('handles the limits: q = 0, steps = 0, sigma = Infinity -> 0; q = 1 -> plain Gaussian; sigma = 0 -> Infinity', () => {
    expect(rdpSubsampledGaussian(0, 1, 100)).toEqual(DEFAULT_ORDERS.map(() => 0));
    expect(rdpSubsampledGaussian(0.3, 0, 0)).toEqual(DEFAULT_ORDERS.map(() => 0));
    expect(rdpSubsampledGaussian(0.3, Infinity, 100)).toEqual(DEFAULT_ORDERS.map(() => 0));
    expect(rdpSubsampledGaussian(0.3, 0, 1)).toEqual(DEFAULT_ORDERS.map(() => Infinity));
    const full = rdpSubsampledGaussian(1, 1.7, 5);
    const plain = rdpGaussian(1.7).map((r) => 5 * r);
    full.forEach((r, k) => expectRelativelyClose(r, plain[k]!, 1e-15, `order ${DEFAULT_ORDERS[k]}`));
    // q just below 1 runs the series and lands next to the plain Gaussian.
    const nearlyFull = rdpSubsampledGaussian(1 - 1e-9, 1.7, 5, [1.5, 2, 7.5, 8]);
    const plainNear = rdpGaussian(1.7, [1.5, 2, 7.5, 8]).map((r) => 5 * r);
    nearlyFull.forEach((r, k) => expectRelativelyClose(r, plainNear[k]!, 1e-6, `q -> 1, order ${k}`));
  });

  it('increases with q and decreases with sigma at every TF Privacy order', () => {
    const rates = [1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.9, 1];
    const sigmas = [0.5, 0.8, 1.1, 2, 5];
    for (const sigma of sigmas) {
      let previous = rdpSubsampledGaussian(rates[0]!, sigma, 1, TF_PRIVACY_ORDERS);
      for (const rate of rates.slice(1)) {
        const next = rdpSubsampledGaussian(rate, sigma, 1, TF_PRIVACY_ORDERS);
        next.forEach((r, k) => expect(r, `sigma ${sigma} q ${rate} order ${TF_PRIVACY_ORDERS[k]}`).toBeGreaterThan(previous[k]!));
        previous = next;
      }
    }
    for (const rate of rates) {
      let previous = rdpSubsampledGaussian(rate, sigmas[0]!, 1, TF_PRIVACY_ORDERS);
      for (const sigma of sigmas.slice(1)) {
        const next = rdpSubsampledGaussian(rate, sigma, 1, TF_PRIVACY_ORDERS);
        next.forEach((r, k) => expect(r, `q ${rate} sigma ${sigma} order ${TF_PRIVACY_ORDERS[k]}`).toBeLessThan(previous[k]!));
        previous = next;
      }
    }
  });

  it('is continuous across integer orders (the integer and fractional series agree) and increasing in alpha', () => {
    for (const [sampling, sigma] of [
      [256 / 60000, 1.1],
      [0.01, 0.7],
      [0.3, 3],
    ] as const) {
      for (const alpha of [2, 3, 5, 12, 40]) {
        const [below, at, above] = rdpSubsampledGaussian(sampling, sigma, 1, [alpha - 1e-7, alpha, alpha + 1e-7]);
        expectRelativelyClose(below!, at!, 1e-5, `q=${sampling} sigma=${sigma} just below ${alpha}`);
        expectRelativelyClose(above!, at!, 1e-5, `q=${sampling} sigma=${sigma} just above ${alpha}`);
      }
      const curve = rdpSubsampledGaussian(sampling, sigma, 1);
      for (let k = 1; k < curve.length; k++) expect(curve[k]!).toBeGreaterThanOrEqual(curve[k - 1]!);
    }
  });

  it('composes linearly in steps and refuses bad parameters', () => {
    const one = rdpSubsampledGaussian(0.01, 1, 1);
    rdpSubsampledGaussian(0.01, 1, 250).forEach((r, k) => expectRelativelyClose(r, 250 * one[k]!, 1e-14, `order ${k}`));
    expect(() => rdpSubsampledGaussian(-0.1, 1, 1)).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(1.1, 1, 1)).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(Number.NaN, 1, 1)).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(0.1, -1, 1)).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(0.1, 1, -1)).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(0.1, 1, Infinity)).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(0.1, 1, 1, [1])).toThrow(RangeError);
    expect(() => rdpSubsampledGaussian(0.1, 1, 1, [])).toThrow(RangeError);
  });
});

/** A_alpha = integral of mu0(z) ((1 - q) + q mu1(z) / mu0(z))^alpha dz by composite Simpson. */
function integrateA(q: number, sigma: number, alpha: number): number {
  const variance = sigma * sigma;
  const density0 = (z: number): number => Math.exp(-(z * z) / (2 * variance)) / Math.sqrt(2 * Math.PI * variance);
  const integrand = (z: number): number => density0(z) * Math.pow(1 - q + q * Math.exp((2 * z - 1) / (2 * variance)), alpha);
  const lo = -40 * sigma;
  const hi = alpha + 40 * sigma;
  const n = 100_000;
  const h = (hi - lo) / n;
  let sum = integrand(lo) + integrand(hi);
  for (let i = 1; i < n; i++) sum += (i % 2 === 1 ? 4 : 2) * integrand(lo + i * h);
  return (sum * h) / 3;
}
