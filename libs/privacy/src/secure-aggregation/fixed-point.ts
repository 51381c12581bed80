import { SecureAggregationError } from './errors';

/**
 * Fixed-point encoding of real vectors in Z_{2^32}, the ring secure aggregation sums in.
 *
 * A value x in [min, max] becomes q = round((x - min) * 2^f), an integer in [0, Q] with
 * Q = round((max - min) * 2^f). The encoding error is at most 2^-(f+1) per value, so a sum of k
 * clients is off by at most k * 2^-(f+1) per element.
 *
 * Headroom: the server only sees the sum mod 2^32, which is exact as long as the true sum of the
 * encoded values stays below 2^32, i.e. k * Q <= 2^32 - 1, so at most
 *   maxSummands = floor((2^32 - 1) / Q)
 * clients. Default: soft predictions in [0, 1] with f = 16 fractional bits, Q = 2^16, resolution
 * 2^-16 ~ 1.5e-5 (error <= 7.6e-6 per value, finer than float16's 4.9e-4 near 1) and at most
 * 65,535 clients. f = 20 would allow 4,095 clients, f = 24 only 255.
 *
 * Values outside [min, max] are refused, not clamped (a silent clamp would bias the aggregate).
 * A differentially private client that adds noise first should clamp the noised value into the
 * range itself (post-processing keeps the DP guarantee) or configure a wider range, e.g.
 * [-0.5, 1.5]; the offset `min` is added back once per client when the sum is decoded.
 */
export interface FixedPointFormat {
  /** f: fractional bits, 1..30. */
  fractionalBits: number;
  min: number;
  max: number;
}

export const DEFAULT_FIXED_POINT_FORMAT: Readonly<FixedPointFormat> = Object.freeze({
  fractionalBits: 16,
  min: 0,
  max: 1,
});

const RING = 2 ** 32;

export function validateFixedPointFormat(format: FixedPointFormat): void {
  const { fractionalBits: f, min, max } = format;
  if (!Number.isInteger(f) || f < 1 || f > 30) {
    throw new SecureAggregationError(
      'INVALID_PARAMETERS',
      `fixed point: fractionalBits must be an integer in 1..30, got ${f}`,
    );
  }
  if (!Number.isFinite(min) || !Number.isFinite(max) || !(min < max)) {
    throw new SecureAggregationError('INVALID_PARAMETERS', `fixed point: need finite min < max, got [${min}, ${max}]`);
  }
  if (maxEncodedValue(format) > RING - 1) {
    throw new SecureAggregationError(
      'INVALID_PARAMETERS',
      `fixed point: (max - min) * 2^${f} does not fit in 32 bits: narrow the range or use fewer fractional bits`,
    );
  }
}

/** Q: the largest encoded value of one client, round((max - min) * 2^f). */
export function maxEncodedValue(format: FixedPointFormat): number {
  return Math.round((format.max - format.min) * 2 ** format.fractionalBits);
}

/** The most clients whose encoded values can be summed mod 2^32 without wrapping. */
export function maxSummands(format: FixedPointFormat): number {
  return Math.floor((RING - 1) / maxEncodedValue(format));
}

/** Throws FIXED_POINT_OVERFLOW if the sum of `summands` clients could wrap mod 2^32. */
export function assertSumFits(format: FixedPointFormat, summands: number): void {
  const limit = maxSummands(format);
  if (summands > limit) {
    throw new SecureAggregationError(
      'FIXED_POINT_OVERFLOW',
      `fixed point: the sum of ${summands} clients' values in [${format.min}, ${format.max}] with ` +
        `${format.fractionalBits} fractional bits can exceed 2^32; at most ${limit} clients fit`,
    );
  }
}

/** q_i = round((x_i - min) * 2^f); throws VALUE_OUT_OF_RANGE for a value outside [min, max] or not finite. */
export function encodeFixedPoint(values: ArrayLike<number>, format: FixedPointFormat): Uint32Array {
  const scale = 2 ** format.fractionalBits;
  const { min, max } = format;
  const encoded = new Uint32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (!(x >= min && x <= max)) {
      throw new SecureAggregationError(
        'VALUE_OUT_OF_RANGE',
        `fixed point: value ${x} at index ${i} is outside [${min}, ${max}]`,
      );
    }
    encoded[i] = Math.round((x - min) * scale);
  }
  return encoded;
}

/** The real sum of `summands` clients' values from the sum of their encodings (exact mod 2^32). */
export function decodeFixedPointSum(sum: Uint32Array, summands: number, format: FixedPointFormat): Float64Array {
  const inverseScale = 2 ** -format.fractionalBits;
  const offset = summands * format.min;
  const decoded = new Float64Array(sum.length);
  for (let i = 0; i < sum.length; i++) decoded[i] = sum[i]! * inverseScale + offset;
  return decoded;
}
