import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { addMaskInPlace, keystreamBytes, maskStream, pairwiseMaskSign, streamNonce } from './mask-stream';

const KEY_0_TO_31 = Uint8Array.from({ length: 32 }, (_, i) => i);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('mask stream (XSalsa20 PRG)', () => {
  it('is NaCl XSalsa20: matches the test vectors of NaCl tests/stream.c and stream3.c', () => {
    const key = Buffer.from('1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389', 'hex');
    const nonce = Buffer.from('69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37', 'hex');
    expect(hex(keystreamBytes(new Uint8Array(key), new Uint8Array(nonce), 32))).toBe(
      'eea6a7251c1e72916d11c2cb214d3c252539121d8e234e652d651fa4c8cff880',
    );
    const long = keystreamBytes(new Uint8Array(key), new Uint8Array(nonce), 4194304);
    expect(createHash('sha256').update(long).digest('hex')).toBe('662b9d0e3463029156069b12f918691a98f7dfb2ca0393c96bbfc6b1fbd630a2');
  });

  it('binds the round id and the domain in the nonce: "fedkd-sa" || tag || round id (u64 LE)', () => {
    expect(hex(streamNonce('pairwise', 7))).toBe('6665646b642d736170616972776973650700000000000000');
    expect(hex(streamNonce('self', 7))).toBe('6665646b642d736173656c666d61736b0700000000000000');
    expect(hex(streamNonce('pairwise', 2 ** 40 + 1)).slice(32)).toBe('0100000000010000');
    expect(() => streamNonce('pairwise', -1)).toThrow(/round id/);
  });

  it('pins the first 8 words for key 0..31, round 7, domain pairwise (known answer)', () => {
    expect([...maskStream(KEY_0_TO_31, 7, 'pairwise', 8)]).toEqual([
      0x3f643a74, 0xc6998189, 0x5d7111e9, 0x325a5057, 0x96270bec, 0x3ea31a15, 0xfae625e1, 0xac0931b1,
    ]);
  });

  it('gives another stream in round 8 and in the self-mask domain', () => {
    expect([...maskStream(KEY_0_TO_31, 8, 'pairwise', 8)]).toEqual([
      0x47441d57, 0x9a4f5c8e, 0xdb90311c, 0x8c4c7519, 0xcb71d6f6, 0xe563588e, 0xebc874ed, 0x369078da,
    ]);
    expect([...maskStream(KEY_0_TO_31, 7, 'self', 8)]).toEqual([
      0x47e86f89, 0xb337b7d9, 0x792065de, 0xe1c818dc, 0xbbe8a21e, 0x35a87bd0, 0xdde9e9e5, 0x9b06d6f1,
    ]);
  });

  it('expands to any vector length with the same prefix (4 bytes little-endian per element)', () => {
    const short = maskStream(KEY_0_TO_31, 7, 'pairwise', 8);
    const long = maskStream(KEY_0_TO_31, 7, 'pairwise', 20_000);
    expect(long.length).toBe(20_000);
    expect([...long.subarray(0, 8)]).toEqual([...short]);
    const bytes = keystreamBytes(KEY_0_TO_31, streamNonce('pairwise', 7), 4);
    expect(short[0]).toBe(bytes[0]! + bytes[1]! * 2 ** 8 + bytes[2]! * 2 ** 16 + bytes[3]! * 2 ** 24);
  });

  it('cancels: adding and subtracting the same mask restores the vector mod 2^32', () => {
    const vector = Uint32Array.from({ length: 1000 }, (_, i) => (i * 2654435761) >>> 0);
    const copy = new Uint32Array(vector);
    const mask = maskStream(KEY_0_TO_31, 3, 'pairwise', 1000);
    addMaskInPlace(vector, mask, 1);
    expect(vector).not.toEqual(copy);
    addMaskInPlace(vector, mask, -1);
    expect(vector).toEqual(copy);
  });

  it('gives the two ends of a pair opposite signs', () => {
    expect(pairwiseMaskSign('alice', 'bob')).toBe(1);
    expect(pairwiseMaskSign('bob', 'alice')).toBe(-1);
    expect(() => pairwiseMaskSign('bob', 'bob')).toThrow();
  });
});
