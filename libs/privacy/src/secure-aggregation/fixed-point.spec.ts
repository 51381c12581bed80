import { describe, expect, it } from 'vitest';

import {
  assertSumFits,
  decodeFixedPointSum,
  DEFAULT_FIXED_POINT_FORMAT,
  encodeFixedPoint,
  FixedPointFormat,
  maxSummands,
  validateFixedPointFormat,
} from './fixed-point';
import { seededUniform } from './secagg-round.testing';

describe('fixed-point encoding mod 2^32', () => {
  it('round-trips values in [0, 1] within 2^-(f+1)', () => {
    const uniform = seededUniform(1);
    for (const fractionalBits of [8, 16, 20, 24]) {
      const format = { fractionalBits, min: 0, max: 1 };
      const values = Float32Array.from({ length: 5000 }, () => uniform());
      values[0] = 0;
      values[1] = 1;
      const decoded = decodeFixedPointSum(encodeFixedPoint(values, format), 1, format);
      for (let i = 0; i < values.length; i++) {
        expect(Math.abs(decoded[i]! - values[i]!)).toBeLessThanOrEqual(2 ** -(fractionalBits + 1));
      }
    }
  });

  it('decodes a sum of k clients within k * 2^-(f+1), with an offset range holding negative values', () => {
    const format: FixedPointFormat = { fractionalBits: 16, min: -0.5, max: 1.5 };
    const uniform = seededUniform(2);
    const k = 7;
    const sum = new Uint32Array(1000);
    const exact = new Float64Array(1000);
    for (let c = 0; c < k; c++) {
      const values = Float32Array.from({ length: 1000 }, () => -0.5 + 2 * uniform());
      const encoded = encodeFixedPoint(values, format);
      for (let i = 0; i < 1000; i++) {
        sum[i] = (sum[i]! + encoded[i]!) >>> 0;
        exact[i] = exact[i]! + values[i]!;
      }
    }
    const decoded = decodeFixedPointSum(sum, k, format);
    for (let i = 0; i < 1000; i++) expect(Math.abs(decoded[i]! - exact[i]!)).toBeLessThanOrEqual(k * 2 ** -17 + 1e-12);
  });

  it('documents the headroom: values in [0, 1] with f bits allow floor((2^32 - 1) / 2^f) clients', () => {
    expect(maxSummands(DEFAULT_FIXED_POINT_FORMAT)).toBe(65_535);
    expect(maxSummands({ fractionalBits: 20, min: 0, max: 1 })).toBe(4_095);
    expect(maxSummands({ fractionalBits: 24, min: 0, max: 1 })).toBe(255);
    expect(() => assertSumFits(DEFAULT_FIXED_POINT_FORMAT, 65_535)).not.toThrow();
    // 65,536 clients all sending 1.0 would sum to 2^16 * 2^16 = 2^32 = 0 mod 2^32.
    expect(() => assertSumFits(DEFAULT_FIXED_POINT_FORMAT, 65_536)).toThrow(
      expect.objectContaining({ code: 'FIXED_POINT_OVERFLOW' }),
    );
  });

  it('refuses values outside the range or not finite, rather than clamping them', () => {
    for (const bad of [-0.001, 1.0001, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => encodeFixedPoint([0.5, bad], DEFAULT_FIXED_POINT_FORMAT)).toThrow(
        expect.objectContaining({ code: 'VALUE_OUT_OF_RANGE' }),
      );
    }
  });

  it('refuses formats that cannot work', () => {
    for (const bad of [
      { fractionalBits: 0, min: 0, max: 1 },
      { fractionalBits: 16.5, min: 0, max: 1 },
      { fractionalBits: 16, min: 1, max: 1 },
      { fractionalBits: 30, min: 0, max: 8 },
    ]) {
      expect(() => validateFixedPointFormat(bad)).toThrow(expect.objectContaining({ code: 'INVALID_PARAMETERS' }));
    }
  });
});
