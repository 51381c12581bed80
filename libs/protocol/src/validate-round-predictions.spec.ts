import { describe, expect, it } from 'vitest';
import { maxPayloadBytesFor } from './message-size-limits';
import type { PredictionEncoding } from './messages';
import { coverageBytes, decodePredictions, encodeCoverage, encodePredictions } from './prediction-codec';
import { maxRowSumError, softPredictions, unalignedBuffer } from './soft-predictions.testing';
import { validateRoundPredictions, type ExpectedPredictions } from './validate-round-predictions';

const N = 50;
const C = 10;

function expectedFor(encoding: PredictionEncoding, round = 7): ExpectedPredictions {
  return { round, n: N, classes: C, encoding, maxPayloadBytes: maxPayloadBytesFor(N, C, encoding) };
}

function message(encoding: PredictionEncoding, rows = softPredictions(N, C, 1), round = 7): Record<string, unknown> {
  return { round, encoding, n: N, classes: C, ...encodePredictions(rows, N, C, encoding) };
}

/** float32 rows with one value changed (row 3, class 2), re-encoded. */
function withValue(encoding: 'float32' | 'float16', value: number): Record<string, unknown> {
  const rows = softPredictions(N, C, 1);
  rows[3 * C + 2] = value;
  return message(encoding, rows);
}

function codeOf(raw: unknown, expected = expectedFor('float32')) {
  const result = validateRoundPredictions(raw, expected);
  return result.ok ? 'OK' : result.code;
}

function rejection(raw: unknown, expected = expectedFor('float32')) {
  const result = validateRoundPredictions(raw, expected);
  if (result.ok) throw new Error('expected a rejection');
  return result;
}

describe('validateRoundPredictions: a valid message', () => {
  it.each(['float32', 'float16', 'uint8', 'top-k:1', 'top-k:2', 'top-k:9'] as PredictionEncoding[])('passes in %s with its decoded rows, n and classes', (encoding) => {
    const raw = message(encoding);
    const result = validateRoundPredictions(raw, expectedFor(encoding));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({ round: 7, encoding, n: N, classes: C });
    expect(result.value.predictions).toBeInstanceOf(Float32Array);
    expect(result.value.predictions).toEqual(
      decodePredictions({ encoding, n: N, classes: C, ...encodePredictions(softPredictions(N, C, 1), N, C, encoding) }),
    );
  });

  it('passes float32 values through exactly', () => {
    const rows = softPredictions(N, C, 2);
    const result = validateRoundPredictions(message('float32', rows), expectedFor('float32'));
    expect(result.ok && result.value.predictions).toEqual(rows);
  });

  it('accepts Buffers at an odd byteOffset, as socket.io delivers binary', () => {
    const raw = message('uint8');
    const delivered = { ...raw, data: unalignedBuffer(raw.data as Uint8Array), scales: unalignedBuffer(raw.scales as Uint8Array) };
    expect(codeOf(delivered, expectedFor('uint8'))).toBe('OK');
  });

  it('accepts data as an ArrayBuffer', () => {
    const raw = message('float32');
    const bytes = raw.data as Uint8Array;
    expect(codeOf({ ...raw, data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) })).toBe('OK');
  });

  it('returns rows that share nothing with the message', () => {
    const raw = message('float32');
    const result = validateRoundPredictions(raw, expectedFor('float32'));
    (raw.data as Uint8Array).fill(0);
    expect(result.ok && result.value.predictions).toEqual(softPredictions(N, C, 1));
  });

  it('accepts a row off by 5e-4 (float16-sized rounding)', () => {
    const rows = softPredictions(N, C, 1);
    rows[0] += 5e-4;
    expect(codeOf(message('float32', rows))).toBe('OK');
  });
});

