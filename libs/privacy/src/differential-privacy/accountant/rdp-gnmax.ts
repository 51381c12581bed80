import { log1mExp, logAdd, logSumExp } from './log-space-arithmetic';
import { logNormalSurvival } from './normal-tail';
import { DEFAULT_ORDERS, validateNoiseScale, validateOrders } from './rdp-orders';

/**
 * RDP of GNMax, PATE's Gaussian NoisyMax (Papernot et al. 2018, "Scalable Private Learning with
 * PATE"): add N(0, sigma^2) to every class's vote count and release only the argmax.
 *
 * Neighbouring data sets differ in one private example, which changes one teacher's vote: one
 * count goes down by 1 and another up by 1, so the vote histogram moves by sqrt(2) in L2.
 */

/**
 * Data-independent bound (Papernot et al. 2018, Proposition 8): alpha / sigma^2 per query at
 * order alpha (the Gaussian mechanism alpha / (2 (sigma / sqrt(2))^2) on the histogram, which also
 * covers releasing the whole noisy histogram). Q queries compose to Q alpha / sigma^2.
 */
export function rdpGnmaxDataIndependent(sigma: number, orders: ArrayLike<number> = DEFAULT_ORDERS): number[] {
  validateNoiseScale(sigma, 'rdpGnmaxDataIndependent: sigma');
  validateOrders(orders, 'rdpGnmaxDataIndependent: orders');
  return Array.from(orders, (alpha) => gnmaxDataIndependentAt(alpha, sigma));
}

/**
 * Upper bound on ln q~, q~ = Pr[noisy argmax != plurality class] (Papernot et al. 2018,
 * Proposition 7, their `compute_logq_gaussian`): a union bound over the other classes,
 * q~ <= sum_{j != i*} Pr[N(0, 2 sigma^2) >= n_{i*} - n_j], capped at 1 - 1/m for m classes
 * (the probability that a uniformly random class differs). The plurality i* is the first index
 * of the maximum count. sigma = 0 gives -Infinity (the answer is the plurality) unless there
 * is a tie.
 */
export function gnmaxLogProbabilityNotPlurality(votes: ArrayLike<number>, sigma: number): number {
  validateVotes(votes, 'gnmaxLogProbabilityNotPlurality');
  validateNoiseScale(sigma, 'gnmaxLogProbabilityNotPlurality: sigma');
  const m = votes.length;
  const top = argmax(votes);
  const logCap = Math.log(1 - 1 / m);
  if (sigma === Infinity) return logCap;
  const logTerms: number[] = [];
  for (let j = 0; j < m; j++) {
    if (j === top) continue;
    const gap = votes[top]! - votes[j]!;
    logTerms.push(sigma === 0 ? (gap === 0 ? Math.log(0.5) : -Infinity) : logNormalSurvival(gap, Math.SQRT2 * sigma));
  }
  return Math.min(logSumExp(logTerms), logCap);
}

/**
 * RDP of GNMax given an upper bound ln q~ on the probability of a non-plurality answer
 * (Papernot et al. 2018, Theorem 6 with the higher orders mu2 = sigma sqrt(-ln q~), mu1 = mu2 + 1 of
 * Proposition 10), computed as their `rdp_gaussian` does:
 * - sigma = 0: Infinity (no noise, no privacy); sigma = Infinity: 0.
 * - q~ = 0 (ln q~ = -Infinity): 0 at every order (the output is fixed).
 * - Otherwise the data-independent alpha / sigma^2, replaced by the Theorem 6 bound
 *   (1/(alpha - 1)) log((1 - q~) A^(alpha - 1) + q~ B^(alpha - 1)) with
 *   A = (1 - q~) / (1 - (e^eps2 q~)^((mu2 - 1)/mu2)), B = e^eps1 / q~^(1/(mu1 - 1)),
 *   eps_i = mu_i / sigma^2, where that is smaller, only at orders alpha < mu1, and only when
 *   mu2 > 1, ln q~ <= (mu2 - 1) eps2 - mu2 (ln(1 + 1/(mu1 - 1)) + ln(1 + 1/(mu2 - 1))) and
 *   -ln q~ > eps2 (Theorem 6's conditions: q~ small enough for the bound to hold and increase in q~).
 *
 * The result depends on the votes through q~ and is therefore itself sensitive: see
 * `rdpGnmaxDataDependent`.
 */
