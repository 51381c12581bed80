import nacl from 'tweetnacl';

import { refuse, succeed, type IdentityResult } from './identity-result';
import { constantTimeEqual, sha512Hex } from './sha512';

/**
 * One-time enrolment tokens: the operator creates one for a client name, gives the token to that
 * client out of band (it is shown once), and the client presents it with its public key to be
 * enrolled. The coordinator stores only the record (the SHA-512 of the token, never the token).
 *
 * One-time use contract (the coordinator's storage implements it):
 *   1. look the record up by client name, or by `hashEnrolmentToken(token)`;
 *   2. `verifyEnrolmentToken(token, record, now)`; on ok, enrol the client under
 *      `value.clientName` (the record's name, not a name the client claims);
 *   3. in the same transaction, mark the record used only if it is still unused
 *      (`UPDATE ... SET usedAt = ? WHERE tokenHash = ? AND usedAt IS NULL`, checking that one row
 *      changed; `markEnrolmentTokenUsed` gives the new record) and store the public key.
 *      Two concurrent enrolments with one token must not both succeed.
 * A used record is refused (ALREADY_USED) by `verifyEnrolmentToken` if kept; it may also be deleted.
 */

export const ENROLMENT_TOKEN_BYTES = 32;
/** base64url without padding of 32 bytes: 43 characters. */
const ENROLMENT_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const SHA512_HEX_PATTERN = /^[0-9a-f]{128}$/;

export interface EnrolmentTokenRecord {
  clientName: string;
  /** SHA-512 (lower-case hex) of the token's UTF-8 bytes. */
  tokenHash: string;
  /** Epoch milliseconds; the token is refused from this instant on. */
  expiresAt: number;
  /** Epoch milliseconds of its use, or null/absent while unused. */
  usedAt?: number | null;
}

export interface CreatedEnrolmentToken {
  /** 32 random bytes as base64url (43 characters): show it once, never store or log it. */
  token: string;
  record: EnrolmentTokenRecord;
}

export type EnrolmentRefusalCode = 'MALFORMED' | 'WRONG_TOKEN' | 'EXPIRED' | 'ALREADY_USED';

/** Creates a token for `clientName`, valid for `ttlMs` from `now` (epoch ms). */
export function createEnrolmentToken(clientName: string, ttlMs: number, now: number): CreatedEnrolmentToken {
  if (typeof clientName !== 'string' || clientName.length === 0) throw new TypeError('clientName must be a non-empty string');
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive integer, got ${ttlMs}`);
  if (!Number.isSafeInteger(now) || now < 0) throw new RangeError(`now must be epoch milliseconds, got ${now}`);
  const token = Buffer.from(nacl.randomBytes(ENROLMENT_TOKEN_BYTES)).toString('base64url');
  return { token, record: { clientName, tokenHash: hashEnrolmentToken(token), expiresAt: now + ttlMs, usedAt: null } };
}

/** SHA-512 (lower-case hex) of the token's UTF-8 bytes: what the record stores and is looked up by. */
export function hashEnrolmentToken(token: string): string {
  return sha512Hex(new TextEncoder().encode(token));
}

/**
 * Checks a presented token against its record: MALFORMED (not a 43-character base64url string),
 * WRONG_TOKEN (hashes differ; compared in constant time), then, only for the right token,
 * ALREADY_USED or EXPIRED (now >= expiresAt). Throws only for a malformed record (stored data).
 */
export function verifyEnrolmentToken(
  token: unknown,
  record: EnrolmentTokenRecord,
  now: number,
): IdentityResult<{ clientName: string }, EnrolmentRefusalCode> {
  if (typeof record.tokenHash !== 'string' || !SHA512_HEX_PATTERN.test(record.tokenHash)) {
    throw new TypeError('enrolment record: tokenHash must be 128 lower-case hex digits');
  }
  if (typeof token !== 'string' || !ENROLMENT_TOKEN_PATTERN.test(token)) {
    return refuse('MALFORMED', 'enrolment token must be 43 characters of base64url (as it was shown when created)');
  }
  const presented = Buffer.from(hashEnrolmentToken(token), 'hex');
  const stored = Buffer.from(record.tokenHash, 'hex');
  if (!constantTimeEqual(presented, stored)) {
    return refuse('WRONG_TOKEN', `enrolment token is not the one issued for client ${JSON.stringify(record.clientName)}`);
  }
  if (record.usedAt !== undefined && record.usedAt !== null) {
    return refuse('ALREADY_USED', `enrolment token for client ${JSON.stringify(record.clientName)} was already used; ask the operator for a new one`);
  }
  if (now >= record.expiresAt) {
    return refuse('EXPIRED', `enrolment token for client ${JSON.stringify(record.clientName)} expired at ${new Date(record.expiresAt).toISOString()}; ask the operator for a new one`);
  }
  return succeed({ clientName: record.clientName });
}

/** The record after its one use (a new object; store it with a conditional update, see above). */
export function markEnrolmentTokenUsed(record: EnrolmentTokenRecord, now: number): EnrolmentTokenRecord {
  return { ...record, usedAt: now };
}
