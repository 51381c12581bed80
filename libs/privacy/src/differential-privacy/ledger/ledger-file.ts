import * as fs from 'node:fs';
import * as nodePath from 'node:path';

import { RdpAccountant } from '../accountant';
import { PrivacyLedgerError } from './errors';
import { syncDirectory, writeSyncedTemporary } from '../../durable-files';

/**
 * The on-disk form of a privacy ledger: one JSON object,
 *
 *   {
 *     "format": "fedkd-privacy-ledger/v1",
 *     "accountant": { "orders": [1.25, ...], "rdp": [0.31, ...], "dataDependent": false },  // RdpAccountant.toJSON()
 *     "entries": [ { "round": 3, "mechanism": "gnmax", "queries": 2000, "answered": 2000, "dataDependent": false,
 *                    "delta": 1e-5, "epsilonAfter": 2.71, "rdp": [...], "at": "2026-11-25T16:20:00.000Z" } ]
 *   }
 *
 * `accountant` is the cumulative RDP per order in RdpAccountant's serialisable form, and must
 * equal the entries' `rdp` composed in entry order (checked exactly on load). As in that form, an
 * infinite value (a noise-free release) is written as null, in `rdp` and in `epsilonAfter`.
 */
export const PRIVACY_LEDGER_FORMAT = 'fedkd-privacy-ledger/v1';
export const PRIVACY_LEDGER_FILE_MODE = 0o600;

export interface LedgerEntry {
  round: number;
  mechanism: string;
  /** Queries the round's release covered (proxy inputs, or rows). */
  queries: number;
  /** Queries answered (confident GNMax may abstain); equals `queries` for the other mechanisms. */
  answered: number;
  /** The charge was a data-dependent (unsanitised) bound: epsilons from then on are not DP guarantees. */
  dataDependent: boolean;
  /** The delta `epsilonAfter` was computed at. */
  delta: number;
  /** Cumulative epsilon at `delta` after this round's charge (the ledger's conversion). */
  epsilonAfter: number;
  /** RDP charged by this round, per order of the ledger. */
  rdp: number[];
  /** ISO 8601 time of the charge. */
  at: string;
}

export interface LedgerState {
  accountant: RdpAccountant;
  entries: LedgerEntry[];
}

export function serialiseLedger(state: LedgerState): string {
  const document = {
    format: PRIVACY_LEDGER_FORMAT,
    accountant: state.accountant.toJSON(),
    entries: state.entries.map((entry) => ({ ...entry, epsilonAfter: encodeNumber(entry.epsilonAfter), rdp: entry.rdp.map(encodeNumber) })),
  };
  return `${JSON.stringify(document, null, 1)}\n`;
}

