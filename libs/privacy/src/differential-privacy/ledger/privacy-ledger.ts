import { DEFAULT_ORDERS, RdpAccountant, type EpsilonBasis, type EpsilonConversion } from '../accountant';
import { PrivacyLedgerError } from './errors';
import { LEDGER_LOCK_WAIT_MS, withLedgerLock } from './ledger-lock';
import { parseLedger, readLedgerText, serialiseLedger, writeLedgerAtomically, type LedgerEntry, type LedgerState } from './ledger-file';

/**
 * An edge client's record of the privacy it has spent, kept in one JSON file across restarts (see
 * ledger-file.ts for the format): the cumulative RDP per order and one entry per charged round.
 *
 * Order of operations for a round (the ledger is only as good as this order):
 *
 *   1. extra = RDP of the release planned for round r (from the accountant, on `ledger.orders`)
 *   2. ledger.check(extra, epsilonMax, delta, r)   -> refuse the round with its reason if not ok
 *   3. ledger.charge(r, extra, details)            -> persisted (fsync + rename) before returning
 *   4. only now compute the noised release and send it
 *
 * Charging before sending means a crash can waste budget (charged, never sent) but never spend it
 * unrecorded (sent, never charged). Each round is charged at most once: a second charge of the
 * same round is refused, so a crash-and-retry does not double-spend. After a retry finds its round
 * already charged, the client must not draw fresh noise and answer again (a second, independently
 * noised release is a second spend): it either resends the exact bytes of its first release, if it
 * kept them, or declines the round.
 *
 * Budgets should be enforced on data-independent charges: a refusal decided on a data-dependent
 * (unsanitised) total is itself a release of it. Data-dependent charges are accepted
 * (`details.dataDependent`), recorded, and make `basis` say so.
 *
 * Several processes (or instances) on one ledger file: each charge holds the file lock
 * (ledger-lock.ts) for its whole read-check-write: it re-reads the latest ledger from disk, checks
 * the round and the budget on it, appends and writes durably, then releases. So two processes of
 * one client cannot both spend the last of a budget or both charge one round; one that cannot get
 * the lock within the bounded wait throws LOCKED, naming the file, and charges nothing.
 */

export interface PrivacyLedgerOptions {
  /** Orders of a ledger created by this load; an existing file keeps its own. Default: DEFAULT_ORDERS. */
  orders?: readonly number[];
  /**
   * RDP -> (epsilon, delta) conversion for `epsilon`, `check` and the entries' `epsilonAfter`:
   * 'classic' (Mironov 2017; the default, as the accountant's and the coordinator's report) or the
   * tighter 'balle2020'.
   */
  conversion?: EpsilonConversion;
  /** Clock for the entries' `at`. */
  now?: () => Date;
  /** How long a charge waits for another process's file lock before failing LOCKED. Default LEDGER_LOCK_WAIT_MS (3 s). */
  lockWaitMs?: number;
}

/**
 * An RDP vector aligned with `ledger.orders`, or anything that names its orders (they must equal
 * the ledger's): `{ orders, rdp }`, an RdpAccountant, or its JSON form (null read as Infinity).
 */
export type RdpCharge = ArrayLike<number> | { orders: ArrayLike<number>; rdp: ArrayLike<number | null> };

export interface ChargeDetails {
  /** e.g. 'gnmax', 'confident-gnmax', 'gaussian-clipped-sum'. */
  mechanism: string;
  queries: number;
  answered: number;
  /** The RDP is a data-dependent bound (unsanitised). Default false. */
  dataDependent?: boolean;
  /** delta of the recorded `epsilonAfter` (and of the budget check when `epsilonMax` is given). */
  delta: number;
  /** When given, the charge is refused (OVER_BUDGET) if it would exceed this budget at `delta`. */
  epsilonMax?: number;
}

export type LedgerBudgetCheck =
  | { ok: true; epsilonSpent: number; epsilonAfter: number }
  | { ok: false; code: 'OVER_BUDGET' | 'ALREADY_CHARGED'; reason: string; epsilonSpent: number; epsilonAfter: number };

export type LedgerChargeResult =
  | { ok: true; entry: LedgerEntry }
  | { ok: false; code: 'OVER_BUDGET' | 'ALREADY_CHARGED'; reason: string };

export class PrivacyLedger {
  private lastText: string;

  private constructor(
    readonly path: string,
    private state: LedgerState,
    text: string,
    private readonly conversion: EpsilonConversion,
    private readonly now: () => Date,
    private readonly lockWaitMs: number,
  ) {
    this.lastText = text;
  }