describe('validateRoundPredictions: not a predictions object', () => {
  it.each([
    ['null', null],
    ['undefined', undefined],
    ['an array', [1, 2, 3]],
    ['a string', 'predictions'],
    ['a number', 42],
    ['a Buffer', Buffer.alloc(8)],
  ])('rejects %s with BAD_MESSAGE', (_, raw) => {
    expect(codeOf(raw)).toBe('BAD_MESSAGE');
  });

  it('rejects an extra unknown field, naming it and the expected fields', () => {
    const { code, message: text } = rejection({ ...message('float32'), signature: 'abc' });
    expect(code).toBe('BAD_MESSAGE');
    expect(text).toContain(`'signature'`);
    expect(text).toContain('round, encoding, n, classes, data, scales');
  });

  it('rejects a missing field', () => {
    const { round: _, ...withoutRound } = message('float32');
    expect(rejection(withoutRound).message).toMatch(/round must be a non-negative integer, got nothing/);
  });
});

describe('validateRoundPredictions: the round', () => {
  it('rejects an earlier round with STALE_ROUND', () => {
    const { code, message: text } = rejection(message('float32', undefined, 6));
    expect(code).toBe('STALE_ROUND');
    expect(text).toMatch(/round 6.*round 7/);
  });

  it('rejects a later round with UNKNOWN_ROUND', () => {
    expect(codeOf(message('float32', undefined, 8))).toBe('UNKNOWN_ROUND');
  });

  it.each([7.5, -1, '7', null])('rejects round %s with BAD_MESSAGE', (round) => {
    expect(codeOf({ ...message('float32'), round })).toBe('BAD_MESSAGE');
  });
});

describe('validateRoundPredictions: encoding and shape', () => {
  it('rejects an encoding other than the round asked for, naming both', () => {
    const { code, message: text } = rejection(message('float16'), expectedFor('float32'));
    expect(code).toBe('BAD_MESSAGE');
    expect(text).toContain('encoding float16 does not match round 7\'s float32');
  });

  it('rejects an unknown encoding', () => {
    expect(rejection({ ...message('float32'), encoding: 'bfloat16' }).message).toMatch(
      /one of float32, float16, uint8 or top-k:K \(K an integer in \[1, classes - 1\]\), got "bfloat16"/,
    );
  });

  it('rejects the wrong n with BAD_SHAPE, naming got and expected', () => {
    const rows = softPredictions(N - 1, C, 1);
    const raw = { round: 7, encoding: 'float32', n: N - 1, classes: C, ...encodePredictions(rows, N - 1, C, 'float32') };
    const { code, message: text } = rejection(raw);
    expect(code).toBe('BAD_SHAPE');
    expect(text).toContain(`${N - 1} x ${C}`);
    expect(text).toContain(`${N} x ${C}`);
  });

  it('rejects the wrong classes with BAD_SHAPE', () => {
    const rows = softPredictions(N, 5, 1);
    expect(codeOf({ round: 7, encoding: 'float32', n: N, classes: 5, ...encodePredictions(rows, N, 5, 'float32') })).toBe('BAD_SHAPE');
  });

  it('rejects a non-integer n or classes with BAD_MESSAGE', () => {
    expect(codeOf({ ...message('float32'), n: 50.5 })).toBe('BAD_MESSAGE');
    expect(codeOf({ ...message('float32'), classes: 0 })).toBe('BAD_MESSAGE');
  });
});

describe('validateRoundPredictions: the binary data', () => {
  it('rejects data sent as a JSON number array without echoing it', () => {
    const { code, message: text } = rejection({ ...message('float32'), data: Array.from(softPredictions(N, C, 1)) });
    expect(code).toBe('BAD_MESSAGE');
    expect(text).toContain('an array of 500 items');
    expect(text.length).toBeLessThan(200);
  });

  it('rejects other typed arrays (send their bytes)', () => {
    expect(codeOf({ ...message('float32'), data: softPredictions(N, C, 1) })).toBe('BAD_MESSAGE');
  });

  it('rejects truncated data with BAD_SHAPE', () => {
    const raw = message('float32');
    const { code, message: text } = rejection({ ...raw, data: (raw.data as Uint8Array).subarray(1) });
    expect(code).toBe('BAD_SHAPE');
    expect(text).toContain(`data is ${N * C * 4 - 1} bytes; ${N} x ${C} in float32 is ${N * C * 4}`);
  });

  it('rejects slightly oversized data (within the limit) with BAD_SHAPE', () => {
    const raw = message('float32');
    const data = Buffer.concat([raw.data as Uint8Array, Buffer.alloc(4)]);
    expect(codeOf({ ...raw, data })).toBe('BAD_SHAPE');
  });

  it('rejects data over the round\'s maxPayloadBytes with TOO_LARGE', () => {
    const raw = message('float32');
    const limit = maxPayloadBytesFor(N, C, 'float32');
    const { code, message: text } = rejection({ ...raw, data: new Uint8Array(limit + 1) });
    expect(code).toBe('TOO_LARGE');
    expect(text).toContain(`${limit + 1} bytes`);
    expect(text).toContain(`limit of ${limit}`);
  });

  it('rejects a correct payload when the round\'s limit is below it with TOO_LARGE', () => {
    expect(codeOf(message('float32'), { ...expectedFor('float32'), maxPayloadBytes: 1000 })).toBe('TOO_LARGE');
  });

  it('counts the uint8 scales towards the limit', () => {
    const exact = N * C + N * 4;
    expect(codeOf(message('uint8'), { ...expectedFor('uint8'), maxPayloadBytes: exact })).toBe('OK');
    expect(codeOf(message('uint8'), { ...expectedFor('uint8'), maxPayloadBytes: exact - 1 })).toBe('TOO_LARGE');
  });
});

