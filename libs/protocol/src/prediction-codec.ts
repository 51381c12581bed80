import { float16BitsToFloat32Array, float32ArrayToFloat16Bits } from '@fedkd/engine';
import type { PredictionEncoding } from './messages';

/**
 * Binary codecs for soft predictions: n rows of `classes` probabilities, row-major.
 *
 * - `float32`: 4 bytes per value, little-endian. Exact.
 * - `float16`: 2 bytes per value, little-endian IEEE binary16 (round to nearest even, via the
 *   engine's converter). Relative error <= 2^-11 (4.9e-4) for values >= 2^-14; below that
 *   (subnormals) the absolute error is <= 2^-25 (3e-8). A decoded row sums to 1 within
 *   2^-11 * 1 + C * 2^-25, inside the aggregation validator's 1e-3 tolerance. Not renormalised.
 * - `uint8`: 1 byte per value plus one float32 LE scale per row (`scales`, 4n bytes). With
 *   m = the row's maximum, q = round(p / m * 255) (so the maximum is sent as 255) and
 *   scale = m / 255. Decoding computes q * scale and renormalises each row to sum to 1 (within
 *   float32 rounding, < 1e-6). Because of the renormalisation the scale cancels out: it is sent
 *   so that q * scale approximates the original values, and validated, but does not change the
 *   decoded probabilities. Error: before renormalisation each value is off by at most
 *   m / 510 (half a step) and the maximum by nothing, so the row sum S is off by at most
 *   E = (C - 1) m / 510; dividing by S moves a value p by up to p E / (1 - E) more.
 *   Bound: |decoded - p| <= (m / 510)(1 + (C - 1) p) / (1 - E) <= C / (511 - C) (0.0199 for C = 10).
 *   That worst case needs a row whose C - 1 small values all sit just under half a step
 *   (e.g. [0.983, 9 x 0.0019] decodes to [1, 0, ..., 0], off by 0.017). Measured on 2000 x 10
 *   softmax rows: 0.003 to 0.010 at most, depending on how peaked the rows are. Values below
 *   max / 510 decode to 0, so uint8 drops the smallest probabilities ("dark knowledge" at T = 1):
 *   prefer float16 (half of float32's bytes, 40x more precise) unless bandwidth is critical.
 *
 * Decoders copy the bytes before reading them: socket.io hands binary over as Node Buffers that
 * may start at an unaligned offset inside a shared (pooled) ArrayBuffer.
 */

export const PREDICTION_ENCODINGS: readonly PredictionEncoding[] = ['float32', 'float16', 'uint8'];

export function isPredictionEncoding(value: unknown): value is PredictionEncoding {
  return typeof value === 'string' && (PREDICTION_ENCODINGS as readonly string[]).includes(value);
}

/** The binary parts of a predictions message. `scales` is present only for `uint8`. */
export interface EncodedPredictions {
  data: Uint8Array;
  scales?: Uint8Array;
}