export function rdpGnmaxFromLogQ(logQ: number, sigma: number, orders: ArrayLike<number> = DEFAULT_ORDERS): number[] {
  if (typeof logQ !== 'number' || Number.isNaN(logQ) || logQ > 0) {
    throw new RangeError(`rdpGnmaxFromLogQ: logQ must be <= 0, got ${String(logQ)}`);
  }
  validateNoiseScale(sigma, 'rdpGnmaxFromLogQ: sigma');
  validateOrders(orders, 'rdpGnmaxFromLogQ: orders');
  return rdpGnmaxFromLogQValidated(logQ, sigma, orders);
}

/** `rdpGnmaxFromLogQ` on arguments the caller has already validated (for loops over many queries). */
export function rdpGnmaxFromLogQValidated(logQ: number, sigma: number, orders: ArrayLike<number>): number[] {
  const result = Array.from(orders, (alpha) => gnmaxDataIndependentAt(alpha, sigma));
  // No noise: no privacy, whatever q~ (Theorem 6 needs the mechanism to be RDP at mu1, mu2).
  if (sigma === 0 || sigma === Infinity) return result;
  if (logQ === -Infinity) return result.map(() => 0);

  const variance = sigma * sigma;
  const mu2 = Math.sqrt(variance * -logQ);
  const mu1 = mu2 + 1;
  const eps1 = mu1 / variance;
  const eps2 = mu2 / variance;
  if (!(mu2 > 1)) return result;
  let anyOrderBelowMu1 = false;
  for (let k = 0; k < orders.length; k++) anyOrderBelowMu1 ||= orders[k]! < mu1;
  if (!anyOrderBelowMu1) return result;
  const logA2 = (mu2 - 1) * eps2;
  const qSmallEnough = logQ <= logA2 - mu2 * (Math.log(1 + 1 / (mu1 - 1)) + Math.log(1 + 1 / (mu2 - 1)));
  if (!qSmallEnough || !(-logQ > eps2)) return result;

  const log1mQ = log1mExp(logQ);
  const logAPerOrder = log1mQ - log1mExp((logQ + eps2) * (1 - 1 / mu2));
  const logBPerOrder = eps1 - logQ / (mu1 - 1);
  for (let k = 0; k < orders.length; k++) {
    const alpha = orders[k]!;
    if (!(alpha < mu1)) continue;
    const logS = logAdd(log1mQ + (alpha - 1) * logAPerOrder, logQ + (alpha - 1) * logBPerOrder);
    result[k] = Math.min(result[k]!, logS / (alpha - 1));
  }
  return result;
}

/**
 * Data-dependent RDP of one GNMax answer on these votes: `rdpGnmaxFromLogQ` of
 * `gnmaxLogProbabilityNotPlurality(votes, sigma)`. Never above the data-independent bound, equal
 * to it when the plurality is not clear (ties, small margins, or sigma too large for the votes),
 * much smaller when the teachers agree by a margin of several sigma.
 *
 * NOT a differential-privacy guarantee by itself: the value depends on the private votes, so
 * publishing it (or an epsilon computed from it) leaks. Report it only after sanitisation
 * (smooth sensitivity, Papernot et al. 2018 Section B) or marked as unsanitised; the
 * `RdpAccountant` tags totals that include it (`dataDependent`).
 */
export function rdpGnmaxDataDependent(
  votes: ArrayLike<number>,
  sigma: number,
  orders: ArrayLike<number> = DEFAULT_ORDERS,
): number[] {
  return rdpGnmaxFromLogQ(gnmaxLogProbabilityNotPlurality(votes, sigma), sigma, orders);
}

function gnmaxDataIndependentAt(alpha: number, sigma: number): number {
  if (sigma === Infinity) return 0;
  if (sigma === 0) return Infinity;
  return alpha / (sigma * sigma);
}

/** Index of the first maximum. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let j = 1; j < values.length; j++) if (values[j]! > values[best]!) best = j;
  return best;
}

export function validateVotes(votes: ArrayLike<number>, what: string): void {
  if (votes.length < 2) throw new RangeError(`${what}: need the counts of at least 2 classes, got ${votes.length}`);
  for (let j = 0; j < votes.length; j++) {
    if (typeof votes[j] !== 'number' || !Number.isFinite(votes[j]!)) {
      throw new RangeError(`${what}: vote count ${j} is ${String(votes[j])}; counts must be finite`);
    }
  }
}
