import { describe, expect, it } from 'vitest';

import { log1mExp, logAdd, logSub, logSumExp } from './log-space-arithmetic';
import { erfc, logErfc, logNormalCdf, logNormalSurvival } from './normal-tail';
import { expectRelativelyClose } from './relative-error.testing';

// Reference values computed with 40-digit arithmetic (mpmath.erfc).
const ERFC_REFERENCE: Array<[x: number, erfc: number, logErfc: number]> = [
  [-3, 1.9999779095030014, 0.69313613525044681],
  [0.5, 0.47950012218695346, -0.7350111298370844],
  [1.99, 0.004888586800383003, -5.3208520151399767],
  [2, 0.0046777349810472658, -5.3649412646166376],
  [5, 1.5374597944280349e-12, -27.200889545537434],
  [27, 5.2370489237892557e-319, -732.86888650789741],
  [40, 0, -1604.2615566532736],
  [100, 0, -10005.177585122664],
];

describe('erfc and Gaussian tails in log space', () => {
  it('matches high-precision erfc on both sides of the series / continued-fraction switch and far in the tail', () => {
    for (const [x, value, logValue] of ERFC_REFERENCE) {
      if (value > 1e-300) expectRelativelyClose(erfc(x), value, 1e-13, `erfc(${x})`);
      expectRelativelyClose(logErfc(x), logValue, 1e-13, `logErfc(${x})`);
    }
    expect(erfc(0)).toBe(1);
    expect(logErfc(Infinity)).toBe(-Infinity);
    expectRelativelyClose(logErfc(-Infinity), Math.LN2, 1e-15, 'logErfc(-inf)');
  });

  it('gives the normal survival function and cdf at any scale', () => {
    expectRelativelyClose(logNormalSurvival(0, 3), Math.log(0.5), 1e-15, 'sf(0)');
    // Pr[N(0, 1) > 1.959963984540054] = 0.025
    expectRelativelyClose(logNormalSurvival(1.959963984540054), Math.log(0.025), 1e-12, 'sf(1.96)');
    expectRelativelyClose(logNormalSurvival(2 * 1.959963984540054, 2), Math.log(0.025), 1e-12, 'sf(3.92; 2)');
    expectRelativelyClose(logNormalCdf(-1.959963984540054), Math.log(0.025), 1e-12, 'cdf(-1.96)');
    expect(() => logNormalSurvival(1, 0)).toThrow(RangeError);
  });

  it('adds and subtracts in log space without overflow', () => {
    expectRelativelyClose(logAdd(Math.log(2), Math.log(3)), Math.log(5), 1e-15, 'log(2 + 3)');
    expect(logAdd(-Infinity, 4)).toBe(4);
    expectRelativelyClose(logAdd(1000, 1000), 1000 + Math.LN2, 1e-15, 'huge');
    expectRelativelyClose(logSub(Math.log(5), Math.log(3)), Math.log(2), 1e-15, 'log(5 - 3)');
    expect(logSub(7, 7)).toBe(-Infinity);
    expect(() => logSub(1, 2)).toThrow(RangeError);
    expectRelativelyClose(log1mExp(-1e-20), Math.log(1e-20), 1e-12, 'log1mExp near 0');
    expectRelativelyClose(log1mExp(-50), -Math.exp(-50), 1e-12, 'log1mExp far');
    expect(log1mExp(0)).toBe(-Infinity);
    expect(() => log1mExp(0.1)).toThrow(RangeError);
    expectRelativelyClose(logSumExp([-1000, -1000, -1000]), -1000 + Math.log(3), 1e-15, 'logSumExp');
    expect(logSumExp([])).toBe(-Infinity);
  });
});
