import { describe, expect, it } from 'vitest';

import { canonicalPayloadBytes, encodeCanonicalPayload, sha512Hex } from './index';

const text = (value: unknown): string => new TextDecoder().decode(canonicalPayloadBytes(value));
const same = (a: unknown, b: unknown): boolean => Buffer.from(canonicalPayloadBytes(a)).equals(canonicalPayloadBytes(b));

const base = () => ({
  round: 4,
  encoding: 'uint8',
  n: 2,
  classes: 3,
  data: Uint8Array.from([10, 20, 30, 40, 50, 60]),
  scales: Uint8Array.from([0, 0, 128, 63, 0, 0, 0, 64]),
  meta: { tags: ['a', 'b'], ok: true, nothing: null, ratio: 0.25 },
});

describe('canonical payload bytes', () => {
  it('encodes a documented, pinned JSON text', () => {
    expect(text({ b: Uint8Array.of(1, 2), a: 'x', n: [1, -0, 2.5, NaN], t: true, z: null })).toBe(
      `{"a":"s:x","b":"b:2:${sha512Hex(Uint8Array.of(1, 2))}","n":[1,"n:-0",2.5,"n:NaN"],"t":true,"z":null}`,
    );
  });

  it('gives equal bytes for equal messages whatever the key order', () => {
    const a = base();
    const b = {
      meta: { ratio: 0.25, nothing: null, ok: true, tags: ['a', 'b'] },
      scales: Uint8Array.from([0, 0, 128, 63, 0, 0, 0, 64]),
      data: Uint8Array.from([10, 20, 30, 40, 50, 60]),
      classes: 3,
      n: 2,
      encoding: 'uint8',
      round: 4,
    };
    expect(same(a, b)).toBe(true);
  });

  it('encodes binary by its bytes, whatever the view type (as socket.io delivers a Buffer)', () => {
    const floats = Float32Array.of(1, 2);
    const asBuffer = Buffer.from(floats.buffer);
    const inLargerBuffer = new Uint8Array(new ArrayBuffer(16), 4, 8);
    inLargerBuffer.set(new Uint8Array(floats.buffer));
    expect(same({ d: floats }, { d: asBuffer })).toBe(true);
    expect(same({ d: floats }, { d: inLargerBuffer })).toBe(true);
    expect(same({ d: floats }, { d: floats.buffer })).toBe(true);
  });

  it('leaves out keys whose value is undefined (as the wire does)', () => {
    expect(same({ a: 1, b: undefined }, { a: 1 })).toBe(true);
  });

  const changes: Array<[string, (m: ReturnType<typeof base>) => unknown]> = [
    ['a number field', (m) => ({ ...m, round: 5 })],
    ['a string field', (m) => ({ ...m, encoding: 'float32' })],
    ['one bit of a Uint8Array', (m) => ({ ...m, data: Uint8Array.from([10, 20, 30, 40, 50, 61]) })],
    ['the length of a Uint8Array', (m) => ({ ...m, data: Uint8Array.from([10, 20, 30, 40, 50, 60, 0]) })],
    ['a nested boolean', (m) => ({ ...m, meta: { ...m.meta, ok: false } })],
    ['a nested array item', (m) => ({ ...m, meta: { ...m.meta, tags: ['a', 'c'] } })],
    ['array order', (m) => ({ ...m, meta: { ...m.meta, tags: ['b', 'a'] } })],
    ['null to 0', (m) => ({ ...m, meta: { ...m.meta, nothing: 0 } })],
    ['a number to a numeric string', (m) => ({ ...m, n: '2' })],
    ['bytes to the string that describes them', (m) => ({ ...m, data: `b:6:${sha512Hex(m.data)}` })],
    ['0 to -0', (m) => ({ ...m, meta: { ...m.meta, ratio: -0 } })],
    ['an added field', (m) => ({ ...m, extra: 1 })],
    ['a removed field', ({ scales: _scales, ...rest }) => rest],
    ['a renamed key', ({ scales, ...rest }) => ({ ...rest, scale: scales })],
  ];
  it.each(changes)('changes when %s changes', (_what, change) => {
    expect(same(base(), change(base()))).toBe(false);
  });

  it('changes for every single-bit flip of a binary field', () => {
    const reference = canonicalPayloadBytes(base());
    const seen = new Set<string>([Buffer.from(reference).toString('hex')]);
    for (let bit = 0; bit < 6 * 8; bit += 1) {
      const m = base();
      m.data[bit >> 3] ^= 1 << (bit & 7);
      seen.add(Buffer.from(canonicalPayloadBytes(m)).toString('hex'));
    }
    expect(seen.size).toBe(1 + 48);
  });

  it.each([
    ['undefined', undefined],
    ['a bigint', { a: 1n }],
    ['a function', { f: () => 1 }],
    ['a Date', { d: new Date(0) }],
    ['a Map', { m: new Map() }],
  ])('refuses %s as a value without throwing', (_what, value) => {
    const encoded = encodeCanonicalPayload(value);
    expect(encoded).toMatchObject({ ok: false, code: 'UNENCODABLE' });
    expect(() => canonicalPayloadBytes(value)).toThrow(TypeError);
  });

  it('refuses cycles and excessive nesting', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(encodeCanonicalPayload(cyclic)).toMatchObject({ ok: false, code: 'UNENCODABLE' });
    let deep: unknown = 1;
    for (let i = 0; i < 1000; i += 1) deep = [deep];
    expect(encodeCanonicalPayload(deep)).toMatchObject({ ok: false, code: 'UNENCODABLE' });
  });

  it('accepts the same object twice when it is not a cycle', () => {
    const shared = { x: 1 };
    expect(text({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });
});
