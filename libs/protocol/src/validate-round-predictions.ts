import {
  binaryBytes,
  describeValue,
  isPlainRecord,
  isRoundNumber,
  isSafeIntegerAtLeast,
  unknownFieldsProblem,
} from './boundary-checks';
import { float16BitsToFloat32 } from '@fedkd/engine';
import type { PredictionEncoding } from './messages';
import {
  coverageBytes,
  decodeCoverage,
  decodePredictions,
  isPredictionEncoding,
  parsePredictionEncoding,
  PREDICTION_ENCODINGS_DESCRIPTION,
  predictionDataBytes,
  predictionEncodingProblem,
  predictionScalesBytes,
  TOP_K_SUM_TOLERANCE,
  topKIndexBytes,
} from './prediction-codec';
import { accept, reject, type Validated } from './validated';

/**
 * Rows must sum to 1 within this, as in libs/distill's aggregation validator
 * (DEFAULT_ROW_SUM_TOLERANCE): float32 and float16 rows pass it, uint8 and top-k rows are renormalised.
 */
export const PREDICTION_ROW_SUM_TOLERANCE = 1e-3;

/** What the open round asked for; a predictions message must match it exactly. */
export interface ExpectedPredictions {
  round: number;
  n: number;
  classes: number;
  encoding: PredictionEncoding;
  /** Largest accepted data + scales (+ coverage) in bytes (RoundOpen.maxPayloadBytes). */
  maxPayloadBytes: number;
  /** The round asked for coverage weights (RoundOpen.selection): required then, refused otherwise. */
  coverage?: boolean;
}

/** A validated predictions message, decoded: n x classes probabilities, row-major. */
export interface ValidPredictions {
  round: number;
  encoding: PredictionEncoding;
  n: number;
  classes: number;
  predictions: Float32Array;
  /** Rounds with selection: the client's coverage weight of each input, in [0, 1]. */
  coverage?: Float32Array;
}

const PREDICTIONS_FIELDS = ['round', 'encoding', 'n', 'classes', 'data', 'scales', 'coverage'] as const;
const WHAT = 'round.predictions';

/**
 * Checks a `round.predictions` message against the open round and decodes it. In order:
 * a plain object with only known fields (BAD_MESSAGE); the round (STALE_ROUND if lower,
 * UNKNOWN_ROUND if higher); the encoding (BAD_MESSAGE); n and classes (BAD_SHAPE); data and
 * scales binary (BAD_MESSAGE), together at most maxPayloadBytes (TOO_LARGE), each exactly the
 * size the encoding implies (BAD_SHAPE); then the decoded values: NaN or +-Infinity (NOT_FINITE),
 * negative (BAD_MESSAGE), a row not summing to 1 within 1e-3 (BAD_MESSAGE). uint8 scales must be
 * finite (NOT_FINITE) and positive, and no uint8 row may be all zeros (BAD_MESSAGE).
 * `top-k:K`: K must fit the classes (K <= classes - 1, BAD_MESSAGE; the round's own encoding, so
 * only a misconfigured round fails this), data exactly n x K x 3 bytes (x 4 above 256 classes;
 * BAD_SHAPE), and before decoding, first problem wins in this order over the whole matrix: a class
 * index out of range or repeated within a row (BAD_MESSAGE); a value NaN or infinite (NOT_FINITE);
 * negative or above 1 (BAD_MESSAGE); a value above the one before it in its row (BAD_MESSAGE;
 * equal values may come in any class order); a row whose K values sum above 1 + 1e-3 (BAD_MESSAGE).
 * Never throws; the returned predictions are a fresh array that shares nothing with `raw`.
 */
