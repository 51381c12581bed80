/**
 * IEEE 754 binary16 <-> binary32 conversion on raw bits (no Math.f16round in Node 20).
 * float32 -> float16 rounds to nearest, ties to even; handles subnormals, signed zeros,
 * infinities, NaN (encoded as the quiet NaN 0x7e00 with the input's sign) and overflow to
 * infinity (|x| >= 65520 becomes inf, as the tie at 65520 rounds to the even 65536).
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Largest finite float16: 65504. */
export const FLOAT16_MAX = 65504;
/** Smallest positive normal float16: 2^-14. */
export const FLOAT16_MIN_NORMAL = 2 ** -14;
/** Smallest positive subnormal float16: 2^-24. */
export const FLOAT16_MIN_SUBNORMAL = 2 ** -24;

/** Bits of a float32 (given as its uint32 bit pattern) rounded to float16 bits. */
export function float32BitsToFloat16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;

  if (exp === 0xff) return sign | (mant !== 0 ? 0x7e00 : 0x7c00); // NaN / inf
  if (exp > 142) return sign | 0x7c00; // 2^16 and above: overflow
  if (exp >= 113) {
    // Normal float16 range 2^-14 .. 2^15 (or a round-up into the next binade / inf, which the
    // carry out of the mantissa produces naturally).
    let h = ((exp - 112) << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h += 1;
    return sign | h;
  }
  if (exp < 102) return sign; // below 2^-25: rounds to (signed) zero
  // Subnormal float16 (value k * 2^-24), including values that round up to the smallest normal.
  const full = mant | 0x800000; // value = full * 2^(exp - 150)
  const shift = 126 - exp; // 14 .. 24
  let k = full >>> shift;
  const rem = full & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (k & 1) !== 0)) k += 1;
  return sign | k;
}

/** A number rounded to float32 and then to float16; returns the 16 bits. */
export function float32ToFloat16Bits(x: number): number {
  scratchF32[0] = x;
  return float32BitsToFloat16Bits(scratchU32[0]);
}

/** The exact value of float16 bits, as a number (every float16 is exactly a float32). */
export function float16BitsToFloat32(h: number): number {
  const negative = (h & 0x8000) !== 0;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  let v: number;
  if (exp === 0) v = mant * FLOAT16_MIN_SUBNORMAL;
  else if (exp === 0x1f) v = mant !== 0 ? NaN : Infinity;
  else v = (1024 + mant) * 2 ** (exp - 25);
  return negative ? -v : v;
}

/** The value x would have after a float16 round trip. */
export function roundToFloat16(x: number): number {
  return float16BitsToFloat32(float32ToFloat16Bits(x));
}

/** Converts a whole array to float16 bits (into `out` if given). */
export function float32ArrayToFloat16Bits(values: Float32Array, out = new Uint16Array(values.length)): Uint16Array {
  if (out.length !== values.length) throw new RangeError('float16 output length differs from input length');
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) out[i] = float32BitsToFloat16Bits(bits[i]);
  return out;
}

let decodeTable: Float32Array | null = null;

/** Converts float16 bits back to float32 values (exact; table lookup, 256 KiB built on first use). */
export function float16BitsToFloat32Array(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  if (out.length !== bits.length) throw new RangeError('float32 output length differs from input length');
  if (decodeTable === null) {
    const table = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) table[h] = float16BitsToFloat32(h);
    decodeTable = table;
  }
  const table = decodeTable;
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}
