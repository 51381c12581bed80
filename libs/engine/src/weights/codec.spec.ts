import { createHash } from 'crypto';
import { describe, expect, it } from 'vitest';
import { CNN_SPEC, MLP_SPEC, type ModelSpec } from '../models/model-spec';
import { blobSha256, decodeWeights, encodeWeights, packBlob, readWeightHeader } from './codec';
import { WeightBlobError, type WeightBlobErrorCode } from './errors';
import { roundToFloat16 } from './float16';
import { HEADER_OFFSET } from './format';
import type { NamedWeights, WeightHeader } from './types';

const SMALL_SPEC: ModelSpec = { kind: 'mlp', inputShape: [2, 2, 1], hidden: [3], classes: 2 };

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomWeights(shapes: [string, number[]][], seed = 1): NamedWeights {
  const rand = rng(seed);
  return shapes.map(([name, shape]) => {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < values.length; i++) values[i] = (rand() - 0.5) * 0.2;
    return { name, shape, values };
  });
}

/** Weights of an MLP spec in the layout the builder produces (kernel [in, out], bias [out]). */
function mlpWeights(spec: ModelSpec & { kind: 'mlp' }, seed = 1): NamedWeights {
  const widths = [spec.inputShape.reduce((a, b) => a * b, 1), ...spec.hidden, spec.classes];
  const shapes: [string, number[]][] = [];
  for (let i = 1; i < widths.length; i++) {
    shapes.push([`layer${i + 1}/Dense/kernel`, [widths[i - 1], widths[i]]]);
    shapes.push([`layer${i + 1}/Dense/bias`, [widths[i]]]);
  }
  return randomWeights(shapes, seed);
}

const small = (): NamedWeights => mlpWeights(SMALL_SPEC as ModelSpec & { kind: 'mlp' }, 3);

