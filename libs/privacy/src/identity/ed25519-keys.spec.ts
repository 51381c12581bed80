import { createPrivateKey, createPublicKey, sign as nodeSign, createHash } from 'node:crypto';

import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';

import {
  bytesToHex,
  decodeBase64Exact,
  encodePublicKey,
  fingerprint,
  generateIdentity,
  identityFromSeed,
  isConsistentSecretKey,
  messageSigningBytes,
  sha512,
  signMessage,
} from './index';

const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const SEED_0_TO_31 = Uint8Array.from({ length: 32 }, (_, i) => i);

/** Node's own Ed25519 (OpenSSL), an implementation independent of tweetnacl. */
function nodeEd25519Sign(seed: Uint8Array, message: Uint8Array): { signature: string; publicKey: string } {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]);
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return { signature: nodeSign(null, message, key).toString('hex'), publicKey: spki.subarray(12).toString('hex') };
}

describe('Ed25519 known answers', () => {
  it('matches RFC 8032 test 1 (empty message)', () => {
    const pair = identityFromSeed(hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'));
    expect(bytesToHex(pair.publicKey)).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(bytesToHex(nacl.sign.detached(new Uint8Array(0), pair.secretKey))).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
  });

  it('matches RFC 8032 test 2 (one byte 0x72)', () => {
    const pair = identityFromSeed(hex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'));
    expect(bytesToHex(pair.publicKey)).toBe('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
    expect(bytesToHex(nacl.sign.detached(Uint8Array.of(0x72), pair.secretKey))).toBe(
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    );
  });

  it('signs a fixed fedkd message with the key of seed 00..1f to a pinned signature, as OpenSSL does', () => {
    const pair = identityFromSeed(SEED_0_TO_31);
    const message = {
      round: 7,
      type: 'round.predictions',
      seq: 3,
      payload: { round: 7, encoding: 'float32', n: 2, classes: 3, data: Uint8Array.from([1, 2, 3, 4]) },
    };
    const federation = identityFromSeed(hex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb')).publicKey;
    const signature = signMessage(message, pair.secretKey, federation);
    // Pinned: a change of the key derivation, the message framing or the payload encoding breaks it.
    expect(bytesToHex(pair.publicKey)).toBe('03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8');
    expect(bytesToHex(signature)).toBe(
      '257d80d3b4de5a553ad70505193cb12bc61b9a6567a683efc5f3d5d30c0b8dc00f419a4e23792f206118faf3c14a783779c2f75a92a450032ab36b365f43f300',
    );
    const openssl = nodeEd25519Sign(SEED_0_TO_31, messageSigningBytes(message, federation));
    expect(openssl).toEqual({ signature: bytesToHex(signature), publicKey: bytesToHex(pair.publicKey) });
  });

  it('nacl.hash is SHA-512 (same as OpenSSL)', () => {
    const data = new TextEncoder().encode('fedkd');
    expect(bytesToHex(sha512(data))).toBe(createHash('sha512').update(data).digest('hex'));
  });
});

describe('identities', () => {
  it('generates distinct 32/64-byte key pairs whose secret key holds the public key', () => {
    const a = generateIdentity();
    const b = generateIdentity();
    expect(a.publicKey).toHaveLength(32);
    expect(a.secretKey).toHaveLength(64);
    expect(bytesToHex(a.publicKey)).not.toBe(bytesToHex(b.publicKey));
    expect(isConsistentSecretKey(a.secretKey)).toBe(true);
    const corrupt = a.secretKey.slice();
    corrupt[40] ^= 1;
    expect(isConsistentSecretKey(corrupt)).toBe(false);
  });

  it('fingerprints a public key as the first 16 hex digits of its SHA-512', () => {
    const { publicKey } = identityFromSeed(SEED_0_TO_31);
    expect(fingerprint(publicKey)).toBe(createHash('sha512').update(publicKey).digest('hex').slice(0, 16));
    expect(fingerprint(publicKey)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('throws for keys of the wrong length (programmer errors)', () => {
    expect(() => fingerprint(new Uint8Array(31))).toThrow(TypeError);
    expect(() => signMessage({ round: 0, type: 't', seq: 0, payload: null }, new Uint8Array(32), new Uint8Array(32))).toThrow(TypeError);
    expect(() => identityFromSeed(new Uint8Array(16))).toThrow(TypeError);
  });

  it('decodes only canonical base64 of the exact length', () => {
    const { publicKey } = generateIdentity();
    const text = encodePublicKey(publicKey);
    expect(decodeBase64Exact(text, 32)).toEqual(publicKey);
    expect(decodeBase64Exact(text, 64)).toBeNull();
    expect(decodeBase64Exact(`${text.slice(0, 10)}!${text.slice(10)}`, 32)).toBeNull();
    expect(decodeBase64Exact(` ${text}`, 32)).toBeNull();
    expect(decodeBase64Exact(42, 32)).toBeNull();
  });
});
