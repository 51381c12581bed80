import nacl from 'tweetnacl';

import { assertPublicKey, assertSecretKey, SIGNATURE_BYTES } from './ed25519-keys';
import { refuse, succeed, type IdentityResult } from './identity-result';
import { HANDSHAKE_NONCE_BYTES, type NonceRefusalCode, type NonceRegistry } from './nonce-registry';
import { constantTimeEqual } from './sha512';
import { isUint, SigningBytesBuilder } from './signing-bytes';

/**
 * Proof of possession of an enrolled key at connection time. The coordinator issues a fresh
 * 32-byte nonce (`NonceRegistry.issue`); the client signs
 *
 *   field("fedkd/handshake/v1") || field(nonce: 32 bytes) || field(clientName: UTF-8)
 *   || field(protocolVersion: uint) || field(timestamp: uint, epoch ms)
 *
 * (framing in signing-bytes.ts) and sends the proof. The coordinator verifies it against what it
 * expects: the nonce it sent on this connection, the enrolled public key of the named client, its
 * own protocol version, its clock.
 */
export const HANDSHAKE_DOMAIN_TAG = 'fedkd/handshake/v1';

export interface HandshakeChallenge {
  nonce: Uint8Array;
  clientName: string;
  protocolVersion: number;
  /** The client's clock, epoch milliseconds. */
  timestamp: number;
}

/** What the client sends back: the signed fields and the 64-byte Ed25519 signature. */
export interface HandshakeProof extends HandshakeChallenge {
  signature: Uint8Array;
}

/**
 * What `verifyHandshake` needs of a proof: the timestamp and the signature. The signed nonce,
 * client name and protocol version are the coordinator's own expected values, so a proof may
 * leave them out; when it echoes them, they are compared first for a clearer refusal. Other
 * fields (e.g. a public key sent for enrolment) are ignored.
 */
export interface HandshakeProofFields {
  timestamp: number;
  signature: Uint8Array;
  nonce?: Uint8Array;
  clientName?: string;
  protocolVersion?: number;
}

export interface HandshakeExpectations {
  /** The nonce issued to this connection. */
  expectedNonce: Uint8Array;
  /** The registry that issued it: the nonce is consumed here, so it is answered at most once. */
  nonces: NonceRegistry;
  /** The enrolled public key of `clientName` (looked up by the coordinator). */
  publicKey: Uint8Array;
  clientName: string;
  protocolVersion: number;
  /** The coordinator's clock, epoch milliseconds. */
  now: number;
  /** Largest accepted |now - timestamp|. */
  maxSkewMs: number;
}

export interface VerifiedHandshake {
  clientName: string;
  protocolVersion: number;
  timestamp: number;
}

export type HandshakeRefusalCode =
  | 'MALFORMED'
  | 'NONCE_MISMATCH'
  | NonceRefusalCode
  | 'WRONG_CLIENT'
  | 'PROTOCOL_VERSION'
  | 'STALE_TIMESTAMP'
  | 'FUTURE_TIMESTAMP'
  | 'BAD_SIGNATURE';

export function handshakeSigningBytes(challenge: HandshakeChallenge): Uint8Array {
  if (!(challenge.nonce instanceof Uint8Array) || challenge.nonce.length !== HANDSHAKE_NONCE_BYTES) {
    throw new TypeError(`handshake nonce must be ${HANDSHAKE_NONCE_BYTES} bytes`);
  }
  return new SigningBytesBuilder(HANDSHAKE_DOMAIN_TAG)
    .bytes(challenge.nonce)
    .text(challenge.clientName)
    .uint(challenge.protocolVersion)
    .uint(challenge.timestamp)
    .build();
}

/** Client side: signs the coordinator's nonce with the client's secret key. */
export function signHandshake(challenge: HandshakeChallenge, secretKey: Uint8Array): HandshakeProof {
  assertSecretKey(secretKey);
  const signature = nacl.sign.detached(handshakeSigningBytes(challenge), secretKey);
  return { ...challenge, nonce: new Uint8Array(challenge.nonce), signature };
}

