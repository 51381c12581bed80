/**
 * The complementary error function and Gaussian tail probabilities in log space, accurate to a
 * few units in the last place where the RDP formulas need them, including tails far below the
 * smallest double (log erfc(40) = -1604.9...).
 *
 * - |x| < 2: erf by its series with positive terms, erf(x) = 2/sqrt(pi) exp(-x^2) sum_n
 *   (2x^2)^n x / (1 * 3 * ... * (2n + 1)) (no cancellation), erfc = 1 - erf.
 * - x >= 2: erfc(x) = exp(-x^2) / (sqrt(pi) * g(x)) with the continued fraction
 *   g(x) = x + (1/2) / (x + 1 / (x + (3/2) / (x + 2 / (x + ...)))), evaluated by the modified
 *   Lentz method; log erfc(x) = -x^2 - log(sqrt(pi) g(x)) never underflows.
 * - x <= -2: erfc(x) = 2 - erfc(-x).
 */

const SQRT_PI = Math.sqrt(Math.PI);
const CONTINUED_FRACTION_FROM = 2;

/** erfc(x) = 1 - erf(x). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 0;
  if (x >= CONTINUED_FRACTION_FROM) return Math.exp(-x * x) / (SQRT_PI * erfcContinuedFraction(x));
  if (x <= -CONTINUED_FRACTION_FROM) return 2 - erfc(-x);
  return 1 - erfSeries(x);
}

/** log(erfc(x)), finite for every finite x. */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  if (x >= CONTINUED_FRACTION_FROM) return -x * x - Math.log(SQRT_PI * erfcContinuedFraction(x));
  return Math.log(erfc(x));
}

/** log Pr[Z > x] for Z ~ N(0, scale^2) (scipy.stats.norm.logsf(x, scale=scale)). */
export function logNormalSurvival(x: number, scale = 1): number {
  if (!(scale > 0)) throw new RangeError(`logNormalSurvival: scale must be > 0, got ${scale}`);
  // Below the mean the survival is 1 - Pr[Z > -x]: log1p keeps its logarithm (a tiny negative
  // number) to full relative precision, where log(erfc) - log 2 would cancel.
  if (x < 0) return Math.log1p(-0.5 * erfc(-x / (scale * Math.SQRT2)));
  return logErfc(x / (scale * Math.SQRT2)) - Math.LN2;
}

/** log Pr[Z <= x] for Z ~ N(0, scale^2) (scipy.stats.norm.logcdf). */
export function logNormalCdf(x: number, scale = 1): number {
  return logNormalSurvival(-x, scale);
}

function erfSeries(x: number): number {
  const twoXSquared = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= twoXSquared / (2 * n + 1);
    sum += term;
    if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
  }
  return (2 / SQRT_PI) * Math.exp(-x * x) * sum;
}

/** g(x) with erfc(x) = exp(-x^2) / (sqrt(pi) g(x)), for x >= 2. */
function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = f;
  let d = 0;
  for (let k = 1; k < 5000; k++) {
    const a = k / 2;
    d = x + a * d;
    if (d === 0) d = tiny;
    c = x + a / c;
    if (c === 0) c = tiny;
    d = 1 / d;
    const step = c * d;
    f *= step;
    if (Math.abs(step - 1) < 1e-16) break;
  }
  return f;
}

/**
 * The x with log(erfc(x)) = logY, for logY < log 2 (scipy.special.erfcinv(exp(logY)), taken from
 * the logarithm so that arguments far below the smallest double still work). Newton's method on
 * the concave, decreasing log erfc: after the first step every iterate lies right of the root
 * and the iterates decrease to it monotonically. The start uses the tail's leading term.
 */
export function inverseLogErfc(logY: number): number {
  if (typeof logY !== 'number' || Number.isNaN(logY) || !(logY < Math.LN2)) {
    throw new RangeError(`inverseLogErfc: logY must be < log 2, got ${String(logY)}`);
  }
  if (logY === -Infinity) return Infinity;
  let x = 0;
  if (logY < -3) {
    // Start from the tail's leading term: erfc(x) ~ exp(-x^2) / (x sqrt(pi)).
    x = Math.sqrt(-logY);
    x = Math.sqrt(-logY - Math.log(SQRT_PI * x));
  }
  for (let iteration = 0; iteration < 200; iteration++) {
    const logValue = logErfc(x);
    // d/dx log erfc(x) = -(2 / sqrt(pi)) exp(-x^2) / erfc(x).
    const slope = -(2 / SQRT_PI) * Math.exp(-x * x - logValue);
    const step = (logValue - logY) / slope;
    x -= step;
    if (Math.abs(step) <= 1e-15 * Math.max(1, Math.abs(x))) break;
  }
  return x;
}
