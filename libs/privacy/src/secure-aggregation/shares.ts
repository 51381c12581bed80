import nacl from 'tweetnacl';
import { combine, split } from 'shamir-secret-sharing';

import { SecureAggregationError } from './errors';
import { assertClientId, MAX_CLIENT_ID_LENGTH, readUint64LE, writeUint64LE } from './wire-bytes';

/**
 * Threshold sharing of a client's two round secrets (the self-mask seed b_u and the masking secret
 * key s_u^SK), and the sealing of each neighbour's pair of shares with `nacl.box`.
 *
 * Sharing: Shamir over GF(2^8) (`shamir-secret-sharing`, byte by byte; a share is the secret's
 * length plus one byte, its x coordinate, so 33 bytes here). At most 255 shares per secret.
 *
 * Why t - 1 shares reveal nothing (information-theoretic hiding): each secret byte s is the constant
 * term of a polynomial P(x) = s + a_1 x + ... + a_{t-1} x^{t-1} with a_1..a_{t-1} uniform in GF(256).
 * For any t - 1 distinct non-zero points x_i and any candidate secret s', there is exactly one
 * polynomial of degree <= t - 1 through (0, s') and the t - 1 observed (x_i, P(x_i)) (Lagrange), so
 * every candidate is consistent with the observed shares by exactly one choice of coefficients, and
 * all choices are equally likely: the observed shares have the same distribution whatever the
 * secret. No computing power helps.
 *
 * Sealing: the plaintext binds the round id, the sender and the recipient, and is encrypted and
 * authenticated with `nacl.box` (X25519 + XSalsa20-Poly1305, random 24-byte nonce) under the
 * sender's and the recipient's per-round encryption keys. The server, which relays the ciphertexts,
 * can neither read a share nor redirect it to another client or round unnoticed.
 */

export const SECRET_BYTES = 32;
/** One Shamir share of a 32-byte secret: 32 bytes of y values and the x coordinate. */
export const SHARE_BYTES = SECRET_BYTES + 1;
export const SHAMIR_MAX_SHARES = 255;
export const SEAL_NONCE_BYTES = nacl.box.nonceLength; // 24
const SEAL_OVERHEAD_BYTES = nacl.box.overheadLength; // 16
const SHARE_PLAINTEXT_VERSION = 1;

/** What a client seals to one neighbour. */
export interface SharePlaintext {
  roundId: number;
  senderId: string;
  recipientId: string;
  /** The recipient's share of the sender's self-mask seed b_u. */
  selfMaskSeedShare: Uint8Array;
  /** The recipient's share of the sender's masking secret key s_u^SK. */
  maskingKeyShare: Uint8Array;
}

/** A sealed pair of shares as it travels (the ids in clear let the server route it). */
export interface SealedShare {
  senderId: string;
  recipientId: string;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

/**
 * Splits a secret into one share per holder, any `threshold` of which recover it. The map is keyed
 * by holder id; shares carry random distinct x coordinates.
 */
export async function splitSecret(
  secret: Uint8Array,
  holders: readonly string[],
  threshold: number,
): Promise<Map<string, Uint8Array>> {
  if (holders.length < 2 || holders.length > SHAMIR_MAX_SHARES) {
    throw new SecureAggregationError(
      'INVALID_PARAMETERS',
      `Shamir sharing needs 2..${SHAMIR_MAX_SHARES} holders, got ${holders.length}`,
    );
  }
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > holders.length) {
    throw new SecureAggregationError(
      'INVALID_PARAMETERS',
      `Shamir threshold must be in 2..${holders.length}, got ${threshold}`,
    );
  }
  const shares = await split(new Uint8Array(secret), holders.length, threshold);
  return new Map(holders.map((holder, i) => [holder, shares[i]!]));
}

/**
 * Recovers a secret from at least `threshold` shares (the first `threshold` are used: any
 * `threshold` correct shares give the same secret). Throws BELOW_THRESHOLD with fewer. With
 * t - 1 or fewer shares `combine` would still return bytes, but random ones unrelated to the secret.
 */
export async function combineShares(shares: readonly Uint8Array[], threshold: number, what: string): Promise<Uint8Array> {
  if (shares.length < threshold) {
    throw new SecureAggregationError(
      'BELOW_THRESHOLD',
      `${what}: ${shares.length} share(s) available, ${threshold} needed to reconstruct it`,
    );
  }
  try {
    return await combine(shares.slice(0, threshold).map((share) => new Uint8Array(share)));
  } catch (error) {
    throw new SecureAggregationError('RECONSTRUCTION_FAILED', `${what}: ${(error as Error).message}`);
  }
}

/** The symmetric key of a sender-recipient pair for sealing (nacl.box.before); the same on both sides. */
export function sealingKey(peerEncryptionPublicKey: Uint8Array, ownEncryptionSecretKey: Uint8Array): Uint8Array {
  return nacl.box.before(peerEncryptionPublicKey, ownEncryptionSecretKey);
}

export function sealShare(
  plaintext: SharePlaintext,
  key: Uint8Array,
  randomBytes: (length: number) => Uint8Array = nacl.randomBytes,
): SealedShare {
  const nonce = randomBytes(SEAL_NONCE_BYTES);
  const ciphertext = nacl.box.after(encodeSharePlaintext(plaintext), nonce, key);
  return { senderId: plaintext.senderId, recipientId: plaintext.recipientId, nonce, ciphertext };
}

/**
 * Opens a sealed share and checks what it is bound to. Throws SHARE_REJECTED if it does not
 * authenticate under `key` (sealed to someone else, by someone else, or tampered with) or names
 * other clients than the envelope and `expected`; WRONG_ROUND if it belongs to another round.
 */