/**
 * Coordinator side. Checks, in order: the proof's shape (MALFORMED); the nonce, when echoed, is the
 * one sent on this connection (NONCE_MISMATCH); the expected nonce is consumed in the registry, so
 * this is its only answer whatever the outcome below (NONCE_UNKNOWN / NONCE_EXPIRED /
 * NONCE_REUSED); the client name and protocol version, when echoed, are the expected ones
 * (WRONG_CLIENT, PROTOCOL_VERSION); the timestamp is within maxSkewMs of now (STALE_TIMESTAMP,
 * FUTURE_TIMESTAMP); the signature over the expected nonce, client name and protocol version and
 * the proof's timestamp verifies with the enrolled key (BAD_SIGNATURE). Throws only for a public
 * key or expected nonce of the wrong length (programmer errors).
 */
export function verifyHandshake(proof: unknown, expected: HandshakeExpectations): IdentityResult<VerifiedHandshake, HandshakeRefusalCode> {
  assertPublicKey(expected.publicKey);
  if (!(expected.expectedNonce instanceof Uint8Array) || expected.expectedNonce.length !== HANDSHAKE_NONCE_BYTES) {
    throw new TypeError(`expectedNonce must be ${HANDSHAKE_NONCE_BYTES} bytes`);
  }
  if (typeof proof !== 'object' || proof === null) return refuse('MALFORMED', 'handshake proof must be an object { timestamp, signature }');
  const { nonce, clientName, protocolVersion, timestamp, signature } = proof as Record<string, unknown>;
  if (!isUint(timestamp)) return refuse('MALFORMED', 'handshake proof: timestamp must be epoch milliseconds (a non-negative integer)');
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) {
    return refuse('MALFORMED', `handshake proof: signature must be ${SIGNATURE_BYTES} bytes`);
  }
  if (nonce !== undefined && !(nonce instanceof Uint8Array && nonce.length === HANDSHAKE_NONCE_BYTES)) {
    return refuse('MALFORMED', `handshake proof: nonce, when given, must be ${HANDSHAKE_NONCE_BYTES} bytes`);
  }
  if (clientName !== undefined && typeof clientName !== 'string') return refuse('MALFORMED', 'handshake proof: clientName, when given, must be a string');
  if (protocolVersion !== undefined && !isUint(protocolVersion)) {
    return refuse('MALFORMED', 'handshake proof: protocolVersion, when given, must be a non-negative integer');
  }

  if (nonce !== undefined && !constantTimeEqual(nonce, expected.expectedNonce)) {
    return refuse('NONCE_MISMATCH', 'handshake proof answers another nonce than the one sent on this connection');
  }
  const consumed = expected.nonces.consume(expected.expectedNonce, expected.now);
  if (!consumed.ok) return consumed;

  if (clientName !== undefined && clientName !== expected.clientName) {
    return refuse('WRONG_CLIENT', `handshake proof is for client ${JSON.stringify(clientName.slice(0, 64))}, expected ${JSON.stringify(expected.clientName)}`);
  }
  if (protocolVersion !== undefined && protocolVersion !== expected.protocolVersion) {
    return refuse('PROTOCOL_VERSION', `handshake proof is for protocol version ${protocolVersion}, this coordinator speaks ${expected.protocolVersion}`);
  }
  const skew = timestamp - expected.now;
  if (skew < -expected.maxSkewMs) {
    return refuse('STALE_TIMESTAMP', `handshake proof was signed ${-skew} ms ago, more than the allowed ${expected.maxSkewMs} ms (check the client's clock)`);
  }
  if (skew > expected.maxSkewMs) {
    return refuse('FUTURE_TIMESTAMP', `handshake proof is dated ${skew} ms in the future, more than the allowed ${expected.maxSkewMs} ms (check the client's clock)`);
  }

  const signed = handshakeSigningBytes({
    nonce: expected.expectedNonce,
    clientName: expected.clientName,
    protocolVersion: expected.protocolVersion,
    timestamp,
  });
  if (!nacl.sign.detached.verify(signed, signature, expected.publicKey)) {
    return refuse('BAD_SIGNATURE', `handshake signature does not verify with the enrolled key of client ${JSON.stringify(expected.clientName)}`);
  }
  return succeed({ clientName: expected.clientName, protocolVersion: expected.protocolVersion, timestamp });
}
