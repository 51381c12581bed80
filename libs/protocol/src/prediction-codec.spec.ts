import { describe, expect, it } from 'vitest';
import type { PredictionEncoding } from './messages';
import { decodePredictions, encodePredictions, predictionPayloadBytes } from './prediction-codec';
import { maxAbsDifference, maxRowSumError, softPredictions, unalignedBuffer } from './soft-predictions.testing';

const N = 2000;
const C = 10;
const ENCODINGS: PredictionEncoding[] = ['float32', 'float16', 'uint8'];

function roundTrip(rows: Float32Array, n: number, classes: number, encoding: PredictionEncoding): Float32Array {
  return decodePredictions({ encoding, n, classes, ...encodePredictions(rows, n, classes, encoding) });
}

describe('prediction payload sizes', () => {
  it('is 80,000 bytes in float32, 40,000 in float16 and 28,000 in uint8 for 2000 x 10', () => {
    expect(predictionPayloadBytes(N, C, 'float32')).toBe(80_000);
    expect(predictionPayloadBytes(N, C, 'float16')).toBe(40_000);
    expect(predictionPayloadBytes(N, C, 'uint8')).toBe(20_000 + 8_000); // values + one float32 scale per row
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