/** Parses and validates a ledger file's text; any problem is a CORRUPT error naming the path. */
export function parseLedger(text: string, path: string): LedgerState {
  const corrupt = (detail: string): PrivacyLedgerError =>
    new PrivacyLedgerError(
      'CORRUPT',
      path,
      `privacy ledger ${path} is corrupt: ${detail}. It is not reset automatically, since that would forget the privacy ` +
        'already spent: restore it from a backup, or delete it only if this client has never answered a round with its data.',
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw corrupt(text.trim() === '' ? 'the file is empty' : `not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isRecord(raw)) throw corrupt('not a JSON object');
  if (raw.format !== PRIVACY_LEDGER_FORMAT) throw corrupt(`format is ${JSON.stringify(raw.format)}, expected "${PRIVACY_LEDGER_FORMAT}"`);
  let accountant: RdpAccountant;
  try {
    accountant = RdpAccountant.fromJSON(raw.accountant);
  } catch (error) {
    throw corrupt(`"accountant": ${error instanceof Error ? error.message : String(error)}`);
  }
  const orders = accountant.orders;
  if (!Array.isArray(raw.entries)) throw corrupt('"entries" must be an array');
  const rounds = new Set<number>();
  const entries = raw.entries.map((item, k): LedgerEntry => {
    const where = `entries[${k}]`;
    if (!isRecord(item)) throw corrupt(`${where} is not an object`);
    const { round, mechanism, queries, answered, dataDependent, delta, at } = item;
    if (!isCount(round)) throw corrupt(`${where}.round is ${JSON.stringify(round)}; rounds are non-negative integers`);
    if (rounds.has(round)) throw corrupt(`round ${round} is charged twice`);
    rounds.add(round);
    if (typeof mechanism !== 'string' || mechanism === '') throw corrupt(`${where}.mechanism must be a non-empty string`);
    if (!isCount(queries) || !isCount(answered) || answered > queries) {
      throw corrupt(`${where}: queries and answered must be non-negative integers with answered <= queries`);
    }
    if (typeof dataDependent !== 'boolean') throw corrupt(`${where}.dataDependent must be true or false`);
    if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) throw corrupt(`${where}.delta must be in (0, 1)`);
    const epsilonAfter = decodeNumber(item.epsilonAfter);
    if (epsilonAfter === undefined || epsilonAfter < 0) throw corrupt(`${where}.epsilonAfter must be a number >= 0 (null for infinity)`);
    if (typeof at !== 'string' || Number.isNaN(Date.parse(at))) throw corrupt(`${where}.at must be an ISO 8601 time`);
    if (!Array.isArray(item.rdp) || item.rdp.length !== orders.length) throw corrupt(`${where}.rdp must hold one value per order (${orders.length})`);
    const rdp = item.rdp.map((v: unknown, j: number) => {
      const x = decodeNumber(v);
      if (x === undefined || x < 0) throw corrupt(`${where}.rdp[${j}] is ${JSON.stringify(v)}; RDP values are numbers >= 0 (null for infinity)`);
      return x;
    });
    return { round, mechanism, queries, answered, dataDependent, delta, epsilonAfter, rdp, at };
  });
  const recomputed = composeEntries(orders, entries);
  const stored = accountant.rdp;
  const sums = recomputed.rdp;
  for (let j = 0; j < orders.length; j++) {
    if (!Object.is(sums[j], stored[j])) {
      throw corrupt(`cumulative RDP at order ${orders[j]} is ${stored[j]}, but its entries add up to ${sums[j]}`);
    }
  }
  if (recomputed.dataDependent !== accountant.dataDependent) {
    throw corrupt(`accountant.dataDependent is ${accountant.dataDependent}, but its entries say ${recomputed.dataDependent}`);
  }
  return { accountant, entries };
}

/** The accountant the entries add up to, composed exactly as charges compose it (entry by entry, in order). */
export function composeEntries(orders: readonly number[], entries: readonly LedgerEntry[]): RdpAccountant {
  const accountant = new RdpAccountant(orders);
  for (const entry of entries) accountant.compose(entry.rdp, { dataDependent: entry.dataDependent });
  return accountant;
}

/** The file's text, or null if it does not exist. Other read failures are IO_ERROR. */
export function readLedgerText(path: string): string | null {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw new PrivacyLedgerError('IO_ERROR', path, `privacy ledger ${path}: cannot read it (${describe(error)})`);
  }
}

/**
 * Atomic replacement: the text goes to a fresh temporary file in the same directory (O_EXCL, mode
 * 0600 whatever the umask), is fsync'ed, then renamed over the target, and the directory is
 * fsync'ed. A crash leaves either the old ledger or the new one, never a mix.
 */
export function writeLedgerAtomically(path: string, text: string): void {
  const dir = nodePath.dirname(path);
  let temporary: string | null = null;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    temporary = writeSyncedTemporary(path, text, PRIVACY_LEDGER_FILE_MODE);
    fs.renameSync(temporary, path);
  } catch (error) {
    if (temporary) fs.rmSync(temporary, { force: true });
    throw new PrivacyLedgerError('IO_ERROR', path, `privacy ledger ${path}: cannot write it (${describe(error)}); nothing was recorded`);
  }
  syncDirectory(dir);
}

/** Infinity as null, as RdpAccountant.toJSON writes it. */
function encodeNumber(x: number): number | null {
  return x === Infinity ? null : x;
}

/** null -> Infinity, a finite number -> itself, anything else -> undefined. */
function decodeNumber(v: unknown): number | undefined {
  if (v === null) return Infinity;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
