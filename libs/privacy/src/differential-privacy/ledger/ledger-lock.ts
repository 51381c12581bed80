import * as fs from 'node:fs';
import * as nodePath from 'node:path';

import * as lockfile from 'proper-lockfile';

import { PrivacyLedgerError } from './errors';

/**
 * The inter-process lock around a ledger's read-check-write (proper-lockfile: an atomic mkdir of
 * `<ledger>.lock`, which works on local and network file systems).
 *
 * - Staleness: a lock whose directory was not touched for LEDGER_LOCK_STALE_MS (10 s) belongs to
 *   a crashed process and is taken over. A live holder keeps it for milliseconds (one read, one
 *   fsync'ed write), far below that.
 * - Waiting: proper-lockfile's sync API has no retries, so a busy lock is retried every
 *   LEDGER_LOCK_RETRY_MS for at most LEDGER_LOCK_WAIT_MS (3 s), then LOCKED, naming the file.
 *   The wait blocks the process, which is fine for holds of milliseconds.
 */
export const LEDGER_LOCK_STALE_MS = 10_000;
export const LEDGER_LOCK_WAIT_MS = 3_000;
export const LEDGER_LOCK_RETRY_MS = 25;

export function ledgerLockPath(path: string): string {
  return `${path}.lock`;
}

/** Runs `body` holding the ledger's lock; throws PrivacyLedgerError LOCKED if another process keeps it past the wait. */
export function withLedgerLock<T>(path: string, body: () => T, waitMs: number = LEDGER_LOCK_WAIT_MS): T {
  const release = acquire(path, waitMs);
  try {
    return body();
  } finally {
    try {
      release();
    } catch {
      // Already released or taken over as stale: the write (if any) is already durable.
    }
  }
}

function acquire(path: string, waitMs: number): () => void {
  const options: lockfile.LockOptions = { stale: LEDGER_LOCK_STALE_MS, realpath: false, lockfilePath: ledgerLockPath(path) };
  const until = Date.now() + waitMs;
  try {
    fs.mkdirSync(nodePath.dirname(path), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new PrivacyLedgerError('IO_ERROR', path, `privacy ledger ${path}: cannot create its directory (${describe(error)})`);
  }
  for (;;) {
    try {
      return lockfile.lockSync(path, options);
    } catch (error) {
      if (!(isCode(error, 'ELOCKED'))) {
        throw new PrivacyLedgerError('IO_ERROR', path, `privacy ledger ${path}: cannot take its lock ${ledgerLockPath(path)} (${describe(error)})`);
      }
      if (Date.now() >= until) {
        throw new PrivacyLedgerError(
          'LOCKED',
          path,
          `privacy ledger ${path} is locked by another process (lock ${ledgerLockPath(path)} held for more than ${waitMs / 1000} s): ` +
            'another process of this client is using the same ledger; nothing was charged. Run one client process per ledger ' +
            `(a lock left by a crashed process is taken over after ${LEDGER_LOCK_STALE_MS / 1000} s).`,
        );
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, LEDGER_LOCK_RETRY_MS);
    }
  }
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
