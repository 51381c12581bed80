import { logAdd, logSub } from './log-space-arithmetic';
import { logErfc } from './normal-tail';
import { gaussianRdpAt } from './rdp-gaussian';
import { DEFAULT_ORDERS, RDP_ROUNDING_TOLERANCE, validateNoiseScale, validateOrders } from './rdp-orders';

/**
 * RDP of the Poisson-subsampled Gaussian mechanism (Mironov, Talwar, Zhang 2019, "Rényi
 * differential privacy of the sampled Gaussian mechanism"), composed over `steps` steps: each
 * example joins a step's batch independently with probability q, the batch's sum of clipped
 * contributions (L2 sensitivity 1) gets N(0, noiseMultiplier^2) noise per coordinate.
 *
 * This is the computation of TensorFlow Privacy's `compute_rdp`, written anew: with
 * mu0 = N(0, sigma^2), mu1 = N(1, sigma^2) and mu = (1 - q) mu0 + q mu1, the RDP at order alpha
 * is log(A_alpha) / (alpha - 1) with A_alpha = E_{z ~ mu0}[(mu(z) / mu0(z))^alpha]:
 * - integer alpha: A_alpha = sum_{i=0..alpha} C(alpha, i) (1 - q)^(alpha - i) q^i
 *   exp((i^2 - i) / (2 sigma^2)), summed in log space;
 * - fractional alpha: the integral is split at z0 = sigma^2 log(1/q - 1) + 1/2 (where mu0 and
 *   mu cross) and each half expanded in the generalised binomial series, whose terms carry
 *   erfc factors; terms are added or subtracted in log space by the sign of C(alpha, i) until
 *   both halves' terms fall below exp(-30).
 *
 * Limits: q = 0 or steps = 0 -> 0; noiseMultiplier = Infinity -> 0; q = 1 -> the plain Gaussian
 * alpha / (2 sigma^2); noiseMultiplier = 0 with q > 0 -> Infinity. Returns one value per order.
 */
export function rdpSubsampledGaussian(
  q: number,
  noiseMultiplier: number,
  steps: number,
  orders: ArrayLike<number> = DEFAULT_ORDERS,
): number[] {
  if (typeof q !== 'number' || !(q >= 0 && q <= 1)) {
    throw new RangeError(`rdpSubsampledGaussian: sampling rate q must be in [0, 1], got ${String(q)}`);
  }
  validateNoiseScale(noiseMultiplier, 'rdpSubsampledGaussian: noiseMultiplier');
  if (typeof steps !== 'number' || !Number.isFinite(steps) || steps < 0) {
    throw new RangeError(`rdpSubsampledGaussian: steps must be a finite number >= 0, got ${String(steps)}`);
  }
  validateOrders(orders, 'rdpSubsampledGaussian: orders');
  return Array.from(orders, (alpha) => {
    if (steps === 0) return 0;
    return steps * subsampledGaussianRdpAt(q, noiseMultiplier, alpha);
  });
}

/** RDP of one step at order alpha > 1. */
export function subsampledGaussianRdpAt(q: number, sigma: number, alpha: number): number {
  if (q === 0 || sigma === Infinity) return 0;
  if (q === 1) return gaussianRdpAt(alpha, sigma);
  if (sigma === 0) return Infinity;
  const logA = Number.isInteger(alpha) ? logAInteger(q, sigma, alpha) : logAFractional(q, sigma, alpha);
  // A_alpha >= 1 (a Rényi divergence is >= 0): a log A just below 0 is rounding in the log-space
  // sums (seen at sigma >= 1e4 near alpha = 1.02, where dividing by alpha - 1 magnifies it).
  if (logA < 0 && logA >= -RDP_ROUNDING_TOLERANCE) return 0;
  return logA / (alpha - 1);
}

/** log(A_alpha) for integer alpha >= 2 and 0 < q < 1. */
function logAInteger(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoVariance = 2 * sigma * sigma;
  let logA = -Infinity;
  for (let i = 0; i <= alpha; i++) {
    const logTerm = logBinomial(alpha, i) + i * logQ + (alpha - i) * log1mQ + (i * i - i) / twoVariance;
    logA = logAdd(logA, logTerm);
  }
  return logA;
}

const MAX_SERIES_TERMS = 1_000_000;

/** log(A_alpha) for fractional alpha > 1 and 0 < q < 1. */
function logAFractional(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoVariance = 2 * sigma * sigma;
  const sqrt2Sigma = Math.SQRT2 * sigma;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;

  // The two halves of A_alpha, integrals over (-inf, z0] and [z0, +inf), start at 0 = exp(-inf).
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  // C(alpha, i) for real alpha, carried as log|C| and its sign: C(alpha, i + 1) = C(alpha, i) (alpha - i) / (i + 1).
  let logAbsCoef = 0;
  let coefPositive = true;
  for (let i = 0; i < MAX_SERIES_TERMS; i++) {
    const j = alpha - i;
    const logT0 = logAbsCoef + i * logQ + j * log1mQ;
    const logT1 = logAbsCoef + j * logQ + i * log1mQ;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / sqrt2Sigma);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / sqrt2Sigma);
    const logS0 = logT0 + (i * i - i) / twoVariance + logE0;
    const logS1 = logT1 + (j * j - j) / twoVariance + logE1;
    if (coefPositive) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30) return logAdd(logA0, logA1);
    logAbsCoef += Math.log(Math.abs(alpha - i)) - Math.log(i + 1);
    if (alpha - i < 0) coefPositive = !coefPositive;
  }
  throw new RangeError(`rdpSubsampledGaussian: the series for order ${alpha} did not converge (q=${q}, sigma=${sigma})`);
}

/** log n! for integers, a table grown on demand and summed with compensation (Kahan). */
const logFactorials: number[] = [0];
let logFactorialCompensation = 0;

function logFactorial(n: number): number {
  for (let k = logFactorials.length; k <= n; k++) {
    const previous = logFactorials[k - 1]!;
    const y = Math.log(k) - logFactorialCompensation;
    const t = previous + y;
    logFactorialCompensation = t - previous - y;
    logFactorials.push(t);
  }
  return logFactorials[n]!;
}

function logBinomial(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}
