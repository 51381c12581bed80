import { describe, expect, it } from 'vitest';
import { float32ToFloat16Bits, roundToFloat16 } from '@fedkd/engine';
import type { PredictionEncoding } from './messages';
import {
  decodePredictions,
  encodePredictions,
  isPredictionEncoding,
  parsePredictionEncoding,
  PREDICTION_ENCODINGS,
  predictionDataBytes,
  predictionEncodingProblem,
  predictionPayloadBytes,
  predictionScalesBytes,
  topKEncoding,
} from './prediction-codec';
import { maxAbsDifference, maxRowSumError, softPredictions, unalignedBuffer } from './soft-predictions.testing';

const N = 2000;
const C = 10;
const ENCODINGS: PredictionEncoding[] = ['float32', 'float16', 'uint8', 'top-k:1', 'top-k:2', 'top-k:3'];

function roundTrip(rows: Float32Array, n: number, classes: number, encoding: PredictionEncoding): Float32Array {
  return decodePredictions({ encoding, n, classes, ...encodePredictions(rows, n, classes, encoding) });
}

describe('prediction payload sizes', () => {
  it('is 80,000 bytes in float32, 40,000 in float16 and 28,000 in uint8 for 2000 x 10', () => {
    expect(predictionPayloadBytes(N, C, 'float32')).toBe(80_000);
    expect(predictionPayloadBytes(N, C, 'float16')).toBe(40_000);
    expect(predictionPayloadBytes(N, C, 'uint8')).toBe(20_000 + 8_000); // values + one float32 scale per row
  });

  it('is 6 bytes per row for top-k:2 over 10 classes (k x (1 index + 2 float16)) against 20 in float16, with no scales', () => {
    expect(predictionPayloadBytes(1, C, 'top-k:2')).toBe(6);
    expect(predictionPayloadBytes(1, C, 'float16')).toBe(20);
    expect(predictionPayloadBytes(N, C, 'top-k:1')).toBe(6_000);
    expect(predictionPayloadBytes(N, C, 'top-k:2')).toBe(12_000);
    expect(predictionPayloadBytes(N, C, 'top-k:3')).toBe(18_000);
    expect(predictionScalesBytes(N, C, 'top-k:2')).toBe(0);
    expect(predictionDataBytes(1, 256, 'top-k:2')).toBe(6);
    expect(predictionDataBytes(1, 257, 'top-k:2')).toBe(8); // uint16 class indices above 256 classes
  });

  it('throws RangeError for a top-k that does not fit the classes', () => {
    expect(() => predictionPayloadBytes(N, C, 'top-k:10')).toThrow(/top-k:10 needs K in \[1, classes - 1\] = \[1, 9\] for 10 classes/);
    expect(() => predictionPayloadBytes(N, 70_000, 'top-k:2')).toThrow(/at most 65536 classes/);
    expect(() => predictionPayloadBytes(N, C, 'top-k:02' as PredictionEncoding)).toThrow(/unknown prediction encoding/);
  });

  it('matches what the encoder produces', () => {
    const rows = softPredictions(N, C, 1);
    for (const encoding of ENCODINGS) {
      const { data, scales } = encodePredictions(rows, N, C, encoding);
      expect(data.byteLength + (scales?.byteLength ?? 0)).toBe(predictionPayloadBytes(N, C, encoding));
    }
  });
});

describe('float32 encoding', () => {
  it('round-trips exactly', () => {
    const rows = softPredictions(N, C, 2);
    expect(roundTrip(rows, N, C, 'float32')).toEqual(rows);
  });

  it('is little-endian', () => {
    const { data } = encodePredictions(new Float32Array([1, 0]), 1, 2, 'float32');
    expect([...data.subarray(0, 4)]).toEqual([0x00, 0x00, 0x80, 0x3f]);
  });
});

