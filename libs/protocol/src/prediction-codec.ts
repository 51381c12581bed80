import { float16BitsToFloat32, float16BitsToFloat32Array, float32ArrayToFloat16Bits, float32ToFloat16Bits } from '@fedkd/engine';
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
 * - `top-k:K` (K an integer in [1, classes - 1], written without leading zeros, e.g. `top-k:2`;
 *   classes <= 65536): sparse soft labels. Each row sends only its K largest probabilities:
 *   K class indices (uint8, or uint16 LE when classes > 256), then those K probabilities as
 *   float16 LE, in descending order of the value sent (equal values by ascending class index);
 *   rows back to back, no `scales`. K x 3 bytes per row for classes <= 256 (K x 4 above), e.g.
 *   6 bytes for top-k:2 over 10 classes against 20 in float16. Decoding puts the K values at
 *   their classes and spreads the rest of the mass, r = max(0, 1 - S) with S their sum, evenly
 *   over the other classes - K classes, then divides the row by max(S, 1) so that it sums to 1
 *   (within float32 rounding, < 1e-6). So when S <= 1 (always, unless the tail is below float16
 *   rounding) the K values decode exactly as float16 (relative error <= 2^-11), and every other
 *   class gets the tail's mean: the error is the tail's shape, at most r (C - K - 1) / (C - K) per
 *   value and 2 r (C - K - 1) / (C - K) + 2^-10 S in L1 per row. The encoder ranks by the float32
 *   value (ties: lower class index) and refuses values outside [0, 1] or not finite, and rows
 *   whose K sent values sum above 1 + 1e-3 (the validator refuses those too). A receiver accepts
 *   equal values in any class order; it refuses out-of-range or repeated indices, values that are
 *   not finite, negative or above 1, not in descending order, or summing above 1 + 1e-3.
 *
 * Decoders copy the bytes before reading them: socket.io hands binary over as Node Buffers that
 * may start at an unaligned offset inside a shared (pooled) ArrayBuffer.
 */

/** The fixed encodings (every value sent); `top-k:K` (see parsePredictionEncoding) is the sparse one. */
export const PREDICTION_ENCODINGS: readonly PredictionEncoding[] = ['float32', 'float16', 'uint8'];

/** Every accepted encoding, for messages: the fixed ones and the top-k form. */
export const PREDICTION_ENCODINGS_DESCRIPTION = 'float32, float16, uint8 or top-k:K (K an integer in [1, classes - 1])';

/** Largest K of `top-k:K` (K <= classes - 1, and classes <= TOP_K_MAX_CLASSES). */
export const TOP_K_MAX_K = 65_535;
/** Most classes a top-k round may have: class indices travel as uint16 above 256 classes. */
export const TOP_K_MAX_CLASSES = 65_536;

/** Largest sum of a top-k row's sent values: float16 rounding of a probability row's K largest stays far inside it. */
export const TOP_K_SUM_TOLERANCE = 1e-3;

/** A prediction encoding taken apart: one of the fixed ones, or top-k with its K. */
export type ParsedPredictionEncoding = { kind: 'float32' | 'float16' | 'uint8' } | { kind: 'top-k'; k: number };

/** float16 bits of 1; a non-negative float16 is above 1 exactly when its bits are above these. */
const FLOAT16_ONE = 0x3c00;

const TOP_K_PATTERN = /^top-k:([1-9][0-9]{0,4})$/;

/**
 * Parses an encoding name: `float32`, `float16`, `uint8`, or `top-k:K` with K a decimal integer in
 * [1, TOP_K_MAX_K] without sign, leading zeros or exponent (so each encoding has one spelling and
 * can be compared as a string). Returns null for anything else. Whether K fits the round's classes
 * (K <= classes - 1) is predictionEncodingProblem's question.
 */
export function parsePredictionEncoding(value: unknown): ParsedPredictionEncoding | null {
  if (value === 'float32' || value === 'float16' || value === 'uint8') return { kind: value };
  if (typeof value !== 'string') return null;
  const match = TOP_K_PATTERN.exec(value);
  if (match === null) return null;
  const k = Number(match[1]);
  return k <= TOP_K_MAX_K ? { kind: 'top-k', k } : null;
}

/** Whether a value names an encoding (fixed, or `top-k:K` spelled canonically; K not yet checked against classes). */
export function isPredictionEncoding(value: unknown): value is PredictionEncoding {
  return parsePredictionEncoding(value) !== null;
}

/** The encoding `top-k:K`. Throws RangeError unless K is an integer in [1, TOP_K_MAX_K]. */
export function topKEncoding(k: number): PredictionEncoding {
  if (!Number.isSafeInteger(k) || k < 1 || k > TOP_K_MAX_K) {
    throw new RangeError(`top-k needs an integer K in [1, ${TOP_K_MAX_K}], got ${k}`);
  }
  return `top-k:${k}`;
}

