import nacl from 'tweetnacl';

import { assertPublicKey, assertSecretKey, SIGNATURE_BYTES } from './ed25519-keys';
import { refuse, succeed, type IdentityResult } from './identity-result';
import { isUint, SigningBytesBuilder } from './signing-bytes';

/**
 * An enrolled client's signed HTTP request (e.g. to download a published student without a read
 * token). The client signs, with its Ed25519 identity key,
 *
 *   field("fedkd/rest-request/v1") || field(method: upper-case UTF-8) || field(path and query: UTF-8)
 *   || field(coordinator public key: 32 bytes) || field(clientName: UTF-8)
 *   || field(timestamp: uint, epoch ms) || field(nonce: 16 bytes)
 *
 * (framing in signing-bytes.ts) and sends it as
 *
 *   Authorization: Fedkd-Ed25519 client="NAME", timestamp="MS", nonce="B64URL", signature="B64URL"
 *
 * The coordinator's public key is part of what is signed, so a request captured on its way to
 * one coordinator does not verify at another; the timestamp bounds how long it can be replayed,
 * and the nonce, remembered by the coordinator for that long (`SeenRequestNonces`), refuses a
 * replay within that time.
 */
export const REST_REQUEST_DOMAIN_TAG = 'fedkd/rest-request/v1';
export const REST_SIGNATURE_SCHEME = 'Fedkd-Ed25519';
export const REST_REQUEST_NONCE_BYTES = 16;

export interface RestRequest {
  /** HTTP method, e.g. GET (compared upper-case). */
  method: string;
  /** The request target as sent: path and query, e.g. `/models/3/model.json`. */
  path: string;
}

export interface SignedRestRequestFields {
  clientName: string;
  /** The client's clock, epoch milliseconds. */
  timestamp: number;
  nonce: Uint8Array;
  signature: Uint8Array;
}

export type RestSignatureRefusalCode = 'MALFORMED' | 'STALE_TIMESTAMP' | 'FUTURE_TIMESTAMP' | 'BAD_SIGNATURE' | 'NONCE_REUSED' | 'BUSY';

export function restRequestSigningBytes(request: RestRequest, coordinatorPublicKey: Uint8Array, fields: Omit<SignedRestRequestFields, 'signature'>): Uint8Array {
  assertPublicKey(coordinatorPublicKey);
  return new SigningBytesBuilder(REST_REQUEST_DOMAIN_TAG)
    .text(request.method.toUpperCase())
    .text(request.path)
    .bytes(coordinatorPublicKey)
    .text(fields.clientName)
    .uint(fields.timestamp)
    .bytes(fields.nonce)
    .build();
}

/**
 * Client side: the `Authorization` header value of `request`, signed by the client's secret key
 * for the coordinator whose public key the client pinned. A fresh random nonce each call.
 */
export function signRestRequest(
  request: RestRequest,
  signer: { clientName: string; secretKey: Uint8Array; coordinatorPublicKey: Uint8Array },
  timestamp: number = Date.now(),
): string {
  assertSecretKey(signer.secretKey);
  if (!signer.clientName || /["\\\r\n]/.test(signer.clientName)) throw new TypeError(`client name ${JSON.stringify(signer.clientName)} cannot be sent in a header`);
  const fields = { clientName: signer.clientName, timestamp, nonce: nacl.randomBytes(REST_REQUEST_NONCE_BYTES) };
  const signature = nacl.sign.detached(restRequestSigningBytes(request, signer.coordinatorPublicKey, fields), signer.secretKey);
  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
  return `${REST_SIGNATURE_SCHEME} client="${fields.clientName}", timestamp="${timestamp}", nonce="${b64(fields.nonce)}", signature="${b64(signature)}"`;
}

/** True when an Authorization header value uses the signed-request scheme (rather than Bearer). */
export function isSignedRestAuthorization(header: string): boolean {
  return header.startsWith(`${REST_SIGNATURE_SCHEME} `);
}

const PARAM = /^\s*([a-z]+)="([^"\\\r\n]*)"\s*$/;

