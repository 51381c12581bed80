/**
 * Arithmetic on numbers held as their natural logarithm, so that sums of terms like
 * exp(700) or exp(-900) neither overflow nor underflow. log(0) is -Infinity.
 */

/** log(exp(logX) + exp(logY)). */
export function logAdd(logX: number, logY: number): number {
  const a = Math.min(logX, logY);
  const b = Math.max(logX, logY);
  if (a === -Infinity) return b;
  if (b === Infinity) return Infinity;
  // exp(a) + exp(b) = (1 + exp(a - b)) * exp(b)
  return Math.log1p(Math.exp(a - b)) + b;
}

/**
 * log(exp(logX) - exp(logY)) for logX >= logY. A negative result is a numerical failure of the
 * caller (a series that should stay positive did not), so it throws rather than return NaN.
 */
export function logSub(logX: number, logY: number): number {
  if (logX < logY) {
    throw new RangeError(`logSub: the difference exp(${logX}) - exp(${logY}) would be negative`);
  }
  if (logY === -Infinity) return logX;
  if (logX === logY) return -Infinity;
  const d = logX - logY;
  // exp(x) - exp(y) = (exp(x - y) - 1) * exp(y); for a huge gap expm1 overflows and the
  // subtraction is negligible.
  const m = Math.expm1(d);
  return m === Infinity ? logX : Math.log(m) + logY;
}

/** log(1 - exp(x)) for x <= 0, accurate near 0 and for very negative x. */
export function log1mExp(x: number): number {
  if (x > 0 || Number.isNaN(x)) throw new RangeError(`log1mExp: argument must be <= 0, got ${x}`);
  if (x === 0) return -Infinity;
  return x < -Math.LN2 ? Math.log1p(-Math.exp(x)) : Math.log(-Math.expm1(x));
}

/** log(sum_i exp(values[i])); -Infinity for an empty list. */
export function logSumExp(values: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]!);
  if (max === -Infinity || max === Infinity) return max;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.exp(values[i]! - max);
  return max + Math.log(sum);
}