export function openSealedShare(
  sealed: SealedShare,
  key: Uint8Array,
  expected: { roundId: number; senderId: string; recipientId: string },
): SharePlaintext {
  if (!(sealed.nonce instanceof Uint8Array) || sealed.nonce.byteLength !== SEAL_NONCE_BYTES) {
    throw new SecureAggregationError(
      'BAD_MESSAGE',
      `sealed share from ${expected.senderId}: nonce must be ${SEAL_NONCE_BYTES} bytes`,
    );
  }
  if (!(sealed.ciphertext instanceof Uint8Array) || sealed.ciphertext.byteLength <= SEAL_OVERHEAD_BYTES) {
    throw new SecureAggregationError('BAD_MESSAGE', `sealed share from ${expected.senderId}: ciphertext too short`);
  }
  const opened = nacl.box.open.after(new Uint8Array(sealed.ciphertext), new Uint8Array(sealed.nonce), key);
  if (opened === null) {
    throw new SecureAggregationError(
      'SHARE_REJECTED',
      `sealed share from ${expected.senderId} to ${expected.recipientId} does not authenticate ` +
        '(sealed to another client, by another key, or tampered with)',
    );
  }
  const plaintext = decodeSharePlaintext(opened);
  if (plaintext.roundId !== expected.roundId) {
    throw new SecureAggregationError(
      'WRONG_ROUND',
      `sealed share from ${expected.senderId} belongs to round ${plaintext.roundId}, not ${expected.roundId} (replayed?)`,
    );
  }
  if (
    plaintext.senderId !== expected.senderId ||
    plaintext.recipientId !== expected.recipientId ||
    sealed.senderId !== expected.senderId ||
    sealed.recipientId !== expected.recipientId
  ) {
    throw new SecureAggregationError(
      'SHARE_REJECTED',
      `sealed share names ${plaintext.senderId} -> ${plaintext.recipientId} inside, ` +
        `but was delivered as ${expected.senderId} -> ${expected.recipientId}`,
    );
  }
  return plaintext;
}

/**
 * A commitment to the self-mask seed, sent with the sealed shares so the server can check the
 * seed it reconstructs: the first 32 bytes of SHA-512("fedkd-sa/self-mask-seed" || round id (u64
 * LE) || client id (UTF-8) || seed). The seed is 32 uniform bytes, so the commitment hides it (a
 * preimage search over 2^256 seeds); it is not the secret itself.
 */
export function selfMaskSeedCommitment(seed: Uint8Array, roundId: number, clientId: string): Uint8Array {
  const tag = new TextEncoder().encode('fedkd-sa/self-mask-seed');
  const id = new TextEncoder().encode(clientId);
  const input = new Uint8Array(tag.length + 8 + id.length + seed.length);
  input.set(tag, 0);
  writeUint64LE(input, tag.length, roundId);
  input.set(id, tag.length + 8);
  input.set(seed, tag.length + 8 + id.length);
  return nacl.hash(input).slice(0, 32);
}

/**
 * Plaintext layout: version (1 byte) | round id (u64 LE) | sender id (u16 LE length, UTF-8) |
 * recipient id (u16 LE length, UTF-8) | self-mask-seed share (u8 length, bytes) | masking-key share
 * (u8 length, bytes).
 */
export function encodeSharePlaintext(plaintext: SharePlaintext): Uint8Array {
  const sender = new TextEncoder().encode(plaintext.senderId);
  const recipient = new TextEncoder().encode(plaintext.recipientId);
  const { selfMaskSeedShare: b, maskingKeyShare: s } = plaintext;
  if (b.byteLength > 255 || s.byteLength > 255) throw new RangeError('share longer than 255 bytes');
  const out = new Uint8Array(1 + 8 + 2 + sender.length + 2 + recipient.length + 1 + b.length + 1 + s.length);
  let at = 0;
  out[at++] = SHARE_PLAINTEXT_VERSION;
  writeUint64LE(out, at, plaintext.roundId);
  at += 8;
  for (const field of [sender, recipient]) {
    out[at++] = field.length & 0xff;
    out[at++] = field.length >>> 8;
    out.set(field, at);
    at += field.length;
  }
  for (const field of [b, s]) {
    out[at++] = field.length;
    out.set(field, at);
    at += field.length;
  }
  return out;
}

export function decodeSharePlaintext(bytes: Uint8Array): SharePlaintext {
  const malformed = (): SecureAggregationError =>
    new SecureAggregationError('SHARE_REJECTED', 'sealed share plaintext is malformed');
  let at = 0;
  const take = (length: number): Uint8Array => {
    if (at + length > bytes.length) throw malformed();
    const field = bytes.slice(at, at + length);
    at += length;
    return field;
  };
  if (take(1)[0] !== SHARE_PLAINTEXT_VERSION) throw malformed();
  const roundId = readUint64LE(take(8), 0);
  const text = (): string => {
    const length = take(2).reduce((acc, byte, i) => acc + byte * 256 ** i, 0);
    if (length > 4 * MAX_CLIENT_ID_LENGTH) throw malformed();
    return new TextDecoder('utf-8', { fatal: true }).decode(take(length));
  };
  let senderId: string;
  let recipientId: string;
  try {
    senderId = text();
    recipientId = text();
  } catch (error) {
    if (error instanceof SecureAggregationError) throw error;
    throw malformed();
  }
  const selfMaskSeedShare = take(take(1)[0]!);
  const maskingKeyShare = take(take(1)[0]!);
  if (at !== bytes.length || selfMaskSeedShare.length !== SHARE_BYTES || maskingKeyShare.length !== SHARE_BYTES) {
    throw malformed();
  }
  assertClientId(senderId);
  assertClientId(recipientId);
  return { roundId, senderId, recipientId, selfMaskSeedShare, maskingKeyShare };
}
