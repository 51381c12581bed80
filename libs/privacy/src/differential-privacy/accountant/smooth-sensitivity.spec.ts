import { describe, expect, it } from 'vitest';

import { inverseLogErfc, logErfc } from './normal-tail';
import { expectRelativelyClose } from './relative-error.testing';
import {
  checkSmoothSensitivityConditions,
  discountedMax,
  gnmaxLocalSensitivityBounds,
  gnmaxLogLowerNeighbourQ,
  gnmaxLogQ0,
  gnmaxLogQ1,
  gnmaxLogUpperNeighbourQ,
  gnmaxSmoothSensitivity,
  rdpSmoothSensitivityGaussian,
  roundHalfToEven,
  smoothSensitivityBetaGrid,
  smoothSensitivityReleaseParameters,
  thresholdLocalSensitivityBounds,
} from './smooth-sensitivity';

/**
 * Expected values come from TensorFlow Privacy, research/pate_2018 (commit 03035d5d4a27):
 * - "test file": smooth_sensitivity_test.py's expected arrays;
 * - "reference run": smooth_sensitivity.py / core.py run here with numpy 2.4.6 and scipy 1.17.1
 *   (absl stubbed), printed with repr(). Two entries of the test file's first threshold case
 *   (index 7: 9.01543247e-02) differ from what the reference itself gives today
 *   (9.015432659574e-02, relative 2e-8; the same file lists 9.01543266e-02 for the equivalent
 *   entry at index 15), so the reference run's values are used there.
 */

function expectAllClose(actual: ArrayLike<number>, expected: readonly number[], rel: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) expectRelativelyClose(actual[k]!, expected[k]!, rel, `${what}[${k}]`);
}

describe('inverse of log erfc', () => {
  it('inverts logErfc from the centre to tails far below the smallest double', () => {
    for (const x of [-1.5, -0.3, 0, 1e-3, 0.7, 1.99, 2, 3.5, 10, 40, 300]) {
      expectRelativelyClose(inverseLogErfc(logErfc(x)), x, x === 0 ? 0 : 1e-13, `x = ${x}`);
    }
    expect(Math.abs(inverseLogErfc(0))).toBeLessThan(1e-16);
    expect(() => inverseLogErfc(Math.LN2)).toThrow(/logY must be < log 2/);
  });
});

describe('GNMax local sensitivity (their compute_local_sensitivity_bounds_gnmax)', () => {
  it('finds ln q0 and ln q1 as the reference does', () => {
    // Reference run: compute_logq0_gnmax(sigma, order), _compute_logq1(sigma, order, 10).
    const cases: Array<[number, number, number, number]> = [
      [40, 10, -3.6809333817669687, -3.7900685492659574],
      [20, 25, -3.0799678498998455, -3.2862739675640857],
      [0.5, 1.5, -9.0, -25.346421479235193],
      [250, 10, -5.5058677654520105, -5.526141410961378],
      [40, 3.5, -4.6913378775985715, -4.810777231461147],
    ];
    for (const [sigma, order, logQ0, logQ1] of cases) {
      expectRelativelyClose(gnmaxLogQ0(sigma, order), logQ0, 1e-11, `ln q0 (${sigma}, ${order})`);
      expectRelativelyClose(gnmaxLogQ1(sigma, order, 10), logQ1, 1e-11, `ln q1 (${sigma}, ${order})`);
    }
    // Reference run: _compute_bl_gnmax(1e-3, 40, 10), _compute_bu_gnmax(1e-3, 40, 10).
    expectRelativelyClose(Math.exp(gnmaxLogLowerNeighbourQ(Math.log(1e-3), 40, 10)), 0.0008696616693536037, 1e-12, 'BL');
    expectRelativelyClose(Math.exp(gnmaxLogUpperNeighbourQ(Math.log(1e-3), 40, 10)), 0.001148511598323834, 1e-12, 'BU');
  });

  it('going right from a unanimous histogram: test file answer1 (votes [10, 0, 0], 10 teachers, sigma 0.5, order 1.5)', () => {
    const bounds = gnmaxLocalSensitivityBounds([10, 0, 0], 10, 0.5, 1.5);
    // Test file: [3.13503646e-17, 1.60178280e-08, 5.90681786e-03] + [5.99981308e+00] * 7 (rtol 1e-8);
    // reference run to 16 digits.
    expectAllClose(
      bounds,
      [3.135036461043677e-17, 1.601782803108961e-8, 0.005906817858503616, ...new Array<number>(7).fill(5.999813078939945)],
      1e-8,
      'answer1',
    );
  });

  it('going left from an unconfident histogram: test file answer2 (votes [1000, 500, 300, 200, 0], 2000 teachers, sigma 250, order 10)', () => {
    const bounds = gnmaxLocalSensitivityBounds([1000, 500, 300, 200, 0], 2000, 250, 10);
    // Test file: [0.] * 298 + [2.77693450548e-7, 2.10853979548e-6] + [2.73113623988e-6] * 1700.
    const expected = [
      ...new Array<number>(298).fill(0),
      2.776934505481206e-7,
      2.1085397954790275e-6,
      ...new Array<number>(1700).fill(2.731136239883617e-6),
    ];
    expectAllClose(bounds, expected, 1e-8, 'answer2');
    expect(gnmaxSmoothSensitivity(0, [1000, 500, 300, 200, 0], 2000, 250, 10)).toBe(bounds[300]);
  });
});

