import { describe, expect, it } from 'vitest';

import {
  confidentThresholdLogProbabilityAnswered,
  rdpConfidentGnmaxDataDependent,
  rdpConfidentGnmaxDataIndependent,
  rdpConfidentThreshold,
  rdpConfidentThresholdDataDependent,
  rdpConfidentThresholdFromLogProbabilityAnswered,
} from './rdp-confident-gnmax';
import { rdpGnmaxDataDependent, rdpGnmaxDataIndependent } from './rdp-gnmax';
import { expectRelativelyClose, seededUniform } from './relative-error.testing';
import { TF_PRIVACY_ORDERS } from './rdp-orders';

const ORDERS = [2, 5, 10, 20, 40];

function unanimous(teachers: number, classes = 10): number[] {
  return [teachers, ...new Array<number>(classes - 1).fill(0)];
}

describe('Confident-GNMax threshold check', () => {
  it('data-independent: alpha / (2 sigma1^2), i.e. GNMax at sqrt(2) sigma1', () => {
    expect(rdpConfidentThreshold(50, [2, 10])).toEqual([2 / 5000, 10 / 5000]);
    rdpGnmaxDataIndependent(Math.SQRT2 * 50, ORDERS).forEach((r, k) =>
      expectRelativelyClose(rdpConfidentThreshold(50, ORDERS)[k]!, r, 1e-15, `order ${ORDERS[k]}`),
    );
  });

  it('log Pr[answered] is the Gaussian tail of T - max count (their compute_logpr_answered)', () => {
    expectRelativelyClose(confidentThresholdLogProbabilityAnswered(unanimous(250), 150, 50), -0.023012909328963476, 1e-12, 'answered');
    expectRelativelyClose(confidentThresholdLogProbabilityAnswered(unanimous(100), 300, 50), -10.360101486527292, 1e-12, 'refused');
    expectRelativelyClose(confidentThresholdLogProbabilityAnswered([40, 60], 60, 3), Math.log(0.5), 1e-15, 'at T');
    expect(confidentThresholdLogProbabilityAnswered([40, 60], 60, 0)).toBe(0);
    expect(confidentThresholdLogProbabilityAnswered([40, 59], 60, 0)).toBe(-Infinity);
  });

  it('data-dependent: matches their compute_rdp_threshold, cheap when the check is almost surely refused', () => {
    // 100 teachers, T = 300, sigma1 = 50: answered with probability 3e-5; the check costs < 2% of
    // its data-independent price.
    const far = rdpConfidentThresholdDataDependent(unanimous(100), 300, 50, ORDERS);
    const expectedFar = [6.037266416243955e-6, 6.499037997192276e-6, 7.49161014381488e-6, 1.077956222919575e-5, 3.068884826407487e-5];
    expectedFar.forEach((value, k) => expectRelativelyClose(far[k]!, value, 1e-9, `far order ${ORDERS[k]}`));
    const independent = rdpConfidentThreshold(50, ORDERS);
    far.forEach((r, k) => expect(r).toBeLessThan(independent[k]! / 50));
    // 250 teachers, T = 150, sigma1 = 50: answered with probability 0.977; gain only at high orders.
    const near = rdpConfidentThresholdDataDependent(unanimous(250), 150, 50, ORDERS);
    const expectedNear = [0.0004, 0.001, 0.002, 0.003407216779113188, 0.00519395161001444];
    expectedNear.forEach((value, k) => expectRelativelyClose(near[k]!, value, 1e-9, `near order ${ORDERS[k]}`));
  });

  it('data-dependent is never above data-independent; sigma1 = 0 costs Infinity', () => {
    const uniform = seededUniform(3);
    for (let trial = 0; trial < 300; trial++) {
      const teachers = 10 + Math.floor(uniform() * 300);
      const votes = [Math.floor(uniform() * teachers), 0];
      votes[1] = teachers - votes[0]!;
      const threshold = uniform() * 1.5 * teachers;
      const sigma1 = 1 + uniform() * 100;
      const dependent = rdpConfidentThresholdDataDependent(votes, threshold, sigma1, TF_PRIVACY_ORDERS);
      const independent = rdpConfidentThreshold(sigma1, TF_PRIVACY_ORDERS);
      dependent.forEach((r, k) => expect(r).toBeLessThanOrEqual(independent[k]! * (1 + 1e-12)));
    }
    expect(rdpConfidentThresholdFromLogProbabilityAnswered(-3, 0, [2])).toEqual([Infinity]);
    expect(() => rdpConfidentThresholdFromLogProbabilityAnswered(0.5, 1, [2])).toThrow(RangeError);
    expect(() => confidentThresholdLogProbabilityAnswered([1, 2], Number.NaN, 1)).toThrow(RangeError);
  });
});

describe('one Confident-GNMax query', () => {
  it('pays the threshold check always and GNMax only when answered', () => {
    const check = rdpConfidentThreshold(150, ORDERS);
    const label = rdpGnmaxDataIndependent(40, ORDERS);
    expect(rdpConfidentGnmaxDataIndependent(150, 40, false, ORDERS)).toEqual(check);
    expect(rdpConfidentGnmaxDataIndependent(150, 40, true, ORDERS)).toEqual(check.map((r, k) => r + label[k]!));

    const votes = unanimous(250);
    const checkDependent = rdpConfidentThresholdDataDependent(votes, 200, 150, ORDERS);
    const labelDependent = rdpGnmaxDataDependent(votes, 40, ORDERS);
    expect(rdpConfidentGnmaxDataDependent(votes, 200, 150, 40, false, ORDERS)).toEqual(checkDependent);
    expect(rdpConfidentGnmaxDataDependent(votes, 200, 150, 40, true, ORDERS)).toEqual(
      checkDependent.map((r, k) => r + labelDependent[k]!),
    );
  });
});
