import { describe, expect, it } from 'vitest';
import {
  FLOAT16_MAX,
  FLOAT16_MIN_NORMAL,
  FLOAT16_MIN_SUBNORMAL,
  float16BitsToFloat32,
  float16BitsToFloat32Array,
  float32ArrayToFloat16Bits,
  float32ToFloat16Bits,
  roundToFloat16,
} from './float16';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fromBits = (bits: number) => {
  u32[0] = bits >>> 0;
  return f32[0];
};

describe('float16 conversion', () => {
  it('converts hand-known values', () => {
    const cases: [number, number, number][] = [
      // [input, float16 bits, decoded value]
      [1, 0x3c00, 1],
      [-2, 0xc000, -2],
      [65504, 0x7bff, 65504],
      [65519, 0x7bff, 65504], // just below the tie: rounds down to the max
      [65520, 0x7c00, Infinity], // the tie rounds to even = 2^16 = overflow
      [-65520, 0xfc00, -Infinity],
      [1e6, 0x7c00, Infinity],
      [6e-8, 0x0001, 2 ** -24], // smallest subnormal
      [1e-9, 0x0000, 0],
      [-1e-9, 0x8000, -0],
      [0.1, 0x2e66, 0.0999755859375],
      [0, 0x0000, 0],
      [-0, 0x8000, -0],
      [Infinity, 0x7c00, Infinity],
      [-Infinity, 0xfc00, -Infinity],
      [2 ** -14, 0x0400, 2 ** -14], // smallest normal
      [2 ** -24, 0x0001, 2 ** -24],
      [2 ** -25, 0x0000, 0], // tie between 0 and 2^-24: even is 0
      [1.5 * 2 ** -25, 0x0001, 2 ** -24],
      [3 * 2 ** -25, 0x0002, 2 ** -23], // tie between 1 and 2 subnormal ulps: even is 2
      [2 ** -14 - 2 ** -25, 0x0400, 2 ** -14], // tie between largest subnormal and smallest normal
      [1 + 2 ** -11, 0x3c00, 1], // tie: mantissa 0 is even
      [1 + 3 * 2 ** -11, 0x3c02, 1 + 2 ** -9], // tie: rounds up to even
      [1 + 2 ** -11 + 2 ** -20, 0x3c01, 1 + 2 ** -10], // just above the tie
      [-3.14159, 0xc248, -3.140625],
    ];
    for (const [x, bits, value] of cases) {
      expect(float32ToFloat16Bits(x), `bits of ${x}`).toBe(bits);
      expect(Object.is(float16BitsToFloat32(bits), value), `value of 0x${bits.toString(16)}`).toBe(true);
      expect(Object.is(roundToFloat16(x), value), `round trip of ${x}`).toBe(true);
    }
    // In [1024, 2048) the float16 spacing is 1; 2047.5 is a tie between 2047 (odd) and 2048 (even).
    expect(roundToFloat16(2047.5)).toBe(2048);
    expect(roundToFloat16(2046.5)).toBe(2046);
    expect(FLOAT16_MAX).toBe(65504);
    expect(FLOAT16_MIN_NORMAL).toBe(float16BitsToFloat32(0x0400));
    expect(FLOAT16_MIN_SUBNORMAL).toBe(float16BitsToFloat32(0x0001));
  });

  it('maps NaN to a NaN', () => {
    expect(float32ToFloat16Bits(NaN) & 0x7fff).toBe(0x7e00);
    expect(float16BitsToFloat32(0x7e00)).toBeNaN();
    expect(float16BitsToFloat32(0x7c01)).toBeNaN();
    expect(float16BitsToFloat32(0xfe00)).toBeNaN();
    expect(float32ToFloat16Bits(fromBits(0x7f800001)) & 0x7fff).toBe(0x7e00); // signalling float32 NaN
  });

  it('every float16 survives float16 -> float32 -> float16 exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = float16BitsToFloat32(h);
      const back = float32ToFloat16Bits(v);
      if (Number.isNaN(v)) {
        expect(back & 0x7c00).toBe(0x7c00);
        expect(back & 0x3ff).not.toBe(0);
      } else if (back !== h) {
        throw new Error(`0x${h.toString(16)} -> ${v} -> 0x${back.toString(16)}`);
      }
    }
  });

  it('matches a brute-force nearest-even reference on random float32 bit patterns', () => {
    // All non-negative finite float16 values in increasing order (bits 0x0000..0x7bff are monotone).
    const finite = Array.from({ length: 0x7c00 }, (_, h) => float16BitsToFloat32(h));
    const reference = (x: number): number => {
      const a = Math.abs(x);
      const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
      if (a >= 65520) return sign | 0x7c00;
      let lo = 0;
      let hi = finite.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (finite[mid] <= a) lo = mid;
        else hi = mid - 1;
      }
      if (finite[lo] === a || lo === finite.length - 1) return sign | lo;
      const dLo = a - finite[lo];
      const dHi = finite[lo + 1] - a;
      if (dLo < dHi) return sign | lo;
      if (dHi < dLo) return sign | (lo + 1);
      return sign | (lo % 2 === 0 ? lo : lo + 1);
    };
    let seed = 12345;
    const next = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed;
    };
    let checked = 0;
    for (let i = 0; i < 200_000; i++) {
      let bits = next();
      // Half the samples concentrate on the interesting exponents (float16 range and just below).
      if (i % 2 === 0) bits = (bits & 0x807fffff) | ((95 + (next() % 55)) << 23);
      // Some exact ties: clear low mantissa bits below the float16 rounding position.
      if (i % 7 === 0) bits = (bits & ~0x1fff) | 0x1000;
      const x = fromBits(bits);
      if (!Number.isFinite(x)) continue;
      const got = float32ToFloat16Bits(x);
      const want = reference(x);
      if (got !== want) throw new Error(`${x} (0x${(bits >>> 0).toString(16)}): got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
      checked++;
    }
    expect(checked).toBeGreaterThan(190_000);
  });

  it('round-trip error is within half precision', () => {
    let seed = 7;
    const rand = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    const values = new Float32Array(100_000);
    for (let i = 0; i < values.length; i++) {
      // Log-uniform magnitudes across and beyond the float16 range, both signs.
      values[i] = (rand() < 0.5 ? -1 : 1) * 2 ** (-30 + 46 * rand());
    }
    const back = float16BitsToFloat32Array(float32ArrayToFloat16Bits(values));
    for (let i = 0; i < values.length; i++) {
      const x = values[i];
      const a = Math.abs(x);
      const err = Math.abs(back[i] - x);
      const ok =
        a >= 65520
          ? back[i] === (x > 0 ? Infinity : -Infinity)
          : err <= (a >= FLOAT16_MIN_NORMAL ? a * 2 ** -11 : 2 ** -25);
      if (!ok) throw new Error(`${x} -> ${back[i]} (error ${err})`);
    }
    // The bound is tight: some value lands near it.
    let worst = 0;
    values.forEach((x, i) => {
      const a = Math.abs(x);
      if (a >= FLOAT16_MIN_NORMAL && a < FLOAT16_MAX) worst = Math.max(worst, Math.abs(back[i] - x) / a);
    });
    expect(worst).toBeGreaterThan(0.9 * 2 ** -11);
  });

  it('array conversion works on views with an offset', () => {
    const backing = new Float32Array([9, 1, -2, 0.1, 9]);
    const view = backing.subarray(1, 4);
    expect(Array.from(float32ArrayToFloat16Bits(view))).toEqual([0x3c00, 0xc000, 0x2e66]);
  });
});
