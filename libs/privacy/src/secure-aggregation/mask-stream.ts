import nacl from 'tweetnacl';

import { SecureAggregationError } from './errors';
import { uint32FromBytesLE, writeUint64LE } from './wire-bytes';

/**
 * The pseudo-random generator of secure aggregation: the XSalsa20 keystream
 * (`nacl.lowlevel.crypto_stream`) under a 32-byte key, read as u32 words, 4 bytes little-endian
 * per word.
 *
 * Nonce (24 bytes) = "fedkd-sa" (8 ASCII bytes) || domain tag (8 ASCII bytes) || round id (u64 LE).
 * The domain tag separates the pairwise masks ("pairwise"), the self masks ("selfmask") and the
 * neighbour-graph permutation ("nbrgraph"); the round id makes every round's streams distinct even
 * if a key were ever reused (keys are fresh per round anyway). XSalsa20 takes a 192-bit nonce, so
 * a structured nonce like this one is safe: it only has to be unique per key.
 */
export type StreamDomain = 'pairwise' | 'self' | 'graph';

export const STREAM_KEY_BYTES = 32;
export const STREAM_NONCE_BYTES = 24;

const NONCE_PREFIX = 'fedkd-sa';
const DOMAIN_TAGS: Record<StreamDomain, string> = { pairwise: 'pairwise', self: 'selfmask', graph: 'nbrgraph' };

const lowlevel = (nacl as unknown as { lowlevel?: Partial<nacl.lowlevel> }).lowlevel;
if (typeof lowlevel?.crypto_stream !== 'function') {
  throw new Error('tweetnacl does not expose nacl.lowlevel.crypto_stream (fedkd needs tweetnacl 1.0.x)');
}
const cryptoStream: nacl.lowlevel['crypto_stream'] = lowlevel.crypto_stream;

export function streamNonce(domain: StreamDomain, roundId: number): Uint8Array {
  if (!Number.isSafeInteger(roundId) || roundId < 0) {
    throw new SecureAggregationError(
      'INVALID_PARAMETERS',
      `round id must be a non-negative safe integer, got ${roundId}`,
    );
  }
  const nonce = new Uint8Array(STREAM_NONCE_BYTES);
  const tag = DOMAIN_TAGS[domain];
  for (let i = 0; i < 8; i++) {
    nonce[i] = NONCE_PREFIX.charCodeAt(i);
    nonce[8 + i] = tag.charCodeAt(i);
  }
  writeUint64LE(nonce, 16, roundId);
  return nonce;
}

/** `byteLength` bytes of the XSalsa20 keystream for (key, nonce). */
export function keystreamBytes(key: Uint8Array, nonce: Uint8Array, byteLength: number): Uint8Array {
  if (key.byteLength !== STREAM_KEY_BYTES) throw new RangeError(`stream key must be ${STREAM_KEY_BYTES} bytes`);
  if (nonce.byteLength !== STREAM_NONCE_BYTES) throw new RangeError(`stream nonce must be ${STREAM_NONCE_BYTES} bytes`);
  const out = new Uint8Array(byteLength);
  cryptoStream(out, 0, byteLength, nonce, key);
  return out;
}

/** The mask PRG(key) for a round and a domain: `length` u32 words, uniform in Z_{2^32}. */
export function maskStream(key: Uint8Array, roundId: number, domain: StreamDomain, length: number): Uint32Array {
  return uint32FromBytesLE(keystreamBytes(key, streamNonce(domain, roundId), 4 * length));
}

/** target += mask (sign +1) or target -= mask (sign -1), element-wise mod 2^32, in place. */
export function addMaskInPlace(target: Uint32Array, mask: Uint32Array, sign: 1 | -1): void {
  if (target.length !== mask.length) throw new RangeError(`mask length ${mask.length} != vector length ${target.length}`);
  if (sign === 1) {
    for (let i = 0; i < target.length; i++) target[i] = (target[i]! + mask[i]!) >>> 0;
  } else {
    for (let i = 0; i < target.length; i++) target[i] = (target[i]! - mask[i]!) >>> 0;
  }
}

/**
 * The pairwise mask's sign for client `self` against neighbour `other`: +1 if self < other in
 * code-unit order, -1 otherwise, so the two masks of a pair cancel in the sum.
 */
export function pairwiseMaskSign(self: string, other: string): 1 | -1 {
  if (self === other) throw new RangeError('a client has no pairwise mask with itself');
  return self < other ? 1 : -1;
}
