/**
 * Why a privacy ledger could not be used.
 *
 * - `CORRUPT`: the file exists but is not a valid ledger (not JSON, wrong format tag, bad
 *   fields, or a cumulative RDP that does not equal the sum of its entries). Never reset
 *   automatically: that would forget privacy already spent.
 * - `IO_ERROR`: the file could not be read or written; after a failed write the charge was not
 *   recorded and the round must not be answered.
 * - `STALE`: the file was removed since this instance last read or wrote it: refusing to recreate
 *   it, which would forget the spending recorded there.
 * - `LOCKED`: another process held the ledger's file lock for longer than the bounded wait;
 *   nothing was charged.
 * - `ORDERS_MISMATCH`: an RDP vector given with other orders than the ledger tracks.
 */
export type PrivacyLedgerErrorCode = 'CORRUPT' | 'IO_ERROR' | 'STALE' | 'LOCKED' | 'ORDERS_MISMATCH';

export class PrivacyLedgerError extends Error {
  override readonly name = 'PrivacyLedgerError';

  constructor(
    readonly code: PrivacyLedgerErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}
