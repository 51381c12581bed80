import nacl from 'tweetnacl';
import { combine, split } from 'shamir-secret-sharing';
import { describe, expect, it } from 'vitest';

import {
  combineShares,
  decodeSharePlaintext,
  encodeSharePlaintext,
  openSealedShare,
  sealingKey,
  sealShare,
  SharePlaintext,
  splitSecret,
} from './shares';

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/**
 * The share with x coordinate `x` of the unique polynomial of degree < shares.length + 1 through
 * (0, secret) and the given shares. In GF(2^8) addition is XOR, so Q(x) = P(x XOR x*) is a
 * polynomial of the same degree with Q(0) = P(x*): interpolating the shifted points with the
 * library's `combine` (which evaluates at 0) evaluates P at x*.
 */
async function completingShare(shares: Uint8Array[], secret: Uint8Array, x: number): Promise<Uint8Array> {
  const length = secret.length;
  const shifted = shares.map((share) => {
    const copy = new Uint8Array(share);
    copy[length] = share[length]! ^ x;
    return copy;
  });
  const atZero = new Uint8Array(length + 1);
  atZero.set(secret);
  atZero[length] = x; // (0 XOR x*, secret)
  const y = await combine([...shifted, atZero]);
  const share = new Uint8Array(length + 1);
  share.set(y);
  share[length] = x;
  return share;
}

describe('Shamir shares of the round secrets', () => {
  it('any t of the shares recover the secret', async () => {
    const secret = nacl.randomBytes(32);
    const holders = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const shares = await splitSecret(secret, holders, 4);
    for (const subset of [['a', 'b', 'c', 'd'], ['g', 'e', 'c', 'a'], ['d', 'e', 'f', 'g', 'a']]) {
      expect(equalBytes(await combineShares(subset.map((h) => shares.get(h)!), 4, 'secret'), secret)).toBe(true);
    }
  });

  it('t - 1 shares recover nothing: combining them never gives the secret', async () => {
    for (let trial = 0; trial < 50; trial++) {
      const secret = nacl.randomBytes(32);
      const t = 3 + (trial % 6); // t - 1 >= 2: the library's combine needs two shares
      const shares = await split(secret, t + 2, t);
      expect(equalBytes(await combine(shares.slice(0, t - 1)), secret)).toBe(false);
      expect(equalBytes(await combine(shares.slice(2, t + 1)), secret)).toBe(false);
    }
  });

  it('t - 1 shares are consistent with every candidate secret (information-theoretic hiding)', async () => {
    // For the t - 1 shares seen and ANY candidate, one completing t-th share exists: the shares seen
    // do not rule out (or favour) any secret. See the comment at the top of shares.ts.
    const t = 4;
    const secret = nacl.randomBytes(32);
    const shares = await split(secret, 6, t);
    const seen = shares.slice(0, t - 1);
    const used = new Set(shares.map((s) => s[32]!));
    const freeX = [...Array(255).keys()].map((i) => i + 1).find((x) => !used.has(x))!;
    for (const candidate of [secret, new Uint8Array(32), new Uint8Array(32).fill(0xff), nacl.randomBytes(32)]) {
      const completion = await completingShare(seen, candidate, freeX);
      expect(equalBytes(await combine([...seen, completion]), candidate)).toBe(true);
    }
  });

  it('refuses to reconstruct from fewer than t shares (BELOW_THRESHOLD)', async () => {
    const shares = await splitSecret(nacl.randomBytes(32), ['a', 'b', 'c', 'd'], 3);
    await expect(combineShares([shares.get('a')!, shares.get('b')!], 3, 'self-mask seed of x')).rejects.toMatchObject({
      code: 'BELOW_THRESHOLD',
    });
  });

  it('refuses impossible splits (threshold above the holders, more than 255 holders)', async () => {
    await expect(splitSecret(new Uint8Array(32), ['a', 'b'], 3)).rejects.toMatchObject({ code: 'INVALID_PARAMETERS' });
    const many = Array.from({ length: 256 }, (_, i) => `c${i}`);
    await expect(splitSecret(new Uint8Array(32), many, 3)).rejects.toMatchObject({ code: 'INVALID_PARAMETERS' });
  });
});