describe('float16 encoding', () => {
  it('keeps every value >= 2^-14 within 2^-11 relative, and smaller ones within 2^-25 absolute', () => {
    const rows = softPredictions(N, C, 3, { logitScale: 5 });
    const decoded = roundTrip(rows, N, C, 'float16');
    let maxRelative = 0;
    for (let k = 0; k < rows.length; k++) {
      const error = Math.abs(decoded[k] - rows[k]);
      if (rows[k] >= 2 ** -14) maxRelative = Math.max(maxRelative, error / rows[k]);
      else expect(error).toBeLessThanOrEqual(2 ** -25);
    }
    expect(maxRelative).toBeLessThanOrEqual(2 ** -11);
    expect(maxRelative).toBeGreaterThan(2 ** -12); // measured: 4.8e-4, the bound is tight
  });

  it('leaves rows summing to 1 within the aggregation tolerance of 1e-3 without renormalising', () => {
    const decoded = roundTrip(softPredictions(N, C, 4), N, C, 'float16');
    expect(maxRowSumError(decoded, C)).toBeLessThan(2 ** -11); // measured: about 3.5e-4
  });

  it('is little-endian IEEE binary16', () => {
    const { data } = encodePredictions(new Float32Array([1, 0]), 1, 2, 'float16');
    expect([...data]).toEqual([0x00, 0x3c, 0x00, 0x00]);
  });
});

describe('uint8 encoding', () => {
  it('sends each row maximum as 255 with scale = max / 255', () => {
    const row = new Float32Array([0.5, 0.25, 0.25]);
    const { data, scales } = encodePredictions(row, 1, 3, 'uint8');
    expect([...data]).toEqual([255, 128, 128]); // round(0.5 * 255) = 128
    expect(new Float32Array(scales!.buffer, scales!.byteOffset, 1)[0]).toBeCloseTo(0.5 / 255, 9);
  });

  it('decodes rows that sum to 1 within 1e-6 (renormalised)', () => {
    for (const seed of [5, 6]) {
      const decoded = roundTrip(softPredictions(N, C, seed), N, C, 'uint8');
      expect(maxRowSumError(decoded, C)).toBeLessThan(1e-6); // measured: about 5e-8
    }
  });

  it('stays within 0.012 of softmax outputs (measured 0.003 to 0.010 over 2000 x 10, half the worst case)', () => {
    const cases = [
      { logitScale: 1, temperature: 1 },
      { logitScale: 2, temperature: 1 },
      { logitScale: 3, temperature: 3 },
      { logitScale: 5, temperature: 1 },
      { logitScale: 10, temperature: 1 },
    ];
    for (const [i, options] of cases.entries()) {
      const rows = softPredictions(N, C, 10 + i, options);
      expect(maxAbsDifference(roundTrip(rows, N, C, 'uint8'), rows)).toBeLessThan(0.012);
    }
  });

  it('never exceeds the documented bound C / (511 - C), which a row of values just under half a step nearly reaches', () => {
    const row = new Float32Array(C);
    row[0] = 510 / 519; // the other nine sit just below half a step (max / 510) and round to 0
    for (let c = 1; c < C; c++) row[c] = (1 - row[0]) / (C - 1);
    const decoded = roundTrip(row, 1, C, 'uint8');
    expect([...decoded]).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const error = maxAbsDifference(decoded, row);
    expect(error).toBeGreaterThan(0.017);
    expect(error).toBeLessThanOrEqual(C / (511 - C));
  });

  it('refuses to encode a negative or non-finite value, or a row of zeros', () => {
    expect(() => encodePredictions(new Float32Array([1.1, -0.1]), 1, 2, 'uint8')).toThrow(RangeError);
    expect(() => encodePredictions(new Float32Array([NaN, 1]), 1, 2, 'uint8')).toThrow(RangeError);
    expect(() => encodePredictions(new Float32Array([Infinity, 1]), 1, 2, 'uint8')).toThrow(RangeError);
    expect(() => encodePredictions(new Float32Array([0, 0]), 1, 2, 'uint8')).toThrow(/all its values are 0/);
  });
});

