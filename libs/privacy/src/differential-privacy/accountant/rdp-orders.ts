/**
 * Rényi orders alpha at which an RDP curve is tracked. An accountant holds one RDP value per
 * order; the (epsilon, delta) conversion picks the best order afterwards, so the list only needs
 * to be dense where the optimum can fall.
 *
 * TF_PRIVACY_ORDERS is TensorFlow Privacy's list: [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5],
 * the integers 5..63, then [64, 128, 256, 512] (73 orders). It was the default until issue 13: its
 * best order can miss the continuous optimum by enough to overshoot epsilon by up to ~0.024 (and
 * by far more when the optimum lies below 1.25, i.e. at large epsilon).
 */
export const TF_PRIVACY_ORDERS: readonly number[] = Object.freeze([
  1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5,
  ...Array.from({ length: 59 }, (_, i) => 5 + i),
  64, 128, 256, 512,
]);

/**
 * Why the default grid is spaced as it is (x = alpha - 1, L = log(1/delta), target 0.01):
 * - Smooth curves. Near its optimum x*, the classic epsilon c alpha + L / x of a Gaussian-like
 *   curve exceeds its minimum by about sqrt(c L) (ln t)^2 with t = x / x*, and sqrt(c L) is about
 *   L / x*; keeping that below the target needs neighbouring orders at ratio (in x) at most
 *   exp(2 sqrt(0.01 x / L)) (used with a safety factor 0.9).
 * - Kinks. The subsampled Gaussian's RDP turns sharply upwards near alpha ~ 2 sigma^2 log(1/q),
 *   so epsilon has a V-shaped minimum whose left slope is about L / x^2; with steps h the grid
 *   can miss it by up to h L / x^2. From x = 2 on, steps are also at most 0.02 x^2 / L (chosen
 *   on the sweep of rdp-orders.spec.ts; the V bound would ask 0.01 x^2 / L).
 * L = log(1e6). The grid runs from x = GRID_MIN_X (an optimum there means epsilon ~ 2L / x ~ 1400,
 * beyond any useful budget) up to alpha = 1024; orders are rounded to 4 decimals below alpha = 8,
 * to 2 below GRID_FRACTIONAL_BELOW and to integers above.
 */
const GRID_TOLERANCE = 0.01;
const GRID_LOG_INVERSE_DELTA = Math.log(1e6);
const GRID_SAFETY = 0.9;
const GRID_KINK_FACTOR = 0.02;
const GRID_KINK_FROM_X = 2;
const GRID_MIN_X = 0.02;
const GRID_MAX_ORDER = 1024;
/**
 * Fractional orders only below this: the subsampled Gaussian's fractional series loses all
 * accuracy at large fractional orders and large noise (e.g. q = 0.5, sigma >= 50 gives -0.7 at
 * alpha = 44.73 by cancellation), while its integer sum stays exact.
 */
const GRID_FRACTIONAL_BELOW = 32;

function denseOrders(): number[] {
  const orders = new Set<number>(TF_PRIVACY_ORDERS);
  for (let x = GRID_MIN_X; 1 + x <= GRID_MAX_ORDER; ) {
    const alpha = 1 + x;
    orders.add(alpha < 8 ? Math.round(alpha * 1e4) / 1e4 : alpha < GRID_FRACTIONAL_BELOW ? Math.round(alpha * 100) / 100 : Math.round(alpha));
    let step = x * Math.expm1(2 * GRID_SAFETY * Math.sqrt((GRID_TOLERANCE * x) / GRID_LOG_INVERSE_DELTA));
    if (x >= GRID_KINK_FROM_X) step = Math.min(step, (GRID_KINK_FACTOR * x * x) / GRID_LOG_INVERSE_DELTA);
    x += step;
  }
  orders.add(GRID_MAX_ORDER);
  return [...orders].sort((a, b) => a - b);
}

/**
 * The default orders: TF_PRIVACY_ORDERS plus a grid dense enough that epsilon on it is within
 * 0.01 of the optimum over continuous orders for the Gaussian, subsampled Gaussian and GNMax
 * sweeps of `rdp-orders.spec.ts` (see `denseOrders` above; the size is DEFAULT_ORDERS.length).
 * A superset of TF_PRIVACY_ORDERS, so no epsilon is larger than on the old grid.
 */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze(denseOrders());

/**
 * Absolute tolerance, relative to max(1, the curve's largest finite value), below which a negative
 * RDP value is taken for floating-point rounding (e.g. log A_alpha computed as -1e-17 for a
 * subsampled Gaussian at very large noise) and clamped to 0. Anything more negative is refused.
 */
export const RDP_ROUNDING_TOLERANCE = 1e-12;

/**
 * An RDP curve checked and cleaned: NaN, non-numbers and clearly negative values throw (naming
 * `what` and the order); values in [-RDP_ROUNDING_TOLERANCE * max(1, largest finite value), 0)
 * become 0. Returns a new array; Infinity is kept.
 */
export function nonNegativeRdp(rdp: ArrayLike<number>, orders: ArrayLike<number>, what: string): number[] {
  let scale = 1;
  for (let k = 0; k < rdp.length; k++) {
    const r = rdp[k];
    if (typeof r === 'number' && Number.isFinite(r)) scale = Math.max(scale, Math.abs(r));
  }
  const floor = -RDP_ROUNDING_TOLERANCE * scale;
  return Array.from({ length: rdp.length }, (_, k) => {
    const r = rdp[k];
    if (typeof r !== 'number' || Number.isNaN(r) || r < floor) {
      throw new RangeError(`${what}: RDP values must be >= 0 (Infinity allowed), got ${String(r)} at order ${orders[k]}`);
    }
    return r < 0 ? 0 : r;
  });
}

/** Orders must be a non-empty list of distinct finite numbers > 1 (RDP at order 1 is KL, not tracked). */
export function validateOrders(orders: ArrayLike<number>, what = 'orders'): void {
  if (orders.length === 0) throw new RangeError(`${what}: need at least one order`);
  const seen = new Set<number>();
  for (let i = 0; i < orders.length; i++) {
    const alpha = orders[i];
    if (typeof alpha !== 'number' || !Number.isFinite(alpha) || !(alpha > 1)) {
      throw new RangeError(`${what}: every order must be a finite number > 1, got ${String(alpha)} at ${i}`);
    }
    if (seen.has(alpha)) throw new RangeError(`${what}: order ${alpha} appears twice`);
    seen.add(alpha);
  }
}

/** A noise scale sigma >= 0 (Infinity allowed: no information released). NaN and negatives throw. */
export function validateNoiseScale(sigma: number, what: string): void {
  if (typeof sigma !== 'number' || Number.isNaN(sigma) || sigma < 0) {
    throw new RangeError(`${what} must be a number >= 0 (Infinity allowed), got ${String(sigma)}`);
  }
}
