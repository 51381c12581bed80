import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { PrivacyLedger } from '../ledger/privacy-ledger';
import { privacyMechanism } from '../privacy-mechanism';

import { RdpAccountant } from './rdp-accountant';
import { sweepOvershoot } from './order-grid-sweep';
import { rdpGnmaxDataIndependent } from './rdp-gnmax';
import { rdpSubsampledGaussian, subsampledGaussianRdpAt } from './rdp-subsampled-gaussian';
import { DEFAULT_ORDERS, TF_PRIVACY_ORDERS, nonNegativeRdp } from './rdp-orders';
import { epsilonFromRdp } from './rdp-to-epsilon';

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
    expect(Object.keys(result).sort()).toEqual(['gaussian', 'gnmax', 'subsampledGaussian']);
    for (const [mechanism, { worst, where }] of Object.entries(result)) {
      expect(worst, `${mechanism} at ${where}`).toBeLessThanOrEqual(0.01);
      // The grid can never beat the continuous optimum (up to the search's rounding).
      expect(worst, `${mechanism} at ${where}`).toBeGreaterThanOrEqual(-1e-9);
    }
  });

  it('the old TensorFlow Privacy grid fails the Gaussian and GNMax sweeps (the check can fail)', () => {
    const result = sweepOvershoot(TF_PRIVACY_ORDERS, ['gaussian', 'gnmax']);
    expect(result.gaussian!.worst).toBeGreaterThan(0.01);
    expect(result.gnmax!.worst).toBeGreaterThan(0.01);
  });
});

describe('negative RDP values: rounding is clamped to 0, real errors are refused', () => {
  it('clamps values within 1e-12 (relative to the curve) below 0 and keeps the rest', () => {
    expect(nonNegativeRdp([-1e-17, 0.5, Infinity], [2, 3, 4], 'test')).toEqual([0, 0.5, Infinity]);
    expect(nonNegativeRdp([-1e-10, 1000], [2, 3], 'test')).toEqual([0, 1000]);
  });

  it('subsampled Gaussian at very large noise: log A rounded just below 0 gives RDP 0, and the default grid accounts it', () => {
    // log A_alpha comes out about -1e-15 here; divided by alpha - 1 = 0.02 that was -9.5e-14.
    expect(subsampledGaussianRdpAt(1e-3, 1e4, 1.02)).toBe(0);
    for (const [q, sigma] of [[1e-3, 1e4]] as const) {
      const rdp = rdpSubsampledGaussian(q, sigma, 1000);
      for (const r of rdp) expect(r, `q ${q} sigma ${sigma}`).toBeGreaterThanOrEqual(0);
      expect(new RdpAccountant().compose(rdp).epsilon(1e-5).epsilon).toBeLessThan(0.012); // log(1e5) / 1023 = 0.01125: the grid floor
    }
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

const DETAILS = { mechanism: 'gnmax', queries: 10, answered: 10, delta: 1e-5 } as const;

describe('a privacy ledger created on the old default orders', () => {
  it("is charged on its own orders: a mechanism's roundRdp computes the cost at the orders it is given", () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'fedkd-old-orders-'));
    try {
      const file = path.join(directory, 'ledger.json');
      PrivacyLedger.load(file, { orders: TF_PRIVACY_ORDERS }).charge(1, rdpGnmaxDataIndependent(40, TF_PRIVACY_ORDERS), DETAILS);
      const reopened = PrivacyLedger.load(file);
      expect(reopened.orders).toEqual(TF_PRIVACY_ORDERS);
      const spec = { mechanism: 'gnmax', sigma: 40 } as const;
      expect(() => reopened.check(privacyMechanism(spec).roundRdp(10), 100, 1e-5)).toThrow(/ledger tracks 73 orders/);
      const cost = privacyMechanism(spec).roundRdp(10, reopened.orders);
      expect(cost).toEqual(rdpGnmaxDataIndependent(40, TF_PRIVACY_ORDERS).map((r) => 10 * r));
      expect(reopened.charge(2, cost, DETAILS).ok).toBe(true);
    } finally {
      fs.rmSync(directory, { recursive: true, force: true });
    }
  });
});