  /**
   * Opens the ledger at `path`, creating it (empty, mode 0600, parent directories 0700) if it does
   * not exist. A file that exists but is not a valid ledger throws a PrivacyLedgerError CORRUPT
   * naming the path; it is never silently reset.
   */
  static load(path: string, options: PrivacyLedgerOptions = {}): PrivacyLedger {
    const conversion = options.conversion ?? 'classic';
    if (conversion !== 'balle2020' && conversion !== 'classic') throw new RangeError(`unknown epsilon conversion ${String(conversion)}`);
    const now = options.now ?? (() => new Date());
    const lockWaitMs = options.lockWaitMs ?? LEDGER_LOCK_WAIT_MS;
    if (typeof lockWaitMs !== 'number' || !(lockWaitMs >= 0) || !Number.isFinite(lockWaitMs)) {
      throw new RangeError(`lockWaitMs must be a finite number of milliseconds >= 0, got ${String(lockWaitMs)}`);
    }
    const existing = readLedgerText(path);
    if (existing !== null) return new PrivacyLedger(path, parseLedger(existing, path), existing, conversion, now, lockWaitMs);
    return withLedgerLock(path, () => {
      const text = readLedgerText(path); // another process may have created it meanwhile
      if (text !== null) return new PrivacyLedger(path, parseLedger(text, path), text, conversion, now, lockWaitMs);
      const state: LedgerState = { accountant: new RdpAccountant(options.orders ?? DEFAULT_ORDERS), entries: [] };
      const created = serialiseLedger(state);
      writeLedgerAtomically(path, created);
      return new PrivacyLedger(path, state, created, conversion, now, lockWaitMs);
    }, lockWaitMs);
  }

  /** The Rényi orders this ledger tracks: compute RDP charges on these. */
  get orders(): readonly number[] {
    return this.state.accountant.orders;
  }

  /** Cumulative RDP per order (a copy). */
  get rdp(): readonly number[] {
    return this.state.accountant.rdp;
  }

  /** 'data-dependent-unsanitised' once a data-dependent charge was recorded: epsilon is then not a DP guarantee. */
  get basis(): EpsilonBasis {
    return this.state.accountant.basis;
  }

  get entries(): readonly LedgerEntry[] {
    return this.state.entries.map(copyEntry);
  }

  /** A copy of the cumulative accountant (compose on it freely: the ledger is not affected). */
  accountant(): RdpAccountant {
    return this.state.accountant.clone();
  }

  entryFor(round: number): LedgerEntry | undefined {
    const entry = this.state.entries.find((e) => e.round === round);
    return entry && copyEntry(entry);
  }

  hasCharged(round: number): boolean {
    return this.state.entries.some((e) => e.round === round);
  }

  /** epsilon spent so far at `delta` (0 before the first charge). */
  epsilon(delta: number): number {
    assertDelta(delta);
    return this.epsilonOf(this.state.accountant, delta);
  }

  /**
   * Would charging `extraRdp` keep this client within `epsilonMax` at `delta`? With `round`, a
   * round already charged is refused too, and the reason names the round:
   * "round 7 would spend epsilon 8.31 > budget 8 (spent 7.6 at delta 1e-5)".
   */
  check(extraRdp: RdpCharge, epsilonMax: number, delta: number, round?: number): LedgerBudgetCheck {
    assertDelta(delta);
    if (typeof epsilonMax !== 'number' || Number.isNaN(epsilonMax) || epsilonMax < 0) {
      throw new RangeError(`epsilonMax must be a number >= 0 (Infinity for no budget), got ${String(epsilonMax)}`);
    }
    if (round !== undefined) assertRound(round);
    const extra = this.aligned(extraRdp);
    const epsilonSpent = this.epsilonOf(this.state.accountant, delta);
    const epsilonAfter = this.epsilonOf(this.state.accountant.clone().compose(extra), delta);
    const subject = round === undefined ? 'this round' : `round ${round}`;
    if (round !== undefined && this.hasCharged(round)) {
      return {
        ok: false,
        code: 'ALREADY_CHARGED',
        reason: `round ${round} is already charged to this client's privacy ledger; answering it again would spend twice`,
        epsilonSpent,
        epsilonAfter,
      };
    }
    if (epsilonAfter > epsilonMax) {
      const [after, budget] = distinguishable(epsilonAfter, epsilonMax);
      return {
        ok: false,
        code: 'OVER_BUDGET',
        reason: `${subject} would spend epsilon ${after} > budget ${budget} (spent ${formatNumber(epsilonSpent, 3)} at delta ${delta})`,
        epsilonSpent,
        epsilonAfter,
      };
    }
    return { ok: true, epsilonSpent, epsilonAfter };
  }

  /**
   * Records round `round`'s spend and persists it before returning (see the order of operations
   * above). Refused, with nothing written, if the round is already charged or, when
   * `details.epsilonMax` is given, if it would exceed that budget. Both are decided under the file
   * lock on the latest ledger on disk (other processes' charges included). A failed write throws
   * (IO_ERROR), as does a lock another process keeps past the wait (LOCKED); the round must then not
   * be answered.
   */
  charge(round: number, extraRdp: RdpCharge, details: ChargeDetails): LedgerChargeResult {
    assertRound(round);
    const { mechanism, queries, answered, delta, epsilonMax } = details;
    const dataDependent = details.dataDependent ?? false;
    if (typeof dataDependent !== 'boolean') throw new RangeError('charge: dataDependent must be true or false');
    if (typeof mechanism !== 'string' || mechanism === '') throw new RangeError('charge: mechanism must be a non-empty string');
    if (!isCount(queries) || !isCount(answered) || answered > queries) {
      throw new RangeError(`charge: queries and answered must be non-negative integers with answered <= queries, got ${queries} and ${answered}`);
    }
    return withLedgerLock(this.path, () => this.chargeLocked(round, extraRdp, { mechanism, queries, answered, delta, epsilonMax, dataDependent }), this.lockWaitMs);
  }