describe('validateRoundPredictions: uint8 scales', () => {
  const expected = expectedFor('uint8');
  const withScale = (row: number, scale: number) => {
    const raw = message('uint8');
    const scales = Buffer.from(raw.scales as Uint8Array);
    scales.writeFloatLE(scale, row * 4);
    return { ...raw, scales };
  };

  it('rejects missing scales with BAD_MESSAGE', () => {
    const { scales: _, ...raw } = message('uint8');
    expect(codeOf(raw, expected)).toBe('BAD_MESSAGE');
  });

  it('rejects scales of the wrong length with BAD_SHAPE', () => {
    const raw = message('uint8');
    expect(codeOf({ ...raw, scales: (raw.scales as Uint8Array).subarray(4) }, expected)).toBe('BAD_SHAPE');
  });

  it('rejects scales sent with another encoding', () => {
    expect(rejection({ ...message('float32'), scales: new Uint8Array(N * 4) }).message).toMatch(/only with the uint8 encoding/);
  });

  it('rejects a NaN or infinite scale with NOT_FINITE', () => {
    expect(codeOf(withScale(4, NaN), expected)).toBe('NOT_FINITE');
    expect(codeOf(withScale(4, Infinity), expected)).toBe('NOT_FINITE');
  });

  it('rejects a negative or zero scale with BAD_MESSAGE', () => {
    expect(rejection(withScale(4, -0.001), expected).message).toMatch(/scale of row 4 is -0.001.*positive/);
    expect(codeOf(withScale(4, 0), expected)).toBe('BAD_MESSAGE');
  });

  it('rejects a row of zeros with BAD_MESSAGE', () => {
    const raw = message('uint8');
    const data = Buffer.from(raw.data as Uint8Array);
    data.fill(0, 2 * C, 3 * C);
    expect(rejection({ ...raw, data }, expected).message).toMatch(/row 2 is all zeros/);
  });
});

describe('validateRoundPredictions: the decoded values', () => {
  it.each(['float32', 'float16'] as const)('rejects NaN in %s with NOT_FINITE, naming row and class', (encoding) => {
    const { code, message: text } = rejection(withValue(encoding, NaN), expectedFor(encoding));
    expect(code).toBe('NOT_FINITE');
    expect(text).toContain('row 3, class 2 is NaN');
  });

  it.each(['float32', 'float16'] as const)('rejects Infinity in %s with NOT_FINITE', (encoding) => {
    expect(codeOf(withValue(encoding, Infinity), expectedFor(encoding))).toBe('NOT_FINITE');
    expect(codeOf(withValue(encoding, -Infinity), expectedFor(encoding))).toBe('NOT_FINITE');
  });

  it('rejects a float16 value that overflows to Infinity (70000) with NOT_FINITE', () => {
    expect(codeOf(withValue('float16', 70000), expectedFor('float16'))).toBe('NOT_FINITE');
  });

  it.each(['float32', 'float16'] as const)('rejects a negative value in %s with BAD_MESSAGE', (encoding) => {
    const { code, message: text } = rejection(withValue(encoding, -0.25), expectedFor(encoding));
    expect(code).toBe('BAD_MESSAGE');
    expect(text).toContain('row 3, class 2 is negative (-0.25)');
  });

  it('rejects a row that does not sum to 1 within 1e-3 with BAD_MESSAGE', () => {
    const rows = softPredictions(N, C, 1);
    for (let c = 0; c < C; c++) rows[9 * C + c] *= 0.9;
    const { code, message: text } = rejection(message('float32', rows));
    expect(code).toBe('BAD_MESSAGE');
    expect(text).toMatch(/row 9 sums to 0.9000\d*; each row must sum to 1 within 0.001/);
  });

  it('reports NaN before a negative value and a negative value before a bad row sum', () => {
    const rows = softPredictions(N, C, 1);
    rows[0] = 5; // row 0 sums to about 6
    rows[C] = -1; // row 1 negative
    rows[2 * C] = NaN; // row 2
    expect(codeOf(message('float32', rows))).toBe('NOT_FINITE');
    rows[2 * C] = 0.1;
    expect(rejection(message('float32', rows)).message).toContain('negative');
  });
});

