import { describe, expect, it } from 'vitest';

import { rdpGaussian } from './rdp-gaussian';
import { DEFAULT_ORDERS, TF_PRIVACY_ORDERS } from './rdp-orders';
import { epsilonFromRdp, epsilonFromRdpBalle2020, epsilonFromRdpClassic } from './rdp-to-epsilon';
import { expectRelativelyClose, seededUniform } from './relative-error.testing';

describe('plain Gaussian mechanism against hand computation', () => {
  it('rdpGaussian is alpha / (2 sigma^2), with the limits sigma = 0 and Infinity', () => {
    expect(rdpGaussian(2, [1.5, 2, 10])).toEqual([1.5 / 8, 2 / 8, 10 / 8]);
    expect(rdpGaussian(0, [2])).toEqual([Infinity]);
    expect(rdpGaussian(Infinity, [2])).toEqual([0]);
    expect(() => rdpGaussian(-1, [2])).toThrow(RangeError);
    expect(() => rdpGaussian(Number.NaN, [2])).toThrow(RangeError);
  });

  it('sigma = 2, 10 compositions, delta = 1e-5, TF Privacy orders: classic epsilon within 1% above the continuous optimum', () => {
    const sigma = 2;
    const compositions = 10;
    const delta = 1e-5;
    const rdp = rdpGaussian(sigma, TF_PRIVACY_ORDERS).map((r) => compositions * r);
    // epsilon(alpha) = c alpha + L / (alpha - 1), c = 10 / (2 * 4), L = log(1 / delta);
    // d/d alpha = 0 at alpha* = 1 + sqrt(L / c), where epsilon = c + 2 sqrt(c L).
    const c = compositions / (2 * sigma * sigma);
    const L = Math.log(1 / delta);
    const alphaStar = 1 + Math.sqrt(L / c);
    const epsilonStar = c * alphaStar + L / (alphaStar - 1);
    expectRelativelyClose(epsilonStar, c + 2 * Math.sqrt(c * L), 1e-14, 'closed form');
    expectRelativelyClose(alphaStar, 4.034854258770293, 1e-12, 'alpha*');
    expectRelativelyClose(epsilonStar, 8.83713564692573, 1e-12, 'epsilon*');

    const { epsilon, order } = epsilonFromRdpClassic(TF_PRIVACY_ORDERS, rdp, delta);
    expect(epsilon).toBeGreaterThanOrEqual(epsilonStar);
    expect(epsilon).toBeLessThanOrEqual(1.01 * epsilonStar);
    // On the grid: alpha = 4 gives 1.25 * 4 + L / 3.
    expect(order).toBe(4);
    expectRelativelyClose(epsilon, 5 + L / 3, 1e-15, 'at order 4');
  });

  it('Balle et al. 2020 by hand at a single order', () => {
    const alpha = 6;
    const r = 1.7;
    const delta = 1e-6;
    const expected = r + Math.log(1 - 1 / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1);
    const { epsilon, order } = epsilonFromRdpBalle2020([alpha], [r], delta);
    expectRelativelyClose(epsilon, expected, 1e-15, 'balle');
    expect(order).toBe(alpha);
    expectRelativelyClose(epsilonFromRdpClassic([alpha], [r], delta).epsilon, r - Math.log(delta) / (alpha - 1), 1e-15, 'classic');
  });
});

describe('RDP -> (epsilon, delta)', () => {
  it('Balle 2020 is never above classic, and never negative', () => {
    const uniform = seededUniform(7);
    for (let trial = 0; trial < 300; trial++) {
      const scale = Math.exp(-8 + 12 * uniform());
      const rdp = DEFAULT_ORDERS.map((alpha) => scale * alpha * (0.5 + uniform()));
      const delta = Math.exp(-2 - 20 * uniform());
      const classic = epsilonFromRdpClassic(DEFAULT_ORDERS, rdp, delta);
      const balle = epsilonFromRdpBalle2020(DEFAULT_ORDERS, rdp, delta);
      expect(balle.epsilon).toBeLessThanOrEqual(classic.epsilon);
      expect(balle.epsilon).toBeGreaterThanOrEqual(0);
    }
    // Orders at or below 1.01 fall back to the classic bound instead of Infinity.
    expect(epsilonFromRdpBalle2020([1.005], [0.01], 1e-3).epsilon).toBe(epsilonFromRdpClassic([1.005], [0.01], 1e-3).epsilon);
  });

  it('gives 0 when delta already covers the total variation bound sqrt(1 - exp(-rdp))', () => {
    expect(epsilonFromRdpBalle2020([2, 4], [1e-12, 2e-12], 1e-5)).toEqual({ epsilon: 0, order: 2 });
  });

  it('handles infinite RDP: skipped order by order, Infinity when all are', () => {
    const partial = epsilonFromRdpClassic([2, 3, 4], [Infinity, 0.5, Infinity], 1e-5);
    expect(partial.order).toBe(3);
    expectRelativelyClose(partial.epsilon, 0.5 + Math.log(1e5) / 2, 1e-15, 'finite order');
    for (const conversion of ['classic', 'balle2020'] as const) {
      const none = epsilonFromRdp([2, 3], [Infinity, Infinity], 1e-5, conversion);
      expect(none.epsilon).toBe(Infinity);
    }
  });

  it('validates its inputs', () => {
    expect(() => epsilonFromRdpClassic([2, 3], [1], 1e-5)).toThrow(RangeError);
    expect(() => epsilonFromRdpClassic([2], [-0.1], 1e-5)).toThrow(RangeError);
    expect(() => epsilonFromRdpClassic([2], [Number.NaN], 1e-5)).toThrow(RangeError);
    expect(() => epsilonFromRdpClassic([2], [1], 0)).toThrow(RangeError);
    expect(() => epsilonFromRdpClassic([2], [1], 1)).toThrow(RangeError);
    expect(() => epsilonFromRdpBalle2020([1], [1], 1e-5)).toThrow(RangeError);
    expect(() => epsilonFromRdpClassic([2, 2], [1, 1], 1e-5)).toThrow(RangeError);
    expect(() => epsilonFromRdp([2], [1], 1e-5, 'other' as never)).toThrow(RangeError);
  });
});