function expectCode(fn: () => unknown, ...codes: WeightBlobErrorCode[]): WeightBlobError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a WeightBlobError ${codes.join('|')}`).toBeInstanceOf(WeightBlobError);
  const err = caught as WeightBlobError;
  expect(codes, err.message).toContain(err.code);
  expect(err.message.length).toBeGreaterThan(10);
  return err;
}

const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** Re-packs a blob around an edited header (valid header digest; body kept unless given). */
function withHeader(blob: Uint8Array, edit: (h: Record<string, unknown>) => void, body?: Uint8Array): Uint8Array {
  const { header, bodyOffset } = readWeightHeader(blob);
  const h = structuredClone(header) as unknown as Record<string, unknown>;
  edit(h);
  return packBlob(new TextEncoder().encode(JSON.stringify(h)), body ?? blob.subarray(bodyOffset));
}

function withRawHeader(text: string | Uint8Array, body = new Uint8Array(0)): Uint8Array {
  return packBlob(typeof text === 'string' ? new TextEncoder().encode(text) : text, body);
}

describe('weight blob: float32', () => {
  it('round-trips bitwise, including -0, subnormals, extremes and infinities', () => {
    const special = new Float32Array([
      0, -0, 1, -1, 1e-40, -1e-45, 1.17549435e-38, 3.4028234e38, -3.4028234e38, Infinity, -Infinity, NaN, 0.1, Math.PI,
    ]);
    const weights: NamedWeights = [
      { name: 'special', shape: [2, 7], values: special },
      { name: 'scalar', shape: [], values: new Float32Array([42.5]) },
      { name: 'empty', shape: [0, 3], values: new Float32Array(0) },
      ...randomWeights([['w', [5, 4, 3]]], 9),
    ];
    const decoded = decodeWeights(encodeWeights(SMALL_SPEC, weights));
    expect(decoded.dtype).toBe('float32');
    expect(decoded.formatVersion).toBe(1);
    expect(decoded.spec).toEqual(SMALL_SPEC);
    expect(decoded.weights.map((w) => [w.name, w.shape])).toEqual(weights.map((w) => [w.name, w.shape]));
    decoded.weights.forEach((w, i) => {
      expect(w.values).toBeInstanceOf(Float32Array);
      const want = bitsOf(weights[i].values);
      const got = bitsOf(w.values);
      if (w.name === 'special') {
        expect(Number.isNaN(w.values[11])).toBe(true); // payload not required
        want.splice(11, 1);
        got.splice(11, 1);
      }
      expect(got).toEqual(want);
    });
    expect(Object.is(decoded.weights[0].values[1], -0)).toBe(true);
  });

  it('encodes views with an offset and returns independent arrays', () => {
    const backing = new Float32Array([7, 1, 2, 3, 4, 7]);
    const blob = encodeWeights(SMALL_SPEC, [{ name: 'v', shape: [2, 2], values: backing.subarray(1, 5) }]);
    const { weights } = decodeWeights(blob);
    expect(Array.from(weights[0].values)).toEqual([1, 2, 3, 4]);
    weights[0].values[0] = 99;
    expect(Array.from(decodeWeights(blob).weights[0].values)).toEqual([1, 2, 3, 4]);
  });

  it('decodes a blob that sits at an odd offset inside a larger buffer (e.g. a Node Buffer)', () => {
    const blob = encodeWeights(SMALL_SPEC, small());
    const big = new Uint8Array(blob.length + 3);
    big.set(blob, 1);
    const view = big.subarray(1, 1 + blob.length);
    expect(decodeWeights(view).weights[0].values).toEqual(small()[0].values);
    expect(decodeWeights(Buffer.from(blob)).sha256).toBe(blobSha256(blob));
  });

  it('is deterministic and independent of the spec key order', () => {
    const a = encodeWeights(SMALL_SPEC, small());
    const b = encodeWeights({ classes: 2, hidden: [3], inputShape: [2, 2, 1], kind: 'mlp' }, small());
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(blobSha256(a)).toBe(blobSha256(b));
    expect(blobSha256(a)).toBe(createHash('sha256').update(a).digest('hex'));
    expect(decodeWeights(a).sha256).toBe(blobSha256(a));
    expect(blobSha256(encodeWeights(SMALL_SPEC, small(), { dtype: 'float16' }))).not.toBe(blobSha256(a));
  });

  it('reads the header alone, even from the first bytes of a blob', () => {
    const blob = encodeWeights(CNN_SPEC, randomWeights([['c', [3, 3, 1, 16]], ['b', [16]]]));
    const info = readWeightHeader(blob);
    expect(info.totalByteLength).toBe(blob.length);
    expect(info.header.spec).toEqual(CNN_SPEC);
    expect(info.header.dtype).toBe('float32');
    expect(info.header.bodyByteLength).toBe((144 + 16) * 4);
    expect(info.header.tensors).toEqual([
      { name: 'c', shape: [3, 3, 1, 16], offset: 0, byteLength: 576 },
      { name: 'b', shape: [16], offset: 576, byteLength: 64 },
    ]);
    expect(info.header.bodySha256).toBe(createHash('sha256').update(blob.subarray(info.bodyOffset)).digest('hex'));
    expect(readWeightHeader(blob.subarray(0, info.bodyOffset)).header).toEqual(info.header);
    expect(decodeWeights(blob).bodySha256).toBe(info.header.bodySha256);
  });
});

describe('weight blob: float16', () => {
  it('stores values rounded to half precision, in half the body', () => {
    const weights = mlpWeights(SMALL_SPEC as ModelSpec & { kind: 'mlp' });
    weights.push({ name: 'special', shape: [6], values: new Float32Array([1, -2, 65504, 65520, 6e-8, 1e-9]) });
    const b32 = readWeightHeader(encodeWeights(SMALL_SPEC, weights)).header;
    const blob = encodeWeights(SMALL_SPEC, weights, { dtype: 'float16' });
    const h16 = readWeightHeader(blob).header;
    expect(h16.dtype).toBe('float16');
    expect(h16.bodyByteLength * 2).toBe(b32.bodyByteLength);
    const decoded = decodeWeights(blob);
    expect(decoded.dtype).toBe('float16');
    decoded.weights.forEach((w, i) => {
      const src = weights[i].values;
      src.forEach((x, j) => expect(Object.is(w.values[j], roundToFloat16(x))).toBe(true));
    });
    expect(Array.from(decoded.weights.at(-1)!.values)).toEqual([1, -2, 65504, Infinity, 2 ** -24, 0]);
  });

  it('keeps typical weights within the relative half-precision bound', () => {
    const weights = randomWeights([['w', [100, 100]]], 5);
    const { weights: back } = decodeWeights(encodeWeights(SMALL_SPEC, weights, { dtype: 'float16' }));
    weights[0].values.forEach((x, i) => {
      const a = Math.abs(x);
      expect(Math.abs(back[0].values[i] - x)).toBeLessThanOrEqual(a >= 2 ** -14 ? a * 2 ** -11 : 2 ** -25);
    });
  });
});

describe('weight blob: size', () => {
  it('784-256-128-10 MLP: small header, float16 body half of float32', () => {
    const weights = mlpWeights(MLP_SPEC);
    const params = weights.reduce((n, w) => n + w.values.length, 0);
    expect(params).toBe(235_146);
    const b32 = encodeWeights(MLP_SPEC, weights);
    const b16 = encodeWeights(MLP_SPEC, weights, { dtype: 'float16' });
    const h32 = readWeightHeader(b32);
    const h16 = readWeightHeader(b16);
    expect(h32.header.bodyByteLength).toBe(params * 4);
    expect(h16.header.bodyByteLength).toBe(params * 2);
    expect(h32.bodyOffset).toBeLessThan(1024);
    expect(b32.length).toBe(h32.bodyOffset + params * 4);
    expect(b16.length).toBe(h16.bodyOffset + params * 2);
    console.log(
      `MLP 784-256-128-10 (${params} params): float32 blob ${b32.length} B (prefix+header ${h32.bodyOffset} B), ` +
        `float16 blob ${b16.length} B (prefix+header ${h16.bodyOffset} B)`,
    );
  });
});

describe('weight blob: encoder input checks', () => {
  it('rejects bad arguments', () => {
    const w = small();
    expectCode(() => encodeWeights(SMALL_SPEC, [w[0], { ...w[1], name: w[0].name }]), 'INVALID_INPUT');
    expectCode(() => encodeWeights(SMALL_SPEC, [{ ...w[0], name: '' }]), 'INVALID_INPUT');
    expectCode(() => encodeWeights(SMALL_SPEC, [{ ...w[0], shape: [4, -3] }]), 'INVALID_INPUT');
    expectCode(() => encodeWeights(SMALL_SPEC, [{ ...w[0], shape: [4, 2.5] }]), 'INVALID_INPUT');
    expectCode(() => encodeWeights(SMALL_SPEC, [{ ...w[0], shape: [4, 4] }]), 'SHAPE_MISMATCH');
    expectCode(() => encodeWeights(SMALL_SPEC, [{ ...w[0], values: [1, 2] as unknown as Float32Array }]), 'INVALID_INPUT');
    expectCode(() => encodeWeights(SMALL_SPEC, w, { dtype: 'int8' as 'float16' }), 'INVALID_INPUT');
    expectCode(() => encodeWeights({ kind: 'rnn' } as unknown as ModelSpec, w), 'INVALID_INPUT');
  });
});

describe('weight blob: rejection', () => {
  const blob = encodeWeights(SMALL_SPEC, small());
  const { bodyOffset } = readWeightHeader(blob);
  const body = blob.subarray(bodyOffset);

  it('decodes the untouched blob (sanity)', () => {
    expect(decodeWeights(blob).weights).toHaveLength(4);
  });

  it('wrong magic', () => {
    for (const i of [0, 1, 2, 3]) {
      const bad = blob.slice();
      bad[i] ^= 0x20;
      expectCode(() => decodeWeights(bad), 'BAD_MAGIC');
    }
    expectCode(() => decodeWeights(new TextEncoder().encode('{"formatVersion":1}')), 'BAD_MAGIC');
    expectCode(() => decodeWeights(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 0, 0, 0])), 'BAD_MAGIC'); // a zip
    expectCode(() => decodeWeights(new Uint8Array([0x46, 0x00])), 'BAD_MAGIC');
  });

  it('unsupported version', () => {
    for (const version of [0, 2, 0x100, 0xffff]) {
      const bad = blob.slice();
      new DataView(bad.buffer).setUint16(4, version, true);
      expectCode(() => decodeWeights(bad), 'UNSUPPORTED_VERSION');
      expectCode(() => readWeightHeader(bad), 'UNSUPPORTED_VERSION');
    }
    expectCode(() => decodeWeights(packBlob(blob.subarray(HEADER_OFFSET, bodyOffset), body, 2)), 'UNSUPPORTED_VERSION');
  });

  it('truncated at every length', () => {
    for (let n = 0; n < blob.length; n++) {
      expectCode(() => decodeWeights(blob.subarray(0, n)), 'TRUNCATED');
    }
    for (const n of [0, 3, 5, 10, 41, HEADER_OFFSET + 5, bodyOffset - 1]) {
      expectCode(() => readWeightHeader(blob.subarray(0, n)), 'TRUNCATED');
    }
  });

  it('header length beyond the end', () => {
    for (const len of [bodyOffset - HEADER_OFFSET + body.length + 1, 0x7fffffff, 0xffffffff]) {
      const bad = blob.slice();
      new DataView(bad.buffer).setUint32(6, len, true);
      expectCode(() => decodeWeights(bad), 'TRUNCATED');
    }
  });

  it('body shorter than declared (header intact)', () => {
    expectCode(() => decodeWeights(blob.subarray(0, blob.length - 4)), 'TRUNCATED');
    // Header digest valid, body cut short by 8 bytes.
    const short = withHeader(blob, () => {}, body.subarray(0, body.length - 8));
    expectCode(() => decodeWeights(short), 'TRUNCATED');
  });

  it('trailing bytes', () => {
    for (const extra of [1, 4, 1000]) {
      const bad = new Uint8Array(blob.length + extra);
      bad.set(blob);
      expectCode(() => decodeWeights(bad), 'TRAILING_BYTES');
    }
  });

  it('a single flipped bit anywhere in the body -> HASH_MISMATCH', () => {
    for (let i = 0; i < body.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = blob.slice();
        bad[bodyOffset + i] ^= 1 << bit;
        expectCode(() => decodeWeights(bad), 'HASH_MISMATCH');
      }
    }
  });

  it('a flipped byte in the header JSON -> CORRUPT_HEADER or HASH_MISMATCH', () => {
    for (let i = HEADER_OFFSET; i < bodyOffset; i++) {
      for (const mask of [0x01, 0x20, 0xff]) {
        const bad = blob.slice();
        bad[i] ^= mask;
        expectCode(() => decodeWeights(bad), 'CORRUPT_HEADER', 'HASH_MISMATCH');
        expectCode(() => readWeightHeader(bad), 'CORRUPT_HEADER', 'HASH_MISMATCH');
      }
    }
  });

  it('no single bit flip anywhere in the blob goes unnoticed', () => {
    for (let i = 0; i < blob.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = blob.slice();
        bad[i] ^= 1 << bit;
        expect(() => decodeWeights(bad)).toThrow(WeightBlobError);
      }
    }
  });

  it('a tampered body with a re-computed header digest still fails on the body hash', () => {
    const tampered = body.slice();
    tampered[5] ^= 0x10;
    expectCode(() => decodeWeights(withHeader(blob, () => {}, tampered)), 'HASH_MISMATCH');
    // ... unless the attacker also rewrites bodySha256: then blobSha256 (the version hash) changes.
    const forged = withHeader(blob, (h) => {
      h.bodySha256 = createHash('sha256').update(tampered).digest('hex');
    }, tampered);
    expect(decodeWeights(forged).sha256).not.toBe(blobSha256(blob));
  });

  it('header that is not UTF-8 or not JSON', () => {
    expectCode(() => decodeWeights(withRawHeader(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))), 'CORRUPT_HEADER');
    expectCode(() => decodeWeights(withRawHeader('{"formatVersion": 1,')), 'CORRUPT_HEADER');
    expectCode(() => decodeWeights(withRawHeader('')), 'CORRUPT_HEADER');
    for (const text of ['null', '[]', '1', '"header"', 'true']) {
      expectCode(() => decodeWeights(withRawHeader(text)), 'CORRUPT_HEADER');
    }
  });

  it('header JSON not of the expected shape', () => {
    type Edit = (h: Record<string, unknown> & { tensors: Record<string, unknown>[] }) => void;
    const corrupt: [string, Edit][] = [
      ['missing field', (h) => delete h.bodySha256],
      ['unknown field', (h) => (h.extra = 1)],
      ['formatVersion differs from prefix', (h) => (h.formatVersion = 2)],
      ['formatVersion as string', (h) => (h.formatVersion = '1')],
      ['spec missing', (h) => (h.spec = null)],
      ['spec of unknown kind', (h) => (h.spec = { ...SMALL_SPEC, kind: 'rnn' })],
      ['spec with bad hidden', (h) => (h.spec = { ...SMALL_SPEC, hidden: [3, -1] })],
      ['spec with bad inputShape', (h) => (h.spec = { ...SMALL_SPEC, inputShape: [2, 2] })],
      ['cnn spec without kernelSize', (h) => (h.spec = { ...CNN_SPEC, kernelSize: undefined })],
      ['unknown dtype', (h) => (h.dtype = 'int8')],
      ['bodyByteLength negative', (h) => (h.bodyByteLength = -1)],
      ['bodyByteLength fractional', (h) => (h.bodyByteLength = 10.5)],
      ['bodySha256 upper-case', (h) => (h.bodySha256 = (h.bodySha256 as string).toUpperCase())],
      ['bodySha256 short', (h) => (h.bodySha256 = 'abcd')],
      ['tensors not an array', (h) => (h.tensors = {} as never)],
      ['tensor not an object', (h) => (h.tensors[0] = 5 as never)],
      ['tensor with unknown field', (h) => (h.tensors[0].dtype = 'float32')],
      ['tensor missing offset', (h) => delete h.tensors[0].offset],
      ['duplicate names', (h) => (h.tensors[1].name = h.tensors[0].name)],
      ['empty name', (h) => (h.tensors[0].name = '')],
      ['name not a string', (h) => (h.tensors[0].name = 7)],
      ['negative dimension', (h) => (h.tensors[1].shape = [-3])],
      ['fractional dimension', (h) => (h.tensors[1].shape = [1.5])],
      ['dimension as string', (h) => (h.tensors[1].shape = ['3'])],
      ['shape not an array', (h) => (h.tensors[1].shape = 3)],
      ['negative offset', (h) => (h.tensors[0].offset = -4)],
      ['fractional offset', (h) => (h.tensors[0].offset = 0.5)],
      ['overlap', (h) => (h.tensors[1].offset = (h.tensors[0].byteLength as number) - 4)],
      ['gap', (h) => (h.tensors[1].offset = (h.tensors[1].offset as number) + 4)],
      ['outside the body', (h) => (h.tensors[3].offset = h.bodyByteLength)],
      ['bodyByteLength larger than the tensors', (h) => (h.bodyByteLength = (h.bodyByteLength as number) + 4)],
      ['two tensors swapped onto one range', (h) => (h.tensors[3].offset = h.tensors[1].offset)],
    ];
    for (const [what, edit] of corrupt) {
      const bad = withHeader(blob, edit as (h: Record<string, unknown>) => void);
      const err = expectCode(() => decodeWeights(bad), 'CORRUPT_HEADER');
      expect(err.message, what).toMatch(/CORRUPT_HEADER: /);
      expectCode(() => readWeightHeader(bad), 'CORRUPT_HEADER');
    }
  });

  it('a tensor whose element count does not match its shape -> SHAPE_MISMATCH', () => {
    const edits: ((h: Record<string, unknown> & { tensors: Record<string, unknown>[] }) => void)[] = [
      (h) => (h.tensors[1].shape = [4]), // 3-element bias declared as 4
      (h) => (h.tensors[0].shape = [4, 2]), // kernel 4x3 declared as 4x2
      (h) => (h.tensors[0].byteLength = 44),
      (h) => (h.tensors[0].shape = [2 ** 30, 2 ** 30, 2 ** 30]), // overflow
    ];
    for (const edit of edits) {
      const err = expectCode(() => decodeWeights(withHeader(blob, edit as (h: Record<string, unknown>) => void)), 'SHAPE_MISMATCH');
      expect(err.message).toContain("'layer");
    }
  });

  it('a consistent hand-made header decodes (the validation is not over-strict)', () => {
    // Tensors listed out of body order are fine as long as they tile the body.
    const h: WeightHeader = readWeightHeader(blob).header;
    const reordered = withHeader(blob, (x) => {
      (x.tensors as unknown[]).reverse();
    });
    const decoded = decodeWeights(reordered);
    expect(decoded.weights.map((w) => w.name)).toEqual(h.tensors.map((t) => t.name).reverse());
    expect(decoded.weights.at(-1)!.values).toEqual(decodeWeights(blob).weights[0].values);
  });
});