describe('validateRoundPredictions: error messages', () => {
  it('never echo a large payload', () => {
    const huge = 'x'.repeat(100_000);
    const cases: unknown[] = [
      huge,
      { ...message('float32'), [huge]: 1 },
      { ...message('float32'), encoding: huge },
      { ...message('float32'), round: huge },
      { ...message('float32'), data: huge },
      { ...message('float32'), data: new Array(100_000).fill(0.1) },
    ];
    for (const raw of cases) expect(rejection(raw).message.length).toBeLessThan(300);
  });
});

describe('validateRoundPredictions: top-k', () => {
  const K = 2;
  const ROW_BYTES = K * 3;
  const expected = expectedFor('top-k:2');
  /** A valid top-k:2 message with row 3 changed: indices and/or float16 bits per slot. */
  const withRow3 = ({ indices, bits }: { indices?: number[]; bits?: number[] }) => {
    const raw = message('top-k:2');
    const data = Buffer.from(raw.data as Uint8Array);
    indices?.forEach((c, j) => data.writeUInt8(c, 3 * ROW_BYTES + j));
    bits?.forEach((b, j) => data.writeUInt16LE(b, 3 * ROW_BYTES + K + 2 * j));
    return { ...raw, data };
  };
  const F16 = { zero: 0x0000, quarter: 0x3400, half: 0x3800, justOverHalf: 0x3801, threeQuarters: 0x3a00, one: 0x3c00, overOne: 0x3c01, oneAndHalf: 0x3e00, minusQuarter: 0xb400, inf: 0x7c00, nan: 0x7e00 };

  it('accepts a correct payload at exactly n x k x 3 bytes, and counts it towards the limit', () => {
    expect(codeOf(message('top-k:2'), { ...expected, maxPayloadBytes: N * ROW_BYTES })).toBe('OK');
    expect(codeOf(message('top-k:2'), { ...expected, maxPayloadBytes: N * ROW_BYTES - 1 })).toBe('TOO_LARGE');
  });

  it('decodes row 3 as sent: the two values at their classes, the rest spread evenly', () => {
    const result = validateRoundPredictions(withRow3({ indices: [4, 7], bits: [F16.half, F16.quarter] }), expected);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const row = [...result.value.predictions.subarray(3 * C, 4 * C)];
    expect(row[4]).toBe(0.5);
    expect(row[7]).toBe(0.25);
    for (const c of [0, 1, 2, 3, 5, 6, 8, 9]) expect(row[c]).toBeCloseTo(0.25 / 8, 7);
  });

  it.each([
    ['1 and 0', [F16.one, F16.zero]],
    ['two equal values, the higher class first', [F16.quarter, F16.quarter]],
    ['a sum of 1.00049 (within 1 + 1e-3)', [F16.justOverHalf, F16.half]],
  ])('accepts %s', (_, bits) => {
    const result = validateRoundPredictions(withRow3({ indices: [8, 2], bits }), expected);
    expect(result.ok).toBe(true);
    if (result.ok) expect(maxRowSumError(result.value.predictions, C)).toBeLessThan(1e-6);
  });

  it('rejects data of another length than n x k x 3 with BAD_SHAPE', () => {
    const raw = message('top-k:2');
    const { code, message: text } = rejection({ ...raw, data: (raw.data as Uint8Array).subarray(1) }, expected);
    expect(code).toBe('BAD_SHAPE');
    expect(text).toContain(`data is ${N * ROW_BYTES - 1} bytes; ${N} x ${C} in top-k:2 is ${N * ROW_BYTES}`);
    expect(codeOf({ ...raw, data: new Uint8Array(N * C * 2) }, { ...expected, maxPayloadBytes: 10_000 })).toBe('BAD_SHAPE');
  });

  it('rejects scales with BAD_MESSAGE', () => {
    expect(rejection({ ...message('top-k:2'), scales: new Uint8Array(N * 4) }, { ...expected, maxPayloadBytes: 10_000 }).message).toMatch(
      /scales are sent only with the uint8 encoding, not top-k:2/,
    );
  });

  it('rejects another K than the round asked for, and a K spelled with a leading zero', () => {
    const raw = { round: 7, encoding: 'top-k:3', n: N, classes: C, ...encodePredictions(softPredictions(N, C, 1), N, C, 'top-k:3') };
    expect(rejection(raw, expected).message).toContain("encoding top-k:3 does not match round 7's top-k:2");
    expect(rejection({ ...message('top-k:2'), encoding: 'top-k:02' }, expected).message).toMatch(/encoding must be one of .*got "top-k:02"/);
  });

  it('rejects (never throws) when the round itself asked for a K that does not fit its classes', () => {
    const raw = { round: 7, encoding: 'top-k:10', n: N, classes: C, data: new Uint8Array(N * 30) };
    const { code, message: text } = rejection(raw, { round: 7, n: N, classes: C, encoding: 'top-k:10', maxPayloadBytes: 100_000 });
    expect(code).toBe('BAD_MESSAGE');
    expect(text).toMatch(/encoding top-k:10 needs K in \[1, classes - 1\] = \[1, 9\] for 10 classes/);
  });

  it('rejects a class index >= classes with BAD_MESSAGE, naming row, slot and class', () => {
    const { code, message: text } = rejection(withRow3({ indices: [4, 10] }), expected);
    expect(code).toBe('BAD_MESSAGE');
    expect(text).toContain('row 3, slot 1 names class 10; top-k:2 class indices must be in [0, 10)');
  });

  it('rejects a class index repeated within a row with BAD_MESSAGE', () => {
    const { code, message: text } = rejection(withRow3({ indices: [6, 6] }), expected);
    expect(code).toBe('BAD_MESSAGE');
    expect(text).toContain('row 3 names class 6 twice (slots 0 and 1)');
  });

  it('rejects a NaN or infinite value with NOT_FINITE', () => {
    const { code, message: text } = rejection(withRow3({ indices: [4, 7], bits: [F16.half, F16.nan] }), expected);
    expect(code).toBe('NOT_FINITE');
    expect(text).toContain('row 3, slot 1 (class 7) is NaN; probabilities must be finite');
    expect(codeOf(withRow3({ bits: [F16.inf, F16.half] }), expected)).toBe('NOT_FINITE');
  });

  it('rejects a negative value with BAD_MESSAGE', () => {
    const { code, message: text } = rejection(withRow3({ indices: [4, 7], bits: [F16.half, F16.minusQuarter] }), expected);
    expect(code).toBe('BAD_MESSAGE');
    expect(text).toContain('row 3, slot 1 (class 7) is negative (-0.25)');
  });

  it('rejects a value above 1 with BAD_MESSAGE, even by one float16 step', () => {
    const { code, message: text } = rejection(withRow3({ indices: [4, 7], bits: [F16.oneAndHalf, F16.zero] }), expected);
    expect(code).toBe('BAD_MESSAGE');
    expect(text).toContain('row 3, slot 0 (class 4) is 1.5, above 1; probabilities are <= 1');
    expect(rejection(withRow3({ bits: [F16.overOne, F16.zero] }), expected).message).toMatch(/is 1.0009765625, above 1/);
  });

  it('rejects values not in descending order with BAD_MESSAGE', () => {
    const { code, message: text } = rejection(withRow3({ indices: [4, 7], bits: [F16.quarter, F16.half] }), expected);
    expect(code).toBe('BAD_MESSAGE');
    expect(text).toContain('row 3, slot 1 (class 7) is 0.5, above the 0.25 before it; top-k:2 values must be in descending order');
  });

  it('rejects a row whose values sum above 1 + 1e-3 with BAD_MESSAGE', () => {
    const { code, message: text } = rejection(withRow3({ bits: [F16.threeQuarters, F16.half] }), expected);
    expect(code).toBe('BAD_MESSAGE');
    expect(text).toContain("row 3's 2 values sum to 1.25000; top-k:2 values must sum to at most 1 + 0.001");
  });

  it('reports a bad index before a non-finite value, and that before a negative one', () => {
    const raw = withRow3({ bits: [F16.half, F16.minusQuarter] });
    const data = Buffer.from(raw.data as Uint8Array);
    data.writeUInt16LE(F16.nan, 9 * ROW_BYTES + K); // row 9, slot 0
    expect(codeOf({ ...raw, data }, expected)).toBe('NOT_FINITE');
    data.writeUInt8(12, 20 * ROW_BYTES); // row 20, slot 0: class 12
    expect(rejection({ ...raw, data }, expected).message).toContain('row 20, slot 0 names class 12');
  });
});

