import type { ErrorCode } from './messages';

/**
 * The result of checking one inbound message at the boundary: the typed value, or an error code
 * with a reason that says what was wrong and what was expected. Validators never throw.
 * Structurally the same as `Ack<T>`, so a rejection can be returned as the acknowledgement as is.
 */
export type Validated<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

export type Rejection = { ok: false; code: ErrorCode; message: string };

export function accept<T>(value: T): Validated<T> {
  return { ok: true, value };
}

export function reject(code: ErrorCode, message: string): Rejection {
  return { ok: false, code, message };
}