/** What decoding needs: the fields of a RoundPredictions message (binary as Buffer, Uint8Array or ArrayBuffer). */
export interface PredictionPayload {
  encoding: PredictionEncoding;
  n: number;
  classes: number;
  data: Uint8Array | ArrayBuffer;
  scales?: Uint8Array | ArrayBuffer;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes of the `data` field for an n x classes matrix. */
export function predictionDataBytes(n: number, classes: number, encoding: PredictionEncoding): number {
  checkShape(n, classes);
  const values = n * classes;
  switch (encoding) {
    case 'float32':
      return values * 4;
    case 'float16':
      return values * 2;
    case 'uint8':
      return values;
    default:
      throw new RangeError(`unknown prediction encoding ${JSON.stringify(encoding)}`);
  }
}

/** Bytes of the `scales` field: 4 per row for `uint8`, 0 otherwise. */
export function predictionScalesBytes(n: number, classes: number, encoding: PredictionEncoding): number {
  checkShape(n, classes);
  return encoding === 'uint8' ? n * 4 : 0;
}

/** Total binary bytes (data + scales) of an n x classes predictions message in this encoding. */
export function predictionPayloadBytes(n: number, classes: number, encoding: PredictionEncoding): number {
  return predictionDataBytes(n, classes, encoding) + predictionScalesBytes(n, classes, encoding);
}

/**
 * Encodes n x classes probabilities (row-major). Throws RangeError on a length mismatch, and for
 * `uint8` on a negative or non-finite value or a row whose maximum is 0 (not a probability row).
 */
export function encodePredictions(
  rows: Float32Array,
  n: number,
  classes: number,
  encoding: PredictionEncoding,
): EncodedPredictions {
  checkShape(n, classes);
  if (!(rows instanceof Float32Array) || rows.length !== n * classes) {
    throw new RangeError(`expected a Float32Array of n * classes = ${n} * ${classes} = ${n * classes} values, got ${rows?.length}`);
  }
  switch (encoding) {
    case 'float32':
      return { data: float32ToLittleEndianBytes(rows) };
    case 'float16':
      return { data: uint16ToLittleEndianBytes(float32ArrayToFloat16Bits(rows)) };
    case 'uint8':
      return encodeUint8(rows, n, classes);
    default:
      throw new RangeError(`unknown prediction encoding ${JSON.stringify(encoding)}`);
  }
}

/**
 * Decodes a payload to n x classes float32 probabilities (a fresh array). Throws RangeError when
 * the byte lengths do not match n, classes and the encoding; does not check the values. For
 * untrusted input use `validateRoundPredictions`, which checks everything first and never throws.
 * A `uint8` row whose values sum to 0 (or whose scale is not finite) decodes to NaN.
 */
export function decodePredictions(payload: PredictionPayload): Float32Array {
  const { encoding, n, classes } = payload;
  const dataBytes = predictionDataBytes(n, classes, encoding);
  const data = copyBytes(payload.data);
  if (data.byteLength !== dataBytes) {
    throw new RangeError(`${encoding} data for ${n} x ${classes} must be ${dataBytes} bytes, got ${data.byteLength}`);
  }
  switch (encoding) {
    case 'float32':
      return float32FromLittleEndianBytes(data);
    case 'float16':
      return float16BitsToFloat32Array(uint16FromLittleEndianBytes(data));
    case 'uint8': {
      if (payload.scales === undefined) throw new RangeError('uint8 predictions need scales (one float32 per row)');
      const scales = copyBytes(payload.scales);
      if (scales.byteLength !== n * 4) {
        throw new RangeError(`uint8 scales for ${n} rows must be ${n * 4} bytes, got ${scales.byteLength}`);
      }
      return decodeUint8(data, float32FromLittleEndianBytes(scales), n, classes);
    }
    default:
      throw new RangeError(`unknown prediction encoding ${JSON.stringify(encoding)}`);
  }
}

function encodeUint8(rows: Float32Array, n: number, classes: number): EncodedPredictions {
  const data = new Uint8Array(n * classes);
  const scales = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * classes;
    let max = 0;
    for (let c = 0; c < classes; c++) {
      const p = rows[base + c];
      if (!(p >= 0) || p === Infinity) {
        throw new RangeError(`uint8 encoding needs finite non-negative values: row ${i}, class ${c} is ${p}`);
      }
      if (p > max) max = p;
    }
    if (max === 0) throw new RangeError(`uint8 encoding cannot encode row ${i}: all its values are 0`);
    for (let c = 0; c < classes; c++) data[base + c] = Math.round((rows[base + c] / max) * 255);
    scales[i] = max / 255;
  }
  return { data, scales: float32ToLittleEndianBytes(scales) };
}

function decodeUint8(data: Uint8Array, scales: Float32Array, n: number, classes: number): Float32Array {
  const out = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    const base = i * classes;
    const scale = scales[i];
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += data[base + c] * scale;
    for (let c = 0; c < classes; c++) out[base + c] = (data[base + c] * scale) / sum;
  }
  return out;
}

function checkShape(n: number, classes: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || !Number.isSafeInteger(classes) || classes < 1) {
    throw new RangeError(`prediction shape needs positive integers n and classes, got n=${n}, classes=${classes}`);
  }
}

/** A private, offset-0 copy of some bytes (so typed-array views on it are aligned). */
function copyBytes(bytes: Uint8Array | ArrayBuffer): Uint8Array {
  return bytes instanceof ArrayBuffer ? new Uint8Array(bytes.slice(0)) : new Uint8Array(bytes);
}

/** Reads float32 LE values from bytes this module owns (offset 0, so aligned). */
function float32FromLittleEndianBytes(owned: Uint8Array): Float32Array {
  const count = owned.byteLength / 4;
  if (LITTLE_ENDIAN_HOST) return new Float32Array(owned.buffer, owned.byteOffset, count);
  const view = new DataView(owned.buffer, owned.byteOffset, owned.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function uint16FromLittleEndianBytes(owned: Uint8Array): Uint16Array {
  const count = owned.byteLength / 2;
  if (LITTLE_ENDIAN_HOST) return new Uint16Array(owned.buffer, owned.byteOffset, count);
  const view = new DataView(owned.buffer, owned.byteOffset, owned.byteLength);
  const out = new Uint16Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getUint16(i * 2, true);
  return out;
}

function float32ToLittleEndianBytes(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(values.slice().buffer);
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

function uint16ToLittleEndianBytes(values: Uint16Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(i * 2, values[i], true);
  return out;
}