/**
 * Why an encoding cannot carry rows of `classes` values, or null if it can: top-k needs
 * K <= classes - 1 (with K = classes nothing would be left to spread, and sending every value is
 * float16's job) and classes <= TOP_K_MAX_CLASSES. The fixed encodings fit any number of classes.
 */
export function predictionEncodingProblem(encoding: PredictionEncoding, classes: number): string | null {
  const parsed = parsePredictionEncoding(encoding);
  if (parsed === null) return `${JSON.stringify(encoding)} is not an encoding (${PREDICTION_ENCODINGS_DESCRIPTION})`;
  if (parsed.kind !== 'top-k') return null;
  if (classes > TOP_K_MAX_CLASSES) {
    return `${encoding} needs at most ${TOP_K_MAX_CLASSES} classes (class indices travel as uint16), got ${classes}`;
  }
  if (parsed.k > classes - 1) {
    return `${encoding} needs K in [1, classes - 1] = [1, ${classes - 1}] for ${classes} classes`;
  }
  return null;
}

/** Bytes of one class index in a top-k row: 1 up to 256 classes, 2 (uint16 LE) above. */
export function topKIndexBytes(classes: number): 1 | 2 {
  return classes > 256 ? 2 : 1;
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

/**
 * Bytes of the `data` field for an n x classes matrix: 4, 2 or 1 per value, or for `top-k:K`
 * K x (1 + 2) per row (K x (2 + 2) when classes > 256). Throws RangeError for a shape or an
 * encoding that does not fit (see predictionEncodingProblem).
 */
export function predictionDataBytes(n: number, classes: number, encoding: PredictionEncoding): number {
  checkShape(n, classes);
  const k = topKOf(encoding, classes);
  if (k !== null) return n * k * (topKIndexBytes(classes) + 2);
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
  topKOf(encoding, classes);
  return encoding === 'uint8' ? n * 4 : 0;
}

/** Total binary bytes (data + scales) of an n x classes predictions message in this encoding. */
export function predictionPayloadBytes(n: number, classes: number, encoding: PredictionEncoding): number {
  return predictionDataBytes(n, classes, encoding) + predictionScalesBytes(n, classes, encoding);
}

/**
 * Encodes n x classes probabilities (row-major). Throws RangeError on a length mismatch or an
 * encoding that does not fit the classes; for `uint8` on a negative or non-finite value or a row
 * whose maximum is 0 (not a probability row); for `top-k:K` on a value outside [0, 1] (or NaN) and
 * on a row whose K largest values, as float16, sum above 1 + TOP_K_SUM_TOLERANCE.
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
  const k = topKOf(encoding, classes);
  if (k !== null) return encodeTopK(rows, n, classes, k);
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
 * the byte lengths do not match n, classes and the encoding, and for `top-k:K` on a class index
 * out of range or repeated within a row (the layout would be meaningless); does not check the
 * values. For untrusted input use `validateRoundPredictions`, which checks everything first and
 * never throws. A `uint8` row whose values sum to 0 (or whose scale is not finite) decodes to NaN;
 * a `top-k` row keeps a NaN value where it was sent.
 */
export function decodePredictions(payload: PredictionPayload): Float32Array {
  const { encoding, n, classes } = payload;
  const dataBytes = predictionDataBytes(n, classes, encoding);
  const data = copyBytes(payload.data);
  if (data.byteLength !== dataBytes) {
    throw new RangeError(`${encoding} data for ${n} x ${classes} must be ${dataBytes} bytes, got ${data.byteLength}`);
  }
  const k = topKOf(encoding, classes);
  if (k !== null) return decodeTopK(data, n, classes, k);
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

/**
 * K for a top-k encoding that fits `classes`, null for a fixed encoding. Throws RangeError for an
 * unknown encoding or a top-k one that does not fit.
 */
function topKOf(encoding: PredictionEncoding, classes: number): number | null {
  const parsed = parsePredictionEncoding(encoding);
  if (parsed === null) throw new RangeError(`unknown prediction encoding ${JSON.stringify(encoding)}`);
  if (parsed.kind !== 'top-k') return null;
  const problem = predictionEncodingProblem(encoding, classes);
  if (problem !== null) throw new RangeError(problem);
  return parsed.k;
}

/**
 * Per row: the K largest values (ties: lower class index), ranked then by their float16 value,
 * descending, equal values by ascending class index; K indices, then K float16 values.
 */
function encodeTopK(rows: Float32Array, n: number, classes: number, k: number): EncodedPredictions {
  const indexBytes = topKIndexBytes(classes);
  const rowBytes = k * (indexBytes + 2);
  const data = new Uint8Array(n * rowBytes);
  const view = new DataView(data.buffer);
  const top = new Int32Array(k); // class indices, largest value first
  const bits = new Uint16Array(k);
  for (let i = 0; i < n; i++) {
    const base = i * classes;
    let count = 0;
    for (let c = 0; c < classes; c++) {
      const p = rows[base + c];
      if (!(p >= 0 && p < Infinity)) {
        throw new RangeError(`top-k encoding needs probabilities in [0, 1]: row ${i}, class ${c} is ${p}`);
      }
      // Strictly larger than the current K-th: an equal later value keeps the lower class index ahead.
      if (count === k && !(p > rows[base + top[k - 1]])) continue;
      let j = count < k ? count++ : k - 1;
      while (j > 0 && rows[base + top[j - 1]] < p) {
        top[j] = top[j - 1];
        j--;
      }
      top[j] = c;
    }
    let sum = 0;
    for (let j = 0; j < k; j++) {
      bits[j] = float32ToFloat16Bits(rows[base + top[j]]);
      if (bits[j] > FLOAT16_ONE) {
        throw new RangeError(`top-k encoding needs probabilities in [0, 1]: row ${i}, class ${top[j]} is ${rows[base + top[j]]}`);
      }
      sum += float16BitsToFloat32(bits[j]);
    }
    if (sum > 1 + TOP_K_SUM_TOLERANCE) {
      throw new RangeError(`top-k encoding: the ${k} largest values of row ${i} sum to ${sum.toPrecision(6)}, above 1 + ${TOP_K_SUM_TOLERANCE}`);
    }
    // Rounding is monotone, so the order holds; values that became equal go by ascending class.
    for (let j = 1; j < k; j++) {
      const b = bits[j];
      const c = top[j];
      let m = j;
      while (m > 0 && bits[m - 1] === b && top[m - 1] > c) {
        bits[m] = bits[m - 1];
        top[m] = top[m - 1];
        m--;
      }
      bits[m] = b;
      top[m] = c;
    }
    const offset = i * rowBytes;
    const valuesOffset = offset + k * indexBytes;
    for (let j = 0; j < k; j++) {
      if (indexBytes === 1) data[offset + j] = top[j];
      else view.setUint16(offset + 2 * j, top[j], true);
      view.setUint16(valuesOffset + 2 * j, bits[j], true);
    }
  }
  return { data };
}

/** The K values at their classes, the rest r = max(0, 1 - S) spread evenly, the row divided by max(S, 1). */
function decodeTopK(data: Uint8Array, n: number, classes: number, k: number): Float32Array {
  const indexBytes = topKIndexBytes(classes);
  const rowBytes = k * (indexBytes + 2);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Float32Array(n * classes);
  const seenInRow = new Int32Array(classes).fill(-1);
  const index = new Int32Array(k);
  const value = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const offset = i * rowBytes;
    const valuesOffset = offset + k * indexBytes;
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const c = indexBytes === 1 ? data[offset + j] : view.getUint16(offset + 2 * j, true);
      if (c >= classes) throw new RangeError(`top-k row ${i}: class index ${c} is out of range for ${classes} classes`);
      if (seenInRow[c] === i) throw new RangeError(`top-k row ${i}: class index ${c} is sent twice`);
      seenInRow[c] = i;
      index[j] = c;
      value[j] = float16BitsToFloat32(view.getUint16(valuesOffset + 2 * j, true));
      sum += value[j];
    }
    const base = i * classes;
    const divisor = sum > 1 ? sum : 1;
    out.fill(sum < 1 ? (1 - sum) / (classes - k) : 0, base, base + classes);
    for (let j = 0; j < k; j++) out[base + index[j]] = value[j] / divisor;
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

/** Bytes of a round's coverage weights: one float16 per input. */
export function coverageBytes(n: number): number {
  return n * 2;
}

/** Coverage weights (one per input, in [0, 1]) as float16 little-endian; throws on a value outside [0, 1] or NaN. */
export function encodeCoverage(coverage: Float32Array): Uint8Array {
  for (let i = 0; i < coverage.length; i++) {
    if (!(coverage[i] >= 0 && coverage[i] <= 1)) throw new RangeError(`coverage of input ${i} is ${coverage[i]}; coverage weights must be in [0, 1]`);
  }
  return uint16ToLittleEndianBytes(float32ArrayToFloat16Bits(coverage));
}

/** The inverse of encodeCoverage for bytes of the right length (coverageBytes(n)); values are not checked here (validateRoundPredictions does). */
export function decodeCoverage(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: bytes.byteLength / 2 }, (_, i) => float16BitsToFloat32(view.getUint16(2 * i, true)));
}