describe('sealed shares', () => {
  const u = nacl.box.keyPair();
  const v = nacl.box.keyPair();
  const w = nacl.box.keyPair();
  const plaintext: SharePlaintext = {
    roundId: 12,
    senderId: 'u',
    recipientId: 'v',
    selfMaskSeedShare: nacl.randomBytes(33),
    maskingKeyShare: nacl.randomBytes(33),
  };
  const sealed = sealShare(plaintext, sealingKey(v.publicKey, u.secretKey));
  const asV = sealingKey(u.publicKey, v.secretKey);
  const expected = { roundId: 12, senderId: 'u', recipientId: 'v' };

  it('opens for its recipient with the sender and round bound inside', () => {
    const opened = openSealedShare(sealed, asV, expected);
    expect(opened.senderId).toBe('u');
    expect(opened.recipientId).toBe('v');
    expect(equalBytes(opened.selfMaskSeedShare, plaintext.selfMaskSeedShare)).toBe(true);
    expect(equalBytes(opened.maskingKeyShare, plaintext.maskingKeyShare)).toBe(true);
  });

  it('a share sealed to v cannot be opened by w', () => {
    expect(() => openSealedShare({ ...sealed, recipientId: 'w' }, sealingKey(u.publicKey, w.secretKey), { ...expected, recipientId: 'w' })).toThrow(
      expect.objectContaining({ code: 'SHARE_REJECTED' }),
    );
  });

  it('tampering with the ciphertext or the nonce is detected', () => {
    const flipped = new Uint8Array(sealed.ciphertext);
    flipped[20] = flipped[20]! ^ 1;
    expect(() => openSealedShare({ ...sealed, ciphertext: flipped }, asV, expected)).toThrow(expect.objectContaining({ code: 'SHARE_REJECTED' }));
    const nonce = new Uint8Array(sealed.nonce);
    nonce[0] = nonce[0]! ^ 1;
    expect(() => openSealedShare({ ...sealed, nonce }, asV, expected)).toThrow(expect.objectContaining({ code: 'SHARE_REJECTED' }));
  });

  it('a share replayed into another round is rejected, even under the same keys', () => {
    expect(() => openSealedShare(sealed, asV, { ...expected, roundId: 13 })).toThrow(expect.objectContaining({ code: 'WRONG_ROUND' }));
  });

  it('a share relabelled by the relay (other sender or recipient on the envelope) is rejected', () => {
    // w seals to v honestly, the relay claims it came from u: it does not open under u's key.
    const fromW = sealShare({ ...plaintext, senderId: 'w' }, sealingKey(v.publicKey, w.secretKey));
    expect(() => openSealedShare({ ...fromW, senderId: 'u' }, asV, expected)).toThrow(expect.objectContaining({ code: 'SHARE_REJECTED' }));
    // Same keys, but the ids inside disagree with the delivery.
    expect(() => openSealedShare(sealed, asV, { ...expected, senderId: 'x' })).toThrow(expect.objectContaining({ code: 'SHARE_REJECTED' }));
  });

  it('encodes its plaintext unambiguously', () => {
    const bytes = encodeSharePlaintext(plaintext);
    expect(decodeSharePlaintext(bytes)).toEqual(plaintext);
    expect(() => decodeSharePlaintext(bytes.subarray(0, bytes.length - 1))).toThrow(expect.objectContaining({ code: 'SHARE_REJECTED' }));
    expect(() => decodeSharePlaintext(new Uint8Array([...bytes, 0]))).toThrow(expect.objectContaining({ code: 'SHARE_REJECTED' }));
  });
});
