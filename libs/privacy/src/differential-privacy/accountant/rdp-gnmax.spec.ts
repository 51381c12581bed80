import { describe, expect, it } from 'vitest';

import {
  gnmaxLogProbabilityNotPlurality,
  rdpGnmaxDataDependent,
  rdpGnmaxDataIndependent,
  rdpGnmaxFromLogQ,
} from './rdp-gnmax';
import { TF_PRIVACY_ORDERS } from './rdp-orders';
import { epsilonFromRdpClassic } from './rdp-to-epsilon';
import { expectRelativelyClose, seededUniform } from './relative-error.testing';

function unanimous(teachers: number, classes = 10): number[] {
  return [teachers, ...new Array<number>(classes - 1).fill(0)];
}

describe('GNMax, data-independent (Papernot et al. 2018, Proposition 8)', () => {
  it('is alpha / sigma^2 per query', () => {
    expect(rdpGnmaxDataIndependent(40, [2, 10])).toEqual([2 / 1600, 10 / 1600]);
    expect(rdpGnmaxDataIndependent(0, [2])).toEqual([Infinity]);
    expect(rdpGnmaxDataIndependent(Infinity, [2])).toEqual([0]);
  });

  it('Q queries at TF Privacy orders: classic epsilon within 1% of the closed form Q / sigma^2 + 2 sqrt(Q log(1/delta)) / sigma', () => {
    for (const [sigma, queries, delta] of [
      [40, 1000, 1e-5],
      [20, 200, 1e-5],
      [100, 300, 1e-5],
      [60, 5000, 1e-6],
    ] as const) {
      const rdp = rdpGnmaxDataIndependent(sigma, TF_PRIVACY_ORDERS).map((r) => queries * r);
      const closedForm = queries / (sigma * sigma) + (2 * Math.sqrt(queries * Math.log(1 / delta))) / sigma;
      const { epsilon } = epsilonFromRdpClassic(TF_PRIVACY_ORDERS, rdp, delta);
      expect(epsilon, `sigma ${sigma} Q ${queries}`).toBeGreaterThanOrEqual(closedForm);
      expect(epsilon, `sigma ${sigma} Q ${queries}`).toBeLessThanOrEqual(1.01 * closedForm);
    }
    // The headline case: sigma = 40, 1000 queries, delta = 1e-5: closed form 5.98992 (alpha* = 5.29),
    // on the grid 6.00323 at order 5.
    const rdp = rdpGnmaxDataIndependent(40, TF_PRIVACY_ORDERS).map((r) => 1000 * r);
    const headline = epsilonFromRdpClassic(TF_PRIVACY_ORDERS, rdp, 1e-5);
    expectRelativelyClose(headline.epsilon, (1000 * 5) / 1600 + Math.log(1e5) / 4, 1e-15, 'sigma 40, Q 1000');
    expect(headline.order).toBe(5);
  });
});