export function validateRoundPredictions(raw: unknown, expected: ExpectedPredictions): Validated<ValidPredictions> {
  if (!isPlainRecord(raw)) {
    return reject('BAD_MESSAGE', `${WHAT} must be an object with fields ${PREDICTIONS_FIELDS.join(', ')}; got ${describeValue(raw)}`);
  }
  const unknownFields = unknownFieldsProblem(raw, PREDICTIONS_FIELDS, WHAT);
  if (unknownFields) return reject('BAD_MESSAGE', unknownFields);

  const { round, encoding, n, classes } = raw;
  if (!isRoundNumber(round)) {
    return reject('BAD_MESSAGE', `${WHAT}: round must be a non-negative integer, got ${describeValue(round)}`);
  }
  if (round < expected.round) {
    return reject('STALE_ROUND', `${WHAT} names round ${round}, which is over: round ${expected.round} is collecting`);
  }
  if (round > expected.round) {
    return reject('UNKNOWN_ROUND', `${WHAT} names round ${round}, which has not opened: round ${expected.round} is collecting`);
  }
  if (!isPredictionEncoding(encoding)) {
    return reject('BAD_MESSAGE', `${WHAT}: encoding must be one of ${PREDICTION_ENCODINGS_DESCRIPTION}, got ${describeValue(encoding)}`);
  }
  if (encoding !== expected.encoding) {
    return reject('BAD_MESSAGE', `${WHAT}: encoding ${encoding} does not match round ${round}'s ${expected.encoding}`);
  }
  if (!isSafeIntegerAtLeast(n, 1) || !isSafeIntegerAtLeast(classes, 1)) {
    return reject(
      'BAD_MESSAGE',
      `${WHAT}: n and classes must be positive integers, got n=${describeValue(n)}, classes=${describeValue(classes)}`,
    );
  }
  if (n !== expected.n || classes !== expected.classes) {
    return reject(
      'BAD_SHAPE',
      `${WHAT}: shape ${n} x ${classes} (n x classes) does not match round ${round}'s ${expected.n} x ${expected.classes}`,
    );
  }
  const encodingProblem = predictionEncodingProblem(encoding, classes);
  if (encodingProblem) return reject('BAD_MESSAGE', `${WHAT}: encoding ${encodingProblem}`);

  const data = binaryBytes(raw.data);
  if (data === null) {
    return reject('BAD_MESSAGE', `${WHAT}: data must be binary (Buffer, Uint8Array or ArrayBuffer), got ${describeValue(raw.data)}`);
  }
  let scales: Uint8Array | null = null;
  if (encoding === 'uint8') {
    scales = binaryBytes(raw.scales);
    if (scales === null) {
      return reject('BAD_MESSAGE', `${WHAT}: uint8 needs scales, one float32 per row as binary, got ${describeValue(raw.scales)}`);
    }
  } else if (raw.scales !== undefined) {
    return reject('BAD_MESSAGE', `${WHAT}: scales are sent only with the uint8 encoding, not ${encoding}`);
  }

  let coverageData: Uint8Array | null = null;
  if (expected.coverage) {
    coverageData = binaryBytes(raw.coverage);
    if (coverageData === null) {
      return reject('BAD_MESSAGE', `${WHAT}: round ${round} asks for coverage weights (selection), one float16 per input as binary; got ${describeValue(raw.coverage)}`);
    }
  } else if (raw.coverage !== undefined) {
    return reject('BAD_MESSAGE', `${WHAT}: round ${round} did not ask for coverage weights, but the message carries some`);
  }

  const totalBytes = data.byteLength + (scales?.byteLength ?? 0) + (coverageData?.byteLength ?? 0);
  if (totalBytes > expected.maxPayloadBytes) {
    return reject('TOO_LARGE', `${WHAT}: ${totalBytes} bytes of data exceed round ${round}'s limit of ${expected.maxPayloadBytes}`);
  }
  const dataBytes = predictionDataBytes(n, classes, encoding);
  if (data.byteLength !== dataBytes) {
    return reject('BAD_SHAPE', `${WHAT}: data is ${data.byteLength} bytes; ${n} x ${classes} in ${encoding} is ${dataBytes}`);
  }
  if (scales !== null) {
    const scalesBytes = predictionScalesBytes(n, classes, encoding);
    if (scales.byteLength !== scalesBytes) {
      return reject('BAD_SHAPE', `${WHAT}: scales are ${scales.byteLength} bytes; ${n} rows need ${scalesBytes} (one float32 each)`);
    }
    const problem = uint8Problem(data, scales, n, classes);
    if (problem) return problem;
  }
  const parsed = parsePredictionEncoding(encoding);
  if (parsed?.kind === 'top-k') {
    const problem = topKProblem(data, n, classes, parsed.k, encoding);
    if (problem) return problem;
  }

  let predictions: Float32Array;
  try {
    predictions = decodePredictions({ encoding, n, classes, data, scales: scales ?? undefined });
  } catch (error) {
    return reject('BAD_MESSAGE', `${WHAT}: cannot decode: ${error instanceof Error ? error.message : String(error)}`);
  }
  const valueProblem = probabilityRowsProblem(predictions, n, classes);
  if (valueProblem) return valueProblem;
  if (coverageData === null) return accept({ round, encoding, n, classes, predictions });
  if (coverageData.byteLength !== coverageBytes(n)) {
    return reject('BAD_SHAPE', `${WHAT}: coverage is ${coverageData.byteLength} bytes; ${n} inputs need ${coverageBytes(n)} (one float16 each)`);
  }
  const coverage = decodeCoverage(coverageData);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(coverage[i])) return reject('NOT_FINITE', `${WHAT}: the coverage of input ${i} is ${coverage[i]}; coverage weights must be finite`);
    if (!(coverage[i] >= 0 && coverage[i] <= 1)) return reject('BAD_MESSAGE', `${WHAT}: the coverage of input ${i} is ${coverage[i]}; coverage weights must be in [0, 1]`);
  }
  return accept({ round, encoding, n, classes, predictions, coverage });
}

