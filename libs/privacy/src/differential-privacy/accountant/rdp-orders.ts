/**
 * Rényi orders alpha at which an RDP curve is tracked. An accountant holds one RDP value per
 * order; the (epsilon, delta) conversion picks the best order afterwards, so the list only needs
 * to be dense where the optimum can fall.
 *
 * DEFAULT_ORDERS is TensorFlow Privacy's list: [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5],
 * the integers 5..63, then [64, 128, 256, 512] (73 orders).
 */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5,
  ...Array.from({ length: 59 }, (_, i) => 5 + i),
  64, 128, 256, 512,
]);

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