describe('threshold-check local sensitivity (their compute_local_sensitivity_bounds_threshold)', () => {
  const votes = [20, 10, 0];
  const teachers = 30;

  it('high threshold 16, sigma 2, order 10 (test file answer1; index 7 from the reference run)', () => {
    const expected = [
      0, 0, 0, 1.48454129e-4, 1.4782687e-2, 3.94153241e-2, 6.45775697e-2, 9.015432659574e-2, 1.16054002e-1, 1.42180452e-1,
      1.42180452e-1, 1.48454129e-4, 1.4782687e-2, 3.94153241e-2, 6.45775697e-2, 9.01543266e-2, 1.16054e-1, 1.42180452e-1,
      1.68302106e-1, 1.9312786e-1, ...new Array<number>(10).fill(0),
    ];
    // The test file prints 9 digits; 1.16054002e-01 and 1.16054000e-01 are the same reference value 0.1160540003359.
    expectAllClose(thresholdLocalSensitivityBounds(votes, teachers, 16, 2, 10), expected, 3e-8, 'answer1');
  });

  it('low threshold 2 (test file answer2)', () => {
    const expected = [
      1.60212079e-1, 2.07021132e-1, 2.07021132e-1, 1.9312786e-1, 1.68302106e-1, 1.42180452e-1, 1.16054002e-1, 9.01543247e-2,
      6.45775697e-2, 3.94153241e-2, 1.4782687e-2, 1.48454129e-4, ...new Array<number>(18).fill(0),
    ];
    expectAllClose(thresholdLocalSensitivityBounds(votes, teachers, 2, 2, 10), expected, 3e-8, 'answer2');
  });

  it('threshold 50 above the number of teachers: tiny sensitivities kept to relative precision (test file answer3)', () => {
    const expected = [
      1.35750725752e-19, 1.88990500499e-17, 2.05403154065e-15, 1.74298153642e-13, 1.15489723995e-11, 5.97584949325e-10,
      2.41486826748e-8, 7.62150641922e-7, 1.87846248741e-5, 0.000360973025976, 0.000360973025976, 2.76377015215e-50,
      1.00904975276e-53, 2.87254164748e-57, 6.37583360761e-61, 1.10331620211e-64, 1.48844393335e-68, 1.56535552444e-72,
      1.2832801106e-76, 8.20047697109e-81, ...new Array<number>(10).fill(0),
    ];
    expectAllClose(thresholdLocalSensitivityBounds(votes, teachers, 50, 2, 10), expected, 1e-8, 'answer3');
  });

  it('fractional counts, max rounded half to even as Python does (test file answer4)', () => {
    const expected = [
      0.0620410301, 0.0875807131, 0.113451958, 0.139561671, 0.165707453, 0.190824484, 0.207027072, 0.207027072, 0.1697181,
      0.0575152142, 0.00678695871, ...new Array<number>(6).fill(0), 0.000536304908, 0.0172181073, 0.04190987,
      ...new Array<number>(10).fill(0),
    ];
    expectAllClose(thresholdLocalSensitivityBounds([19.5, -5.1, 0], teachers, 10.1, 2, 10), expected, 1e-8, 'answer4');
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 19.5, 20.5, 3.2].map(roundHalfToEven)).toEqual([0, 2, 2, -0, -2, 20, 20, 3]);
  });
});