/** Coordinator side: the fields of an `Authorization: Fedkd-Ed25519 ...` header, or why not. */
export function parseSignedRestAuthorization(header: string): IdentityResult<SignedRestRequestFields, 'MALFORMED'> {
  if (!isSignedRestAuthorization(header)) return refuse('MALFORMED', `signed request: the Authorization scheme must be ${REST_SIGNATURE_SCHEME}`);
  const params = new Map<string, string>();
  for (const part of header.slice(REST_SIGNATURE_SCHEME.length + 1).split(',')) {
    const match = PARAM.exec(part);
    if (!match || params.has(match[1])) return refuse('MALFORMED', 'signed request: parameters must be client="..", timestamp="..", nonce="..", signature=".." (each once)');
    params.set(match[1], match[2]);
  }
  const clientName = params.get('client');
  const timestampText = params.get('timestamp') ?? '';
  const timestamp = /^\d{1,16}$/.test(timestampText) ? Number(timestampText) : NaN;
  const nonce = fromBase64Url(params.get('nonce'), REST_REQUEST_NONCE_BYTES);
  const signature = fromBase64Url(params.get('signature'), SIGNATURE_BYTES);
  if (!clientName) return refuse('MALFORMED', 'signed request: client must name the enrolled client');
  if (!isUint(timestamp)) return refuse('MALFORMED', 'signed request: timestamp must be epoch milliseconds');
  if (!nonce) return refuse('MALFORMED', `signed request: nonce must be ${REST_REQUEST_NONCE_BYTES} bytes in base64url`);
  if (!signature) return refuse('MALFORMED', `signed request: signature must be ${SIGNATURE_BYTES} bytes in base64url`);
  if (params.size !== 4) return refuse('MALFORMED', 'signed request: unknown parameter (expected client, timestamp, nonce, signature)');
  return succeed({ clientName, timestamp, nonce, signature });
}

export interface RestRequestExpectations {
  /** The enrolled public key of `fields.clientName` (looked up by the coordinator). */
  publicKey: Uint8Array;
  /** The coordinator's own public key. */
  coordinatorPublicKey: Uint8Array;
  /** The coordinator's clock, epoch milliseconds. */
  now: number;
  /** Largest accepted |now - timestamp|. */
  maxSkewMs: number;
  /** Where the nonces of accepted requests are remembered until their timestamp is out of the window. */
  nonces: SeenRequestNonces;
}

/**
 * Coordinator side. Checks the timestamp is within maxSkewMs of now (STALE_TIMESTAMP,
 * FUTURE_TIMESTAMP), the signature over this request to this coordinator (BAD_SIGNATURE), and
 * then that the nonce was not seen before (NONCE_REUSED; BUSY when too many are remembered).
 */
export function verifySignedRestRequest(
  request: RestRequest,
  fields: SignedRestRequestFields,
  expected: RestRequestExpectations,
): IdentityResult<{ clientName: string }, RestSignatureRefusalCode> {
  assertPublicKey(expected.publicKey);
  const skew = fields.timestamp - expected.now;
  if (skew < -expected.maxSkewMs) return refuse('STALE_TIMESTAMP', `signed request was signed ${-skew} ms ago, more than the allowed ${expected.maxSkewMs} ms (check the client's clock)`);
  if (skew > expected.maxSkewMs) return refuse('FUTURE_TIMESTAMP', `signed request is dated ${skew} ms in the future, more than the allowed ${expected.maxSkewMs} ms (check the client's clock)`);
  const signed = restRequestSigningBytes(request, expected.coordinatorPublicKey, fields);
  if (fields.signature.length !== SIGNATURE_BYTES || !nacl.sign.detached.verify(signed, fields.signature, expected.publicKey)) {
    return refuse('BAD_SIGNATURE', `signed request does not verify with the enrolled key of client ${JSON.stringify(fields.clientName)} for ${request.method.toUpperCase()} ${request.path} to this coordinator`);
  }
  const fresh = expected.nonces.remember(fields.nonce, fields.timestamp + expected.maxSkewMs, expected.now);
  if (!fresh.ok) return fresh;
  return succeed({ clientName: fields.clientName });
}

/**
 * The nonces of accepted signed requests, each kept until its request's timestamp has left the
 * accepted window (after which the timestamp check refuses a replay anyway). Bounded: when full of
 * unexpired nonces it refuses new requests (BUSY) rather than forget one, so a flood can delay
 * clients but never let a replay through.
 */
export class SeenRequestNonces {
  /** Hex nonce -> the instant it may be forgotten. */
  private readonly entries = new Map<string, number>();

  constructor(private readonly capacity = 100_000) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  remember(nonce: Uint8Array, keepUntil: number, now: number): IdentityResult<void, 'NONCE_REUSED' | 'BUSY'> {
    const key = Buffer.from(nonce).toString('hex');
    const until = this.entries.get(key);
    if (until !== undefined && until > now) return refuse('NONCE_REUSED', 'signed request was already used: sign each request afresh');
    if (this.entries.size >= this.capacity) this.dropExpired(now);
    if (this.entries.size >= this.capacity) return refuse('BUSY', 'too many signed requests in the accepted time window: retry later');
    this.entries.set(key, keepUntil);
    return succeed(undefined);
  }

  get size(): number {
    return this.entries.size;
  }

  private dropExpired(now: number): void {
    for (const [key, until] of this.entries) if (until <= now) this.entries.delete(key);
  }
}

function fromBase64Url(text: string | undefined, length: number): Uint8Array | null {
  if (text === undefined || !/^[A-Za-z0-9_-]+$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.length === length && bytes.toString('base64url') === text ? new Uint8Array(bytes) : null;
}
