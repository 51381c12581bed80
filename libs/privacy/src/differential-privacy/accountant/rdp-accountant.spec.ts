import { describe, expect, it } from 'vitest';

import { RdpAccountant } from './rdp-accountant';
import { rdpGnmaxDataDependent, rdpGnmaxDataIndependent } from './rdp-gnmax';
import { TF_PRIVACY_ORDERS } from './rdp-orders';
import { epsilonFromRdpBalle2020, epsilonFromRdpClassic } from './rdp-to-epsilon';
import { rdpSubsampledGaussian } from './rdp-subsampled-gaussian';
import { expectRelativelyClose } from './relative-error.testing';

const DELTA = 1e-5;
// Reference values below were computed at TensorFlow Privacy's orders (the default before issue 13).
const ORDERS = TF_PRIVACY_ORDERS;

describe('RdpAccountant', () => {
  it('composes curves by addition and converts with either conversion', () => {
    const accountant = new RdpAccountant(ORDERS);
    expect(accountant.orders).toEqual(ORDERS);
    expect(accountant.epsilon(DELTA).epsilon).toBeCloseTo(Math.log(1e5) / 511, 12);

    const perEpoch = rdpSubsampledGaussian(256 / 60000, 1.1, 60000 / 256, ORDERS);
    for (let epoch = 0; epoch < 60; epoch++) accountant.compose(perEpoch);
    const direct = rdpSubsampledGaussian(256 / 60000, 1.1, 14062.5, ORDERS);
    accountant.rdp.forEach((r, k) => expectRelativelyClose(r, direct[k]!, 1e-12, `order ${ORDERS[k]}`));

    const classic = accountant.epsilon(DELTA);
    expect(classic).toEqual({
      epsilon: epsilonFromRdpClassic(ORDERS, accountant.rdp, DELTA).epsilon,
      delta: DELTA,
      order: 9,
      conversion: 'classic',
      dataDependent: false,
      basis: 'data-independent',
    });
    expect(classic.epsilon.toFixed(2)).toBe('3.01');
    const balle = accountant.epsilon(DELTA, 'balle2020');
    expect(balle.epsilon).toBe(epsilonFromRdpBalle2020(ORDERS, accountant.rdp, DELTA).epsilon);
    expect(balle.epsilon).toBeLessThan(classic.epsilon);
  });

  it('composes count identical releases at once', () => {
    const one = rdpGnmaxDataIndependent(40, ORDERS);
    const byCount = new RdpAccountant(ORDERS).compose(one, { count: 1000 });
    const oneByOne = new RdpAccountant(ORDERS);
    for (let i = 0; i < 1000; i++) oneByOne.compose(one);
    byCount.rdp.forEach((r, k) => expectRelativelyClose(r, oneByOne.rdp[k]!, 1e-12, `order ${k}`));
    expect(new RdpAccountant(ORDERS).compose(rdpGnmaxDataIndependent(0, ORDERS), { count: 0 }).rdp).toEqual(ORDERS.map(() => 0));
  });

  it('tags a total with any data-dependent cost as unsanitised, for good', () => {
    const accountant = new RdpAccountant(ORDERS).compose(rdpGnmaxDataIndependent(40, ORDERS), { count: 10 });
    expect(accountant.epsilon(DELTA).basis).toBe('data-independent');
    accountant.compose(rdpGnmaxDataDependent([250, 0, 0], 40, ORDERS), { dataDependent: true });
    expect(accountant.dataDependent).toBe(true);
    expect(accountant.epsilon(DELTA)).toMatchObject({ dataDependent: true, basis: 'data-dependent-unsanitised' });
    accountant.compose(rdpGnmaxDataIndependent(40, ORDERS));
    expect(accountant.epsilon(DELTA, 'balle2020').basis).toBe('data-dependent-unsanitised');
    expect(accountant.toJSON().dataDependent).toBe(true);
    expect(RdpAccountant.fromJSON(JSON.parse(JSON.stringify(accountant))).dataDependent).toBe(true);
  });

  it('wouldExceed reports the epsilon after the extra cost without spending it', () => {
    const accountant = new RdpAccountant(ORDERS).compose(rdpGnmaxDataIndependent(40, ORDERS), { count: 900 });
    const before = accountant.rdp;
    const extra = rdpGnmaxDataIndependent(40, ORDERS).map((r) => 100 * r);
    const expectedAfter = epsilonFromRdpClassic(
      ORDERS,
      before.map((r, k) => r + extra[k]!),
      DELTA,
    ).epsilon;
    const check = accountant.wouldExceed(extra, 6, DELTA);
    expect(check.epsilonAfter).toBeCloseTo(expectedAfter, 12);
    expect(check.epsilonAfter).toBeCloseTo(6.003231366242558, 9);
    expect(check.ok).toBe(false);
    expect(check.epsilonBefore).toBe(accountant.epsilon(DELTA).epsilon);
    expect(check.basis).toBe('data-independent');
    expect(accountant.wouldExceed(extra, 6.01, DELTA).ok).toBe(true);
    expect(accountant.wouldExceed(extra, Infinity, DELTA).ok).toBe(true);
    expect(accountant.rdp).toEqual(before);
    const balle = accountant.wouldExceed(extra, 6, DELTA, { conversion: 'balle2020' });
    expect(balle.ok).toBe(true);
    expect(balle.epsilonAfter).toBeLessThan(check.epsilonAfter);
    expect(accountant.wouldExceed(extra, 100, DELTA, { dataDependent: true }).basis).toBe('data-dependent-unsanitised');
    expect(accountant.dataDependent).toBe(false);
    expect(accountant.wouldExceed(rdpGnmaxDataIndependent(0, ORDERS), 100, DELTA)).toMatchObject({ ok: false, epsilonAfter: Infinity });
    expect(() => accountant.wouldExceed(extra, -1, DELTA)).toThrow(RangeError);
  });

  it('round-trips through plain JSON, infinities included', () => {
    const orders = [1.5, 2, 8, 32];
    const accountant = new RdpAccountant(orders)
      .compose(rdpSubsampledGaussian(0.01, 1, 1000, orders))
      .compose([0, 0, 0, Infinity]);
    const json = accountant.toJSON();
    expect(json.orders).toEqual(orders);
    expect(json.rdp[3]).toBeNull();
    expect(json.dataDependent).toBe(false);
    const viaText = RdpAccountant.fromJSON(JSON.parse(JSON.stringify(accountant)));
    expect(viaText.orders).toEqual(orders);
    expect(viaText.rdp).toEqual(accountant.rdp);
    expect(viaText.rdp[3]).toBe(Infinity);
    expect(viaText.epsilon(DELTA)).toEqual(accountant.epsilon(DELTA));
    // A hand-written { orders, rdp } (no flag) reads as data-independent.
    const plain = RdpAccountant.fromJSON({ orders: [2, 3], rdp: [0.1, 0.2] });
    expect(plain.rdp).toEqual([0.1, 0.2]);
    expect(plain.dataDependent).toBe(false);
  });

  it('refuses malformed state and mismatched curves', () => {
    expect(() => RdpAccountant.fromJSON(null)).toThrow(RangeError);
    expect(() => RdpAccountant.fromJSON([1, 2])).toThrow(RangeError);
    expect(() => RdpAccountant.fromJSON({ orders: [2, 3], rdp: [0.1] })).toThrow(RangeError);
    expect(() => RdpAccountant.fromJSON({ orders: [2, 3], rdp: [0.1, -1] })).toThrow(RangeError);
    expect(() => RdpAccountant.fromJSON({ orders: [2, 3], rdp: [0.1, '0.2'] })).toThrow(RangeError);
    expect(() => RdpAccountant.fromJSON({ orders: [1, 3], rdp: [0.1, 0.2] })).toThrow(RangeError);
    expect(() => RdpAccountant.fromJSON({ orders: [2, 3], rdp: [0.1, 0.2], dataDependent: 'yes' })).toThrow(RangeError);
    const accountant = new RdpAccountant([2, 3]);
    expect(() => accountant.compose([1])).toThrow(RangeError);
    expect(() => accountant.compose([1, Number.NaN])).toThrow(RangeError);
    expect(() => accountant.compose([1, 1], { count: -1 })).toThrow(RangeError);
    expect(accountant.rdp).toEqual([0, 0]);
    expect(() => new RdpAccountant([2, 3]).composeAccountant(new RdpAccountant([2, 4]))).toThrow(RangeError);
  });

  it('merges another accountant and clones independently', () => {
    const a = new RdpAccountant([2, 3]).compose([0.1, 0.2]);
    const b = new RdpAccountant([2, 3]).compose([0.01, 0.02], { dataDependent: true });
    const copy = a.clone();
    a.composeAccountant(b);
    expect(a.rdp[0]).toBeCloseTo(0.11, 15);
    expect(a.rdp[1]).toBeCloseTo(0.22, 15);
    expect(a.dataDependent).toBe(true);
    expect(copy.rdp).toEqual([0.1, 0.2]);
    expect(copy.dataDependent).toBe(false);
  });
});