describe('GNMax, data-dependent (Papernot et al. 2018, Theorem 6 / Proposition 7)', () => {
  it('bounds q~ by the union bound, capped at 1 - 1/m (their compute_logq_gaussian)', () => {
    expectRelativelyClose(gnmaxLogProbabilityNotPlurality(unanimous(100), 40), -1.0585762651458515, 1e-12, '100 / 40');
    expectRelativelyClose(gnmaxLogProbabilityNotPlurality(unanimous(250), 40), -10.019228294289038, 1e-12, '250 / 40');
    expectRelativelyClose(gnmaxLogProbabilityNotPlurality([60, 25, 10, 5, 0, 0, 0, 0, 0, 0], 10), -4.964101552135637, 1e-12, 'mixed');
    // A tie: 9 * 0.5 would exceed 1, capped at 1 - 1/10.
    expectRelativelyClose(gnmaxLogProbabilityNotPlurality([50, 50, 0, 0, 0, 0, 0, 0, 0, 0], 40), Math.log(0.9), 1e-15, 'tie');
    expect(gnmaxLogProbabilityNotPlurality([7, 3], 0)).toBe(-Infinity);
    expect(() => gnmaxLogProbabilityNotPlurality([3], 1)).toThrow(RangeError);
    expect(() => gnmaxLogProbabilityNotPlurality([3, Number.NaN], 1)).toThrow(RangeError);
  });

  it('matches their rdp_gaussian on reference vote vectors', () => {
    const orders = [2, 5, 10, 20, 40];
    const cases: Array<[number[], number, number[]]> = [
      [unanimous(250), 40, [1.527357262762397e-5, 1.7491529354536665e-5, 2.333177856720708e-5, 5.3213177518040856e-5, 0.0005611335895141353]],
      [unanimous(100), 20, [0.0010449511773454553, 0.0013183932595421614, 0.0022842017849795345, 0.011087075222613634, 0.09265763974544476]],
      [[60, 25, 10, 5, 0, 0, 0, 0, 0, 0], 10, [0.0078274456168562, 0.012583939208499206, 0.04125545892213929, 0.19571919651747596, 0.4]],
    ];
    for (const [votes, sigma, expected] of cases) {
      const rdp = rdpGnmaxDataDependent(votes, sigma, orders);
      expected.forEach((value, k) => expectRelativelyClose(rdp[k]!, value, 1e-9, `votes ${votes[0]} sigma ${sigma} order ${orders[k]}`));
    }
  });

  it('is never above the data-independent bound', () => {
    const uniform = seededUniform(11);
    for (let trial = 0; trial < 400; trial++) {
      const classes = 2 + Math.floor(uniform() * 9);
      const teachers = 10 + Math.floor(uniform() * 300);
      const votes = new Array<number>(classes).fill(0);
      // Skewed votes: a favourite class gets a random share, the rest spread uniformly.
      const favourite = Math.floor(uniform() * classes);
      const share = uniform();
      for (let t = 0; t < teachers; t++) votes[uniform() < share ? favourite : Math.floor(uniform() * classes)]! += 1;
      const sigma = 1 + uniform() * 80;
      const dependent = rdpGnmaxDataDependent(votes, sigma, TF_PRIVACY_ORDERS);
      const independent = rdpGnmaxDataIndependent(sigma, TF_PRIVACY_ORDERS);
      dependent.forEach((r, k) => {
        expect(r).toBeGreaterThanOrEqual(0);
        expect(r).toBeLessThanOrEqual(independent[k]!);
      });
    }
  });

  it('is much smaller for unanimous votes with a margin of several sigma, equal for a tie', () => {
    const orders = [2, 5, 10, 20];
    // 250 teachers agree, sigma = 40 (margin 6.25 sigma): more than 40 times smaller.
    const strong = rdpGnmaxDataDependent(unanimous(250), 40, orders);
    const strongIndependent = rdpGnmaxDataIndependent(40, orders);
    strong.forEach((r, k) => expect(r).toBeLessThan(strongIndependent[k]! / 40));
    // 100 teachers agree, sigma = 20 (margin 5 sigma): about 4 to 10 times smaller.
    const medium = rdpGnmaxDataDependent(unanimous(100), 20, orders);
    const mediumIndependent = rdpGnmaxDataIndependent(20, orders);
    medium.forEach((r, k) => expect(r).toBeLessThan(mediumIndependent[k]! / 4));
    // 100 teachers agree, sigma = 40 (margin 2.5 sigma, q~ ~ 0.35): Theorem 6's conditions fail,
    // the data-dependent bound gives nothing.
    expect(rdpGnmaxDataDependent(unanimous(100), 40)).toEqual(rdpGnmaxDataIndependent(40));
    // A tie: q~ is capped at 1 - 1/m, no gain.
    expect(rdpGnmaxDataDependent([50, 50, 0, 0, 0, 0, 0, 0, 0, 0], 40)).toEqual(rdpGnmaxDataIndependent(40));
    expect(rdpGnmaxDataDependent([50, 50, 0, 0, 0, 0, 0, 0, 0, 0], 5)).toEqual(rdpGnmaxDataIndependent(5));
  });

  it('rdpGnmaxFromLogQ: q~ = 0 costs nothing, sigma = 0 costs Infinity, bad input throws', () => {
    expect(rdpGnmaxFromLogQ(-Infinity, 3, [2, 3])).toEqual([0, 0]);
    expect(rdpGnmaxFromLogQ(-5, 0, [2, 3])).toEqual([Infinity, Infinity]);
    expect(rdpGnmaxDataDependent([9, 1], 0, [2])).toEqual([Infinity]);
    expect(() => rdpGnmaxFromLogQ(0.1, 3, [2])).toThrow(RangeError);
    expect(() => rdpGnmaxFromLogQ(Number.NaN, 3, [2])).toThrow(RangeError);
    expect(() => rdpGnmaxFromLogQ(-1, 3, [0.5])).toThrow(RangeError);
  });
});