describe('validateRoundPredictions: coverage weights (selective rounds)', () => {
  const selective = (): ExpectedPredictions => ({ ...expectedFor('float16'), maxPayloadBytes: maxPayloadBytesFor(N, C, 'float16') + coverageBytes(N) });
  const coverage = Float32Array.from({ length: N }, (_, i) => i / (N - 1));
  const withCoverage = (bytes: unknown) => ({ ...message('float16'), coverage: bytes });
  /** float16 bits of one value at input `at` of otherwise valid coverage bytes. */
  const coverageWith = (at: number, bits: number) => {
    const bytes = encodeCoverage(coverage);
    new DataView(bytes.buffer).setUint16(at * 2, bits, true);
    return bytes;
  };

  it('decodes the weights of a round that asked for them, within float16 precision', () => {
    const result = validateRoundPredictions(withCoverage(unalignedBuffer(encodeCoverage(coverage))), { ...selective(), coverage: true });
    if (!result.ok) throw new Error(result.message);
    expect(result.value.coverage).toHaveLength(N);
    result.value.coverage!.forEach((w, i) => expect(w).toBeCloseTo(coverage[i], 3));
  });

  it('refuses a missing, non-binary, wrong-sized, out-of-range or non-finite coverage, and coverage a round did not ask for', () => {
    const expected = { ...selective(), coverage: true };
    expect(rejection(message('float16'), expected).message).toMatch(/round 7 asks for coverage weights \(selection\), one float16 per input as binary; got nothing/);
    expect(rejection(withCoverage([1, 2]), expected).message).toMatch(/asks for coverage weights/);
    const short = rejection(withCoverage(encodeCoverage(coverage.subarray(1))), expected);
    expect([short.code, short.message]).toEqual(['BAD_SHAPE', `round.predictions: coverage is ${2 * (N - 1)} bytes; ${N} inputs need ${2 * N} (one float16 each)`]);
    expect(rejection(withCoverage(coverageWith(4, 0x3e00)), expected).message).toMatch(/the coverage of input 4 is 1.5; coverage weights must be in \[0, 1\]/);
    expect(rejection(withCoverage(coverageWith(5, 0xbc00)), expected).message).toMatch(/the coverage of input 5 is -1/);
    expect(rejection(withCoverage(coverageWith(6, 0x7e00)), expected).code).toBe('NOT_FINITE');
    expect(rejection(withCoverage(encodeCoverage(coverage)), selective()).message).toMatch(/round 7 did not ask for coverage weights, but the message carries some/);
  });

  it('counts the coverage bytes against the round\'s payload limit', () => {
    const tight = { ...expectedFor('float16'), maxPayloadBytes: N * C * 2 + coverageBytes(N) - 1, coverage: true };
    expect(rejection(withCoverage(encodeCoverage(coverage)), tight).code).toBe('TOO_LARGE');
  });
});
