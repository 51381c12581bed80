/**
 * Why a persistence call refused or failed. Callers map these to their boundary (HTTP status,
 * acknowledgement code, CLI exit) without parsing messages.
 */
export type PersistenceErrorCode =
  /** The database file could not be opened or is not a SQLite database. */
  | 'OPEN_FAILED'
  /** The file was written by a newer coordinator (a migration this build does not know). */
  | 'SCHEMA_TOO_NEW'
  /** The row a change refers to does not exist. */
  | 'NOT_FOUND'
  /** The row exists and may not be overwritten (model versions, round numbers). */
  | 'ALREADY_EXISTS'
  /** A value offered for storage is not acceptable (not JSON, negative count, ...). */
  | 'INVALID_VALUE'
  /** A stored row does not read back as what was written (bad JSON, blob hash mismatch). */
  | 'CORRUPT_ROW'
  /** A round state change that storage never allows (leaving a terminal state). */
  | 'ILLEGAL_TRANSITION';

export class PersistenceError extends Error {
  override readonly name = 'PersistenceError';

  constructor(
    readonly code: PersistenceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
