/**
 * Why a secure-aggregation step refused a message or aborted the round.
 *
 * - `INVALID_PARAMETERS`: round parameters that cannot work (threshold < 2 or above a client's
 *   number of neighbours, bad vector length, a graph that cannot exist, more than 255 shares).
 * - `FIXED_POINT_OVERFLOW`: the sum of that many clients' encoded values could wrap mod 2^32.
 * - `VALUE_OUT_OF_RANGE`: an input value outside the fixed-point range (or not finite).
 * - `WRONG_ROUND`: a message or sealed share of another round.
 * - `WRONG_PHASE`: a message that does not belong to the current step (late, early, repeated step).
 * - `UNKNOWN_CLIENT`: a sender or recipient that is not (or no longer) part of the round.
 * - `DUPLICATE`: a second message of the same kind from the same client, or a repeated id.
 * - `BAD_MESSAGE`: a malformed message (a field of the wrong type or length).
 * - `KEY_MISMATCH`: the key directory does not hold this client's own keys, or repeats a key.
 * - `SHARE_REJECTED`: a sealed share that does not open, or opens to other ids or another round.
 * - `NOT_A_NEIGHBOUR`: a client listed that does not share masks with this client.
 * - `INCONSISTENT_LISTS`: an unmask request that lists a client both as survivor and as dropped,
 *   lists the recipient as dropped, contradicts an earlier request, or leaves the recipient out.
 * - `BELOW_THRESHOLD`: fewer than `threshold` clients (or shares) where at least that many are needed.
 * - `RECONSTRUCTION_FAILED`: shares combined to a secret that does not match its commitment or
 *   public key (a corrupted share).
 * - `BAD_SIGNATURE`: a key advertisement or survivor-view signature that does not verify under the
 *   signer's identity key for this federation and round (forged, substituted, or replayed from
 *   another federation or round), or an identity key that differs from the enrolled (or pinned) one.
 * - `INCONSISTENT_VIEWS`: the unmask request carries a neighbour's signature that is not on the
 *   survivor view this client signed: the coordinator showed different survivor lists.
 * - `SURVIVORS_DISCONNECTED`: the survivors' neighbour graph falls apart into groups that share no
 *   masks, so unmasking would reveal each group's sum: refused.
 */
export type SecureAggregationErrorCode =
  | 'INVALID_PARAMETERS'
  | 'FIXED_POINT_OVERFLOW'
  | 'VALUE_OUT_OF_RANGE'
  | 'WRONG_ROUND'
  | 'WRONG_PHASE'
  | 'UNKNOWN_CLIENT'
  | 'DUPLICATE'
  | 'BAD_MESSAGE'
  | 'KEY_MISMATCH'
  | 'SHARE_REJECTED'
  | 'NOT_A_NEIGHBOUR'
  | 'INCONSISTENT_LISTS'
  | 'BELOW_THRESHOLD'
  | 'RECONSTRUCTION_FAILED'
  | 'BAD_SIGNATURE'
  | 'INCONSISTENT_VIEWS'
  | 'SURVIVORS_DISCONNECTED';

export class SecureAggregationError extends Error {
  override readonly name = 'SecureAggregationError';

  constructor(
    readonly code: SecureAggregationErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The error as a boundary value (`{ ok: false, code, message }`), e.g. for an acknowledgement. */
export function secureAggregationRefusal(error: SecureAggregationError): {
  ok: false;
  code: SecureAggregationErrorCode;
  message: string;
} {
  return { ok: false, code: error.code, message: error.message };
}

export function isSecureAggregationError(value: unknown): value is SecureAggregationError {
  return value instanceof SecureAggregationError;
}
