import { DEFAULT_ORDERS, nonNegativeRdp, validateOrders } from './rdp-orders';
import { epsilonFromRdp, type EpsilonConversion } from './rdp-to-epsilon';

/**
 * What an epsilon stands on.
 * - `data-independent`: every composed cost was a data-independent bound; the epsilon is a
 *   differential-privacy guarantee and may be published.
 * - `data-dependent-unsanitised`: at least one composed cost was a data-dependent bound
 *   (`rdpGnmaxDataDependent`, `rdpConfidentThresholdDataDependent`, ...). The epsilon is then a
 *   function of the private votes: it is NOT a DP guarantee, and publishing it leaks. Report it
 *   only marked as such, or after sanitisation (Papernot et al. 2018, Section B: smooth
 *   sensitivity plus Gaussian noise on the data-dependent RDP), which this accountant does not do.
 */
export type EpsilonBasis = 'data-independent' | 'data-dependent-unsanitised';

export interface PrivacySpent {
  epsilon: number;
  delta: number;
  /** The Rényi order at which the conversion was tightest. */
  order: number;
  conversion: EpsilonConversion;
  dataDependent: boolean;
  basis: EpsilonBasis;
}

export interface BudgetCheck {
  /** epsilonAfter <= epsilonMax. */
  ok: boolean;
  /** Epsilon if the extra cost were spent too. */
  epsilonAfter: number;
  /** Epsilon spent so far. */
  epsilonBefore: number;
  epsilonMax: number;
  delta: number;
  order: number;
  conversion: EpsilonConversion;
  basis: EpsilonBasis;
}

/**
 * Plain JSON form of an accountant (what a ledger persists). JSON has no Infinity: an infinite
 * RDP value is written as null (as JSON.stringify would), and read back as Infinity.
 */
export interface RdpAccountantJson {
  orders: number[];
  rdp: Array<number | null>;
  /** Absent means false (a curve written by hand). */
  dataDependent?: boolean;
}

export interface ComposeOptions {
  /** The curve is a data-dependent bound (tags the total unsanitised). Default false. */
  dataDependent?: boolean;
  /** Compose this many identical releases (adds count * rdp). Default 1. */
  count?: number;
}

/**
 * Rényi-DP accountant: adds up per-order RDP curves of successive releases (RDP composes by
 * addition at each order, also adaptively) and converts the total to (epsilon, delta).
 *
 * All curves must be computed at the accountant's orders (default `DEFAULT_ORDERS`).
 */
export class RdpAccountant {
  readonly orders: readonly number[];
  private readonly total: Float64Array;
  private isDataDependent = false;

  constructor(orders: ArrayLike<number> = DEFAULT_ORDERS) {
    validateOrders(orders, 'RdpAccountant: orders');
    this.orders = Object.freeze(Array.from(orders));
    this.total = new Float64Array(this.orders.length);
  }

  /** The composed RDP, one value per order (a copy). */
  get rdp(): number[] {
    return Array.from(this.total);
  }

  /** True once any data-dependent (unsanitised) curve was composed. */
  get dataDependent(): boolean {
    return this.isDataDependent;
  }

  get basis(): EpsilonBasis {
    return this.isDataDependent ? 'data-dependent-unsanitised' : 'data-independent';
  }

  /** Adds a curve (count times). Returns this. */
  compose(rdp: ArrayLike<number>, options: ComposeOptions = {}): this {
    const count = options.count ?? 1;
    if (typeof count !== 'number' || !Number.isFinite(count) || count < 0) {
      throw new RangeError(`RdpAccountant.compose: count must be a finite number >= 0, got ${String(count)}`);
    }
    const curve = this.validateCurve(rdp, 'RdpAccountant.compose');
    if (count === 0) return this;
    for (let k = 0; k < this.total.length; k++) this.total[k] += count * curve[k]!;
    if (options.dataDependent === true) this.isDataDependent = true;
    return this;
  }