  private chargeLocked(round: number, extraRdp: RdpCharge, details: Required<Omit<ChargeDetails, 'epsilonMax'>> & { epsilonMax?: number }): LedgerChargeResult {
    const { mechanism, queries, answered, delta, epsilonMax, dataDependent } = details;
    this.reloadFromDisk();
    const verdict = this.check(extraRdp, epsilonMax ?? Infinity, delta, round);
    if (!verdict.ok) return { ok: false, code: verdict.code, reason: verdict.reason };
    const extra = this.aligned(extraRdp);
    const entry: LedgerEntry = {
      round,
      mechanism,
      queries,
      answered,
      dataDependent,
      delta,
      epsilonAfter: verdict.epsilonAfter,
      rdp: extra,
      at: this.now().toISOString(),
    };
    const next: LedgerState = {
      accountant: this.state.accountant.clone().compose(extra, { dataDependent }),
      entries: [...this.state.entries, entry],
    };
    const text = serialiseLedger(next);
    writeLedgerAtomically(this.path, text);
    this.state = next;
    this.lastText = text;
    return { ok: true, entry: copyEntry(entry) };
  }

  private epsilonOf(accountant: RdpAccountant, delta: number): number {
    if (accountant.rdp.every((r) => r === 0)) return 0; // nothing released, nothing spent
    return Math.max(0, accountant.epsilon(delta, this.conversion).epsilon);
  }

  private aligned(extraRdp: RdpCharge): number[] {
    const orders = this.state.accountant.orders;
    let values: ArrayLike<number | null>;
    if (isNamedRdp(extraRdp)) {
      const given = Array.from(extraRdp.orders);
      if (given.length !== orders.length || given.some((alpha, j) => alpha !== orders[j])) {
        throw new PrivacyLedgerError(
          'ORDERS_MISMATCH',
          this.path,
          `privacy ledger ${this.path}: the RDP charge is on orders [${given.join(', ')}], the ledger tracks [${orders.join(', ')}]`,
        );
      }
      values = extraRdp.rdp;
    } else {
      values = extraRdp;
    }
    if (values.length !== orders.length) {
      throw new PrivacyLedgerError(
        'ORDERS_MISMATCH',
        this.path,
        `privacy ledger ${this.path}: the RDP charge has ${values.length} values, the ledger tracks ${orders.length} orders`,
      );
    }
    return Array.from(values, (value, j) => {
      const v = value === null ? Infinity : value; // RdpAccountantJson writes Infinity as null
      if (typeof v !== 'number' || Number.isNaN(v) || v < 0) {
        throw new RangeError(`RDP charge at order ${orders[j]} is ${String(v)}; RDP values are numbers >= 0 (Infinity allowed)`);
      }
      return v;
    });
  }

  /** Under the lock: adopts the latest ledger on disk (another process may have charged since). */
  private reloadFromDisk(): void {
    const text = readLedgerText(this.path);
    if (text === null) {
      throw new PrivacyLedgerError(
        'STALE',
        this.path,
        `privacy ledger ${this.path} was removed since this process last read it; refusing to recreate it, which would forget the privacy spent`,
      );
    }
    if (text === this.lastText) return;
    this.state = parseLedger(text, this.path);
    this.lastText = text;
  }
}

function isNamedRdp(value: RdpCharge): value is { orders: ArrayLike<number>; rdp: ArrayLike<number | null> } {
  return typeof value === 'object' && value !== null && 'orders' in value && 'rdp' in value;
}

function copyEntry(entry: LedgerEntry): LedgerEntry {
  return { ...entry, rdp: [...entry.rdp] };
}

function assertDelta(delta: number): void {
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${String(delta)}`);
}

function assertRound(round: number): void {
  if (!isCount(round)) throw new RangeError(`round must be a non-negative integer, got ${String(round)}`);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function formatNumber(x: number, significant: number): string {
  if (x === Infinity) return 'infinity';
  return String(Number(x.toPrecision(significant)));
}

/** Both numbers with the fewest significant digits (at least 3) that show them apart. */
function distinguishable(a: number, b: number): [string, string] {
  for (let digits = 3; digits <= 17; digits++) {
    const pair: [string, string] = [formatNumber(a, digits), formatNumber(b, digits)];
    if (pair[0] !== pair[1]) return pair;
  }
  return [String(a), String(b)];
}
