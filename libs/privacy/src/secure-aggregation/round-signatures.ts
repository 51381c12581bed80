import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';

import { SigningBytesBuilder } from '../identity/signing-bytes';
import { sha512 } from '../identity/sha512';
import { SecureAggregationError } from './errors';

/**
 * What a client signs with its identity key (the Ed25519 key it enrolled with) during a secure
 * round, against an actively malicious coordinator, and the share commitments that let the
 * coordinator discard corrupted shares. Every signed statement is framed by SigningBytesBuilder
 * (length-prefixed fields, a domain tag first) and binds:
 *
 *   - the federation: its id is the coordinator's Ed25519 public key, which each client pins in its
 *     configuration; a statement signed for one coordinator does not verify for another, so a key
 *     enrolled with two coordinators cannot have its messages replayed between them;
 *   - the round id, so nothing replays across rounds;
 *   - the signer's client id.
 *
 * Advertisement (Bonawitz et al. 2017, round 0, signed):
 *   "fedkd/secagg/advertise-keys/v1" | federation | round | client id | s^PK | c^PK
 * Survivor view (the consistency check, round 3): the survivors U3 and the dropped U2 \ U3 as this
 * client was shown them, each list in code-unit order:
 *   "fedkd/secagg/survivor-view/v1" | federation | round | client id | count | ids... | count | ids...
 */
export const ADVERTISEMENT_DOMAIN_TAG = 'fedkd/secagg/advertise-keys/v1';
export const SURVIVOR_VIEW_DOMAIN_TAG = 'fedkd/secagg/survivor-view/v1';
export const SHARE_COMMITMENT_DOMAIN_TAG = 'fedkd/secagg/share-commitment/v1';
export const IDENTITY_KEY_BYTES = nacl.sign.publicKeyLength;
export const IDENTITY_SIGNATURE_BYTES = nacl.sign.signatureLength;
export const SHARE_COMMITMENT_BYTES = 32;

export interface AdvertisedKeys {
  federationId: Uint8Array;
  roundId: number;
  clientId: string;
  maskingPublicKey: Uint8Array;
  encryptionPublicKey: Uint8Array;
}

export function advertisementSigningBytes(keys: AdvertisedKeys): Uint8Array {
  return new SigningBytesBuilder(ADVERTISEMENT_DOMAIN_TAG)
    .bytes(keys.federationId)
    .uint(keys.roundId)
    .text(keys.clientId)
    .bytes(keys.maskingPublicKey)
    .bytes(keys.encryptionPublicKey)
    .build();
}

export interface SurvivorView {
  federationId: Uint8Array;
  roundId: number;
  /** U3 in code-unit order. */
  survivors: readonly string[];
  /** U2 \ U3 in code-unit order. */
  dropped: readonly string[];
}

/** The bytes a client signs for a survivor view (the signer's id is bound too). */
export function survivorViewSigningBytes(view: SurvivorView, signerId: string): Uint8Array {
  const builder = new SigningBytesBuilder(SURVIVOR_VIEW_DOMAIN_TAG).bytes(view.federationId).uint(view.roundId).text(signerId);
  builder.uint(view.survivors.length);
  for (const id of view.survivors) builder.text(id);
  builder.uint(view.dropped.length);
  for (const id of view.dropped) builder.text(id);
  return builder.build();
}

/*
 * Ed25519 through Node's OpenSSL: the same signatures as tweetnacl's `nacl.sign.detached` (Ed25519
 * is deterministic) at about 1/50 of the cost (tweetnacl takes about 5 ms per signature or check
 * here, and a round needs a few per neighbour). Keys are tweetnacl's raw layout, wrapped in DER.
 */
const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

function privateKeyObject(secretKey: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, secretKey.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

/** Ed25519 signature (64 bytes) of `bytes` by a tweetnacl-layout secret key (seed || public key). */
export function signStatement(bytes: Uint8Array, identitySecretKey: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, bytes, privateKeyObject(identitySecretKey)));
}

/** Whether `signature` is a valid Ed25519 signature of `bytes` under `identityPublicKey`. */
export function verifyStatement(bytes: Uint8Array, signature: Uint8Array, identityPublicKey: Uint8Array): boolean {
  if (signature.byteLength !== IDENTITY_SIGNATURE_BYTES || identityPublicKey.byteLength !== IDENTITY_KEY_BYTES) return false;
  try {
    return verify(null, bytes, publicKeyObject(identityPublicKey), signature);
  } catch {
    return false; // not a point on the curve
  }
}

/** Checks the federation id a party was configured with: non-empty bytes (the coordinator's public key). */
export function checkedFederationId(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array) || value.byteLength === 0) {
    throw new SecureAggregationError('INVALID_PARAMETERS', "federation id must be non-empty bytes (the coordinator's public key)");
  }
  return new Uint8Array(value);
}

export type SharedSecretKind = 'self-mask seed' | 'masking key';

/**
 * The owner's commitment to one share it dealt: the first 32 bytes of SHA-512 over
 * "fedkd/secagg/share-commitment/v1" | round | owner | holder | kind | share. The owner sends one per
 * holder and kind with its sealed shares; the coordinator keeps them and, when unmasking, discards
 * any share whose hash differs (a holder that corrupted it), then combines any `threshold` of the
 * valid ones. A share of a 32-byte secret is 32 uniform bytes for t >= 2, so the hash hides it.
 */
export function shareCommitment(share: Uint8Array, roundId: number, ownerId: string, holderId: string, kind: SharedSecretKind): Uint8Array {
  const bytes = new SigningBytesBuilder(SHARE_COMMITMENT_DOMAIN_TAG).uint(roundId).text(ownerId).text(holderId).text(kind).bytes(share).build();
  return sha512(bytes).slice(0, SHARE_COMMITMENT_BYTES);
}