  /** Adds everything another accountant (with the same orders) has composed. Returns this. */
  composeAccountant(other: RdpAccountant): this {
    this.requireSameOrders(other.orders, 'RdpAccountant.composeAccountant');
    return this.compose(other.total, { dataDependent: other.dataDependent });
  }

  /** The (epsilon, delta) spent so far, with what it stands on. */
  epsilon(delta: number, conversion: EpsilonConversion = 'classic'): PrivacySpent {
    const { epsilon, order } = epsilonFromRdp(this.orders, this.total, delta, conversion);
    return { epsilon, delta, order, conversion, dataDependent: this.isDataDependent, basis: this.basis };
  }

  /**
   * Would composing `extraRdp` take the total past `epsilonMax` at this delta? Changes nothing.
   * `basis` tells whether the answer relied on data-dependent costs: a refusal decided on an
   * unsanitised data-dependent total is itself a release of it, so budgets that are enforced (a
   * client refusing a round) should be checked on data-independent curves.
   */
  wouldExceed(
    extraRdp: ArrayLike<number>,
    epsilonMax: number,
    delta: number,
    options: { conversion?: EpsilonConversion; dataDependent?: boolean } = {},
  ): BudgetCheck {
    if (typeof epsilonMax !== 'number' || Number.isNaN(epsilonMax) || epsilonMax < 0) {
      throw new RangeError(`RdpAccountant.wouldExceed: epsilonMax must be >= 0 (Infinity allowed), got ${String(epsilonMax)}`);
    }
    const conversion = options.conversion ?? 'classic';
    const before = this.epsilon(delta, conversion);
    const after = this.clone().compose(extraRdp, { dataDependent: options.dataDependent }).epsilon(delta, conversion);
    return {
      ok: after.epsilon <= epsilonMax,
      epsilonAfter: after.epsilon,
      epsilonBefore: before.epsilon,
      epsilonMax,
      delta,
      order: after.order,
      conversion,
      basis: after.basis,
    };
  }

  clone(): RdpAccountant {
    const copy = new RdpAccountant(this.orders);
    copy.total.set(this.total);
    copy.isDataDependent = this.isDataDependent;
    return copy;
  }

  toJSON(): RdpAccountantJson {
    return {
      orders: Array.from(this.orders),
      rdp: Array.from(this.total, (r) => (r === Infinity ? null : r)),
      dataDependent: this.isDataDependent,
    };
  }

  /** Reads `toJSON()`'s form (also after JSON.stringify / JSON.parse). Throws on anything else. */
  static fromJSON(json: unknown): RdpAccountant {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new RangeError('RdpAccountant.fromJSON: expected an object { orders, rdp, dataDependent? }');
    }
    const { orders, rdp, dataDependent } = json as Record<string, unknown>;
    if (!Array.isArray(orders) || !Array.isArray(rdp)) {
      throw new RangeError('RdpAccountant.fromJSON: orders and rdp must be arrays');
    }
    if (dataDependent !== undefined && typeof dataDependent !== 'boolean') {
      throw new RangeError(`RdpAccountant.fromJSON: dataDependent must be a boolean, got ${String(dataDependent)}`);
    }
    const accountant = new RdpAccountant(orders as number[]);
    const values = rdp.map((r: unknown) => (r === null ? Infinity : r)) as number[];
    accountant.total.set(accountant.validateCurve(values, 'RdpAccountant.fromJSON'));
    accountant.isDataDependent = dataDependent === true;
    return accountant;
  }

  /** Checks length and values; returns the curve with rounding-level negatives clamped to 0. */
  private validateCurve(rdp: ArrayLike<number>, what: string): number[] {
    if (rdp.length !== this.total.length) {
      throw new RangeError(`${what}: ${rdp.length} RDP values for ${this.total.length} orders`);
    }
    return nonNegativeRdp(rdp, this.orders, what);
  }

  private requireSameOrders(orders: readonly number[], what: string): void {
    if (orders.length !== this.orders.length || orders.some((alpha, k) => alpha !== this.orders[k])) {
      throw new RangeError(`${what}: the accountants track different orders`);
    }
  }
}