/** uint8 payloads: scales finite and positive, and every row has a non-zero value. */
function uint8Problem(data: Uint8Array, scales: Uint8Array, n: number, classes: number) {
  const view = new DataView(scales.buffer, scales.byteOffset, scales.byteLength); // reads unaligned bytes safely
  for (let i = 0; i < n; i++) {
    const scale = view.getFloat32(i * 4, true);
    if (!Number.isFinite(scale)) return reject('NOT_FINITE', `${WHAT}: the scale of row ${i} is ${scale}; scales must be finite`);
    if (!(scale > 0)) return reject('BAD_MESSAGE', `${WHAT}: the scale of row ${i} is ${scale}; scales must be positive`);
  }
  for (let i = 0; i < n; i++) {
    let any = 0;
    for (let c = 0; c < classes; c++) any |= data[i * classes + c];
    if (any === 0) return reject('BAD_MESSAGE', `${WHAT}: row ${i} is all zeros; each row must be a probability vector`);
  }
  return null;
}

/**
 * top-k payloads (data of the right length): indices in range and distinct within a row, then
 * values finite (NOT_FINITE), in [0, 1], non-increasing along the row, and each row's sum at most
 * 1 + TOP_K_SUM_TOLERANCE; the first problem over the whole matrix wins in that order.
 */
function topKProblem(data: Uint8Array, n: number, classes: number, k: number, encoding: string) {
  const indexBytes = topKIndexBytes(classes);
  const rowBytes = k * (indexBytes + 2);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength); // reads unaligned bytes safely
  const index = new Int32Array(n * k);
  const value = new Float32Array(n * k);
  const slotInRow = new Int32Array(classes);
  const rowOf = new Int32Array(classes).fill(-1);
  for (let i = 0; i < n; i++) {
    const offset = i * rowBytes;
    for (let j = 0; j < k; j++) {
      const c = indexBytes === 1 ? view.getUint8(offset + j) : view.getUint16(offset + 2 * j, true);
      if (c >= classes) {
        return reject('BAD_MESSAGE', `${WHAT}: row ${i}, slot ${j} names class ${c}; ${encoding} class indices must be in [0, ${classes})`);
      }
      if (rowOf[c] === i) {
        return reject('BAD_MESSAGE', `${WHAT}: row ${i} names class ${c} twice (slots ${slotInRow[c]} and ${j}); a row's ${k} classes must differ`);
      }
      rowOf[c] = i;
      slotInRow[c] = j;
      index[i * k + j] = c;
      value[i * k + j] = float16BitsToFloat32(view.getUint16(offset + k * indexBytes + 2 * j, true));
    }
  }
  const where = (s: number) => `row ${Math.floor(s / k)}, slot ${s % k} (class ${index[s]})`;
  for (let s = 0; s < value.length; s++) {
    if (!Number.isFinite(value[s])) return reject('NOT_FINITE', `${WHAT}: ${where(s)} is ${value[s]}; probabilities must be finite`);
  }
  for (let s = 0; s < value.length; s++) {
    if (value[s] < 0) return reject('BAD_MESSAGE', `${WHAT}: ${where(s)} is negative (${value[s]}); probabilities are >= 0`);
    if (value[s] > 1) return reject('BAD_MESSAGE', `${WHAT}: ${where(s)} is ${value[s]}, above 1; probabilities are <= 1`);
  }
  for (let s = 0; s < value.length; s++) {
    if (s % k !== 0 && value[s] > value[s - 1]) {
      return reject(
        'BAD_MESSAGE',
        `${WHAT}: ${where(s)} is ${value[s]}, above the ${value[s - 1]} before it; ${encoding} values must be in descending order`,
      );
    }
  }
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < k; j++) sum += value[i * k + j];
    if (sum > 1 + TOP_K_SUM_TOLERANCE) {
      return reject(
        'BAD_MESSAGE',
        `${WHAT}: row ${i}'s ${k} values sum to ${sum.toPrecision(6)}; ${encoding} values must sum to at most 1 + ${TOP_K_SUM_TOLERANCE}`,
      );
    }
  }
  return null;
}

/** Finite (NOT_FINITE), non-negative (BAD_MESSAGE), rows summing to 1 (BAD_MESSAGE); first problem wins in that order. */
function probabilityRowsProblem(p: Float32Array, n: number, classes: number) {
  for (let k = 0; k < p.length; k++) {
    if (!Number.isFinite(p[k])) {
      return reject('NOT_FINITE', `${WHAT}: row ${Math.floor(k / classes)}, class ${k % classes} is ${p[k]}; probabilities must be finite`);
    }
  }
  for (let k = 0; k < p.length; k++) {
    if (p[k] < 0) {
      return reject('BAD_MESSAGE', `${WHAT}: row ${Math.floor(k / classes)}, class ${k % classes} is negative (${p[k]}); probabilities are >= 0`);
    }
  }
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += p[i * classes + c];
    if (Math.abs(sum - 1) > PREDICTION_ROW_SUM_TOLERANCE) {
      return reject(
        'BAD_MESSAGE',
        `${WHAT}: row ${i} sums to ${sum.toPrecision(6)}; each row must sum to 1 within ${PREDICTION_ROW_SUM_TOLERANCE}`,
      );
    }
  }
  return null;
}
