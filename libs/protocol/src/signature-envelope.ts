import { binaryBytes, describeValue, isPlainRecord, isSafeIntegerAtLeast } from './boundary-checks';
import type { SignatureEnvelope } from './messages';
import { accept, reject, type Validated } from './validated';

export interface SplitEnvelope {
  envelope: SignatureEnvelope;
  /** The message without its envelope: what was signed, and what the payload validators see. */
  payload: Record<string, unknown>;
}

/**
 * Separates a signed client message into its envelope ({ seq, signature }) and its payload. A
 * message without them is UNAUTHENTICATED; the signature itself is verified by libs/privacy.
 */
export function splitSignatureEnvelope(raw: unknown, event: string): Validated<SplitEnvelope> {
  if (!isPlainRecord(raw)) return reject('BAD_MESSAGE', `${event} must be an object, got ${describeValue(raw)}`);
  const { seq, signature, ...payload } = raw;
  if (seq === undefined && signature === undefined) return reject('UNAUTHENTICATED', `${event} is not signed (no seq and signature)`);
  if (!isSafeIntegerAtLeast(seq, 0)) return reject('BAD_MESSAGE', `${event}: seq must be a non-negative integer, got ${describeValue(seq)}`);
  const bytes = binaryBytes(signature);
  if (bytes === null || bytes.byteLength !== 64) return reject('BAD_SIGNATURE', `${event}: signature must be 64 bytes (Ed25519), got ${describeValue(signature)}`);
  return accept({ envelope: { seq, signature: new Uint8Array(bytes) }, payload });
}
