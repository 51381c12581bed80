import { nonNegativeRdp, validateOrders } from './rdp-orders';

/**
 * From an RDP curve (one value per order) to (epsilon, delta)-DP: each order alpha with
 * RDP value r gives a valid epsilon for the target delta; the best (smallest) one is returned
 * with the order that achieved it. An order whose RDP is Infinity gives Infinity; if all do,
 * epsilon is Infinity (and `order` is the first order, meaningless then).
 */
export interface EpsilonAtOrder {
  epsilon: number;
  order: number;
}

export type EpsilonConversion = 'classic' | 'balle2020';

/**
 * Classic conversion (Mironov 2017, Proposition 3; TensorFlow Privacy's original
 * `get_privacy_spent`): epsilon = min_alpha r(alpha) + log(1/delta) / (alpha - 1).
 */
export function epsilonFromRdpClassic(orders: ArrayLike<number>, rdp: ArrayLike<number>, delta: number): EpsilonAtOrder {
  const curve = validateConversionInputs(orders, rdp, delta, 'epsilonFromRdpClassic');
  const logInverseDelta = -Math.log(delta);
  return minimiseOverOrders(orders, curve, (alpha, r) => r + logInverseDelta / (alpha - 1));
}

/**
 * Tighter conversion of Balle et al. 2020 ("Hypothesis testing interpretations and Rényi
 * differential privacy", Theorem 21; also Asoodeh et al. 2020), as TensorFlow Privacy's newer
 * `compute_eps` computes it:
 *   epsilon = min_alpha r(alpha) + log1p(-1/alpha) - (log(delta) + log(alpha)) / (alpha - 1),
 * with its two guards: an order whose RDP already gives delta >= sqrt(1 - exp(-r)) (total
 * variation bound through KL <= r) yields epsilon 0, and at orders alpha <= 1.01 (where the formula
 * is numerically unstable; TensorFlow Privacy gives Infinity there) the classic bound is used.
 * So it is never negative and, order by order, never above the classic conversion: the extra
 * terms log1p(-1/alpha) - log(alpha) / (alpha - 1) are negative for alpha > 1.
 */
export function epsilonFromRdpBalle2020(
  orders: ArrayLike<number>,
  rdp: ArrayLike<number>,
  delta: number,
): EpsilonAtOrder {
  const curve = validateConversionInputs(orders, rdp, delta, 'epsilonFromRdpBalle2020');
  const logDelta = Math.log(delta);
  const best = minimiseOverOrders(orders, curve, (alpha, r) => {
    if (r === Infinity) return Infinity;
    if (delta * delta + Math.expm1(-r) >= 0) return 0;
    if (!(alpha > 1.01)) return r - logDelta / (alpha - 1);
    return r + Math.log1p(-1 / alpha) - (logDelta + Math.log(alpha)) / (alpha - 1);
  });
  return { epsilon: Math.max(0, best.epsilon), order: best.order };
}

/** `epsilonFromRdpClassic` or `epsilonFromRdpBalle2020` by name. */
export function epsilonFromRdp(
  orders: ArrayLike<number>,
  rdp: ArrayLike<number>,
  delta: number,
  conversion: EpsilonConversion = 'classic',
): EpsilonAtOrder {
  switch (conversion) {
    case 'classic':
      return epsilonFromRdpClassic(orders, rdp, delta);
    case 'balle2020':
      return epsilonFromRdpBalle2020(orders, rdp, delta);
    default:
      throw new RangeError(`epsilonFromRdp: unknown conversion ${String(conversion)}`);
  }
}

function minimiseOverOrders(
  orders: ArrayLike<number>,
  rdp: ArrayLike<number>,
  epsilonAt: (alpha: number, r: number) => number,
): EpsilonAtOrder {
  let best: EpsilonAtOrder = { epsilon: Infinity, order: orders[0]! };
  for (let k = 0; k < orders.length; k++) {
    const r = rdp[k]!;
    const epsilon = r === Infinity ? Infinity : epsilonAt(orders[k]!, r);
    if (epsilon < best.epsilon) best = { epsilon, order: orders[k]! };
  }
  return best;
}

/** Checks the inputs; returns the RDP curve with rounding-level negatives clamped to 0. */
function validateConversionInputs(orders: ArrayLike<number>, rdp: ArrayLike<number>, delta: number, what: string): number[] {
  validateOrders(orders, `${what}: orders`);
  if (rdp.length !== orders.length) {
    throw new RangeError(`${what}: ${rdp.length} RDP values for ${orders.length} orders`);
  }
  const curve = nonNegativeRdp(rdp, orders, what);
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) {
    throw new RangeError(`${what}: delta must be in (0, 1), got ${String(delta)}`);
  }
  return curve;
}