describe('decoding', () => {
  it.each(ENCODINGS)('reads %s from Buffers at an odd byteOffset (as socket.io delivers them)', (encoding) => {
    const rows = softPredictions(101, 7, 20);
    const encoded = encodePredictions(rows, 101, 7, encoding);
    const data = unalignedBuffer(encoded.data);
    const scales = encoded.scales && unalignedBuffer(encoded.scales);
    expect(data.byteOffset % 2).toBe(1);
    const decoded = decodePredictions({ encoding, n: 101, classes: 7, data, scales });
    expect(decoded).toEqual(decodePredictions({ encoding, n: 101, classes: 7, ...encoded }));
  });

  it('reads from an ArrayBuffer', () => {
    const rows = softPredictions(3, 4, 21);
    const { data } = encodePredictions(rows, 3, 4, 'float32');
    const buffer = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
    expect(decodePredictions({ encoding: 'float32', n: 3, classes: 4, data: buffer })).toEqual(rows);
  });

  it('copies: changing the received bytes afterwards does not change the decoded rows', () => {
    const rows = softPredictions(4, 3, 22);
    const data = Buffer.from(encodePredictions(rows, 4, 3, 'float32').data);
    const decoded = decodePredictions({ encoding: 'float32', n: 4, classes: 3, data });
    data.fill(0xff);
    expect(decoded).toEqual(rows);
  });

  it('throws RangeError when the byte lengths do not match the shape (validate untrusted input first)', () => {
    const { data, scales } = encodePredictions(softPredictions(4, 3, 23), 4, 3, 'uint8');
    expect(() => decodePredictions({ encoding: 'uint8', n: 4, classes: 3, data: data.subarray(1), scales })).toThrow(RangeError);
    expect(() => decodePredictions({ encoding: 'uint8', n: 4, classes: 3, data })).toThrow(/scales/);
    expect(() => decodePredictions({ encoding: 'float16', n: 4, classes: 3, data })).toThrow(RangeError);
  });
});

describe('encoding', () => {
  it('refuses a rows array whose length is not n * classes', () => {
    expect(() => encodePredictions(new Float32Array(5), 2, 3, 'float32')).toThrow(/n \* classes = 2 \* 3 = 6/);
  });

  it('does not alias the input rows', () => {
    const rows = softPredictions(2, 3, 24);
    const { data } = encodePredictions(rows, 2, 3, 'float32');
    rows.fill(0);
    expect(decodePredictions({ encoding: 'float32', n: 2, classes: 3, data })).toEqual(softPredictions(2, 3, 24));
  });
});

describe('encoding names', () => {
  it('lists the fixed encodings; top-k:K is parsed', () => {
    expect(PREDICTION_ENCODINGS).toEqual(['float32', 'float16', 'uint8']);
    expect(parsePredictionEncoding('float16')).toEqual({ kind: 'float16' });
    expect(parsePredictionEncoding('top-k:2')).toEqual({ kind: 'top-k', k: 2 });
    expect(parsePredictionEncoding('top-k:65535')).toEqual({ kind: 'top-k', k: 65535 });
    expect(isPredictionEncoding('top-k:1')).toBe(true);
  });

  it.each(['top-k:0', 'top-k:02', 'top-k:-1', 'top-k:+1', 'top-k:1.5', 'top-k:1e2', 'top-k:x', 'top-k:', 'top-k:65536', 'topk:2', 'TOP-K:2', ' top-k:2', 'top-k:2 ', 'bfloat16'])(
    'refuses %j (one spelling per encoding)',
    (name) => {
      expect(parsePredictionEncoding(name)).toBeNull();
      expect(isPredictionEncoding(name)).toBe(false);
    },
  );

  it.each([2, null, undefined, { kind: 'top-k', k: 2 }])('refuses the non-string %j', (value) => {
    expect(parsePredictionEncoding(value)).toBeNull();
  });

  it('builds top-k:K and refuses a K that is not an integer in [1, 65535]', () => {
    expect(topKEncoding(3)).toBe('top-k:3');
    for (const k of [0, 1.5, -1, 65536, NaN]) expect(() => topKEncoding(k)).toThrow(RangeError);
  });

  it('checks K against the classes: K in [1, classes - 1]', () => {
    expect(predictionEncodingProblem('top-k:9', 10)).toBeNull();
    expect(predictionEncodingProblem('top-k:1', 2)).toBeNull();
    expect(predictionEncodingProblem('top-k:10', 10)).toBe('top-k:10 needs K in [1, classes - 1] = [1, 9] for 10 classes');
    expect(predictionEncodingProblem('uint8', 1000)).toBeNull();
  });
});

