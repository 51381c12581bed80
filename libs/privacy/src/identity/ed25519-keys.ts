import nacl from 'tweetnacl';

import { sha512Hex } from './sha512';

/** An Ed25519 key pair in tweetnacl's layout: a 32-byte public key, a 64-byte secret key (seed || public key). */
export interface Ed25519KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export const PUBLIC_KEY_BYTES = nacl.sign.publicKeyLength; // 32
export const SECRET_KEY_BYTES = nacl.sign.secretKeyLength; // 64
export const SEED_BYTES = nacl.sign.seedLength; // 32
export const SIGNATURE_BYTES = nacl.sign.signatureLength; // 64
/** Hex digits of a fingerprint: 64 bits, for people comparing keys, not for security decisions. */
export const FINGERPRINT_HEX_DIGITS = 16;

/** A fresh Ed25519 identity from tweetnacl's CSPRNG (Node's crypto.randomBytes). */
export function generateIdentity(): Ed25519KeyPair {
  const { publicKey, secretKey } = nacl.sign.keyPair();
  return { publicKey, secretKey };
}

/** The key pair of a 32-byte seed: deterministic, for known-answer tests and key derivation. */
export function identityFromSeed(seed: Uint8Array): Ed25519KeyPair {
  assertLength(seed, SEED_BYTES, 'an Ed25519 seed');
  const { publicKey, secretKey } = nacl.sign.keyPair.fromSeed(seed);
  return { publicKey, secretKey };
}

/**
 * A short display form of a public key: the first 16 hex digits of SHA-512(public key), e.g.
 * `3f0c9a1be2d47c55`. Show it when a key is created and enrolled so operators can compare.
 */
export function fingerprint(publicKey: Uint8Array): string {
  assertPublicKey(publicKey);
  return sha512Hex(publicKey).slice(0, FINGERPRINT_HEX_DIGITS);
}

/** The public key as standard base64 (44 characters), as in the `.pub` file. */
export function encodePublicKey(publicKey: Uint8Array): string {
  assertPublicKey(publicKey);
  return Buffer.from(publicKey).toString('base64');
}

/**
 * Strict base64 decoding: only the canonical encoding of exactly `length` bytes is accepted
 * (Node's decoder silently skips invalid characters, which must not pass for a key).
 */
export function decodeBase64Exact(text: unknown, length: number): Uint8Array | null {
  if (typeof text !== 'string') return null;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== length || bytes.toString('base64') !== text) return null;
  return new Uint8Array(bytes);
}

/** Throws a TypeError unless `key` is a 32-byte Uint8Array (a programmer error, not bad input). */
export function assertPublicKey(key: Uint8Array): void {
  assertLength(key, PUBLIC_KEY_BYTES, 'an Ed25519 public key');
}

/** Throws a TypeError unless `key` is a 64-byte Uint8Array (a programmer error, not bad input). */
export function assertSecretKey(key: Uint8Array): void {
  assertLength(key, SECRET_KEY_BYTES, 'an Ed25519 secret key (tweetnacl layout: seed || public key)');
}

/**
 * Whether a 64-byte secret key is internally consistent: its second half is the public key of
 * its first half (catches a corrupted or truncated-and-padded key file).
 */
export function isConsistentSecretKey(secretKey: Uint8Array): boolean {
  if (secretKey.length !== SECRET_KEY_BYTES) return false;
  const derived = nacl.sign.keyPair.fromSeed(secretKey.subarray(0, SEED_BYTES)).publicKey;
  return nacl.verify(derived, secretKey.subarray(SEED_BYTES));
}

function assertLength(value: Uint8Array, length: number, what: string): void {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    const got = value instanceof Uint8Array ? `${value.length} bytes` : typeof value;
    throw new TypeError(`expected ${what} of ${length} bytes, got ${got}`);
  }
}