describe('smooth sensitivity and the GNSS mechanism', () => {
  it('SS_beta is the largest discounted local sensitivity', () => {
    expect(discountedMax(0, [1, 3, 2])).toBe(3);
    expectRelativelyClose(discountedMax(1, [1, 3, 2]), Math.max(1, 3 * Math.exp(-1), 2 * Math.exp(-2)), 1e-15, 'beta 1');
    expect(() => discountedMax(-1, [1])).toThrow(/beta must be a finite number >= 0/);
  });

  it("GNSS RDP matches their compute_rdp_of_smooth_sensitivity_gaussian (Theorem 23) and refuses orders >= 1/(2 beta)", () => {
    // Reference run: compute_rdp_of_smooth_sensitivity_gaussian(beta, sigma, order).
    expectRelativelyClose(rdpSmoothSensitivityGaussian(0.03, 5, 10), 0.5089729926111525, 1e-14, '(0.03, 5, 10)');
    expectRelativelyClose(rdpSmoothSensitivityGaussian(0.049, 2, 10), 3.0291860186283888, 1e-14, '(0.049, 2, 10)');
    expectRelativelyClose(rdpSmoothSensitivityGaussian(0, 1, 2), 2, 1e-15, '(0, 1, 2)');
    expectRelativelyClose(rdpSmoothSensitivityGaussian(0.1, 0.7, 2.5), 6.629362452160305, 1e-14, '(0.1, 0.7, 2.5)');
    expect(() => rdpSmoothSensitivityGaussian(0.05, 2, 10)).toThrow(/order 10 is outside \(1, 1\/\(2 beta\)\)/);
    expect(() => rdpSmoothSensitivityGaussian(0.01, 0, 10)).toThrow(/sigma must be > 0/);
  });

  it('the beta grid of smooth_sensitivity_table.py and the parameters of their compute_params_for_ss_release', () => {
    const grid = smoothSensitivityBetaGrid(20);
    expect(grid).toHaveLength(20);
    expectRelativelyClose(grid[0]! * 20, 0.3, 1e-14, 'first');
    expectRelativelyClose(grid[19]! * 20, 0.49, 1e-14, 'last');
    // Reference run: compute_params_for_ss_release(1., 1e-5).
    const { alpha, beta } = smoothSensitivityReleaseParameters(1, 1e-5);
    expectRelativelyClose(alpha, 0.05623926195650064, 1e-12, 'alpha');
    expectRelativelyClose(beta, 0.023995446214257775, 1e-12, 'beta');
  });

  it('checks conditions C5 and C6 as their check_conditions test does', () => {
    // Test file: check_conditions(20, 10, 25.) == (True, False); check_conditions(30, 10, 25.) == (True, True).
    expect(checkSmoothSensitivityConditions(20, 10, 25)).toEqual({ c5: true, c6: false });
    expect(checkSmoothSensitivityConditions(30, 10, 25)).toEqual({ c5: true, c6: true });
    expect(checkSmoothSensitivityConditions(40, 10, 10)).toEqual({ c5: true, c6: true });
  });

  it('rejects bad input with the argument and the problem', () => {
    expect(() => gnmaxLocalSensitivityBounds([10, 0], 0, 1, 2)).toThrow(/teachers must be a positive integer/);
    expect(() => gnmaxLocalSensitivityBounds([10, 0], 10, 0, 2)).toThrow(/sigma must be a finite number > 0/);
    expect(() => gnmaxLocalSensitivityBounds([10, 0], 10, 1, 1)).toThrow(/order must be a finite number > 1/);
    expect(() => thresholdLocalSensitivityBounds([40, 0], 30, 10, 2, 10)).toThrow(/max count 40 must lie in \[0, 30 teachers\]/);
    expect(() => thresholdLocalSensitivityBounds([10, 0], 30, Number.NaN, 2, 10)).toThrow(/threshold must be finite/);
    expect(() => checkSmoothSensitivityConditions(30, 1, 25)).toThrow(/classes must be an integer >= 2/);
  });
});