/** The classes of a row ordered by value, descending, ties by lower class index. */
function ranked(rows: Float32Array, row: number, classes: number): number[] {
  const values = rows.subarray(row * classes, (row + 1) * classes);
  return [...values.keys()].sort((a, b) => values[b] - values[a] || a - b);
}

describe('top-k encoding', () => {
  it('lays a row out as k class indices (uint8) then k float16 LE values, largest first', () => {
    const { data, scales } = encodePredictions(new Float32Array([0.125, 0.5, 0.125, 0.25]), 1, 4, 'top-k:2');
    expect([...data]).toEqual([1, 3, 0x00, 0x38, 0x00, 0x34]); // classes 1 and 3; 0.5 = 0x3800, 0.25 = 0x3400
    expect(scales).toBeUndefined();
  });

  it('decodes the k values at their classes and spreads the rest evenly', () => {
    const data = new Uint8Array([1, 3, 0x00, 0x38, 0x00, 0x34]);
    expect([...decodePredictions({ encoding: 'top-k:2', n: 1, classes: 4, data })]).toEqual([0.125, 0.5, 0.125, 0.25]);
  });

  it('divides a row whose k values sum above 1 (float16 rounding) by that sum, and spreads nothing', () => {
    const data = new Uint8Array([0, 2, 0x01, 0x38, 0x00, 0x38]); // 0.50048828125 + 0.5
    const decoded = decodePredictions({ encoding: 'top-k:2', n: 1, classes: 3, data });
    expect(decoded[1]).toBe(0);
    expect(decoded[0]).toBeCloseTo(0.50048828125 / 1.00048828125, 7);
    expect(maxRowSumError(decoded, 3)).toBeLessThan(1e-7);
  });

  it('breaks ties by the lower class index, also between values that only become equal in float16', () => {
    expect([...encodePredictions(new Float32Array([0.25, 0.25, 0.25, 0.25]), 1, 4, 'top-k:2').data.subarray(0, 2)]).toEqual([0, 1]);
    expect(float32ToFloat16Bits(0.3)).toBe(float32ToFloat16Bits(0.30001));
    const { data } = encodePredictions(new Float32Array([0.3, 0.30001, 0.2, 0.19999]), 1, 4, 'top-k:2');
    expect([...data.subarray(0, 2)]).toEqual([0, 1]);
  });

  it('sends class indices as uint16 LE above 256 classes', () => {
    const classes = 300;
    const rows = softPredictions(5, classes, 30);
    rows.fill(0, 0, classes);
    rows[299] = 0.75;
    rows[2] = 0.25;
    const { data } = encodePredictions(rows, 5, classes, 'top-k:2');
    expect(data.byteLength).toBe(5 * 8);
    expect([...data.subarray(0, 8)]).toEqual([0x2b, 0x01, 0x02, 0x00, 0x00, 0x3a, 0x00, 0x34]); // 299, 2, 0.75, 0.25
    const decoded = decodePredictions({ encoding: 'top-k:2', n: 5, classes, data });
    expect(decoded[299]).toBe(0.75);
    expect(decoded[2]).toBe(0.25);
    expect(decoded[0]).toBe(0);
    expect(maxRowSumError(decoded, classes)).toBeLessThan(1e-6);
  });

  it.each([1, 2, 3])('round-trips top-k:%i: the k largest exactly as float16, the rest equal, rows summing to 1 within 1e-6', (k) => {
    const encoding = topKEncoding(k);
    const rows = softPredictions(N, C, 40 + k, { logitScale: 3, temperature: 3 });
    const decoded = roundTrip(rows, N, C, encoding);
    expect(maxRowSumError(decoded, C)).toBeLessThan(1e-6);
    for (let i = 0; i < N; i++) {
      const order = ranked(rows, i, C);
      const sent = order.slice(0, k);
      const sentSum = sent.reduce((sum, c) => sum + roundToFloat16(rows[i * C + c]), 0);
      for (const c of sent) {
        if (sentSum <= 1) expect(decoded[i * C + c]).toBe(roundToFloat16(rows[i * C + c]));
        else expect(Math.abs(decoded[i * C + c] - rows[i * C + c])).toBeLessThanOrEqual(2 ** -10 * rows[i * C + c]);
      }
      const rest = order.slice(k).map((c) => decoded[i * C + c]);
      expect(new Set(rest).size).toBe(1);
      expect(rest[0]).toBeCloseTo(Math.max(0, 1 - sentSum) / (C - k), 7);
      // L1 error bound: 2 r (C - k - 1) / (C - k) for the tail (true mass r) + 2^-10 for float16.
      const tail = order.slice(k).reduce((sum, c) => sum + rows[i * C + c], 0);
      let l1 = 0;
      for (let c = 0; c < C; c++) l1 += Math.abs(decoded[i * C + c] - rows[i * C + c]);
      expect(l1).toBeLessThanOrEqual((2 * tail * (C - k - 1)) / (C - k) + 2 ** -10 + 1e-6);
    }
  });

  it('accepts a float32 value a hair above 1 that float16 rounds to 1', () => {
    const decoded = roundTrip(new Float32Array([1.0000001, 0, 0]), 1, 3, 'top-k:1');
    expect([...decoded]).toEqual([1, 0, 0]);
  });

  it('refuses to encode a negative, non-finite or above-1 value, or a row whose k largest sum above 1 + 1e-3', () => {
    expect(() => encodePredictions(new Float32Array([1.1, -0.1, 0]), 1, 3, 'top-k:1')).toThrow(/row 0, class 1 is -0.1/);
    expect(() => encodePredictions(new Float32Array([NaN, 1, 0]), 1, 3, 'top-k:1')).toThrow(RangeError);
    expect(() => encodePredictions(new Float32Array([Infinity, 1, 0]), 1, 3, 'top-k:1')).toThrow(RangeError);
    expect(() => encodePredictions(new Float32Array([0, 1.5, 0]), 1, 3, 'top-k:1')).toThrow(/row 0, class 1 is 1.5/);
    expect(() => encodePredictions(new Float32Array([0.6, 0.6, 0]), 1, 3, 'top-k:2')).toThrow(/2 largest values of row 0 sum to 1.2/);
    expect(() => encodePredictions(new Float32Array([0.5, 0.5]), 1, 2, 'top-k:2')).toThrow(/top-k:2 needs K in \[1, classes - 1\]/);
  });

  it('refuses to decode an out-of-range or repeated class index', () => {
    const values = [0x00, 0x38, 0x00, 0x34];
    expect(() => decodePredictions({ encoding: 'top-k:2', n: 1, classes: 4, data: new Uint8Array([1, 4, ...values]) })).toThrow(/class index 4 is out of range for 4 classes/);
    expect(() => decodePredictions({ encoding: 'top-k:2', n: 1, classes: 4, data: new Uint8Array([1, 1, ...values]) })).toThrow(/class index 1 is sent twice/);
  });
});
