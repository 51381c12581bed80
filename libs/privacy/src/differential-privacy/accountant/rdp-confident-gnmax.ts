import { log1mExp } from './log-space-arithmetic';
import { logNormalSurvival } from './normal-tail';
import { gaussianRdpAt } from './rdp-gaussian';
import { rdpGnmaxDataDependent, rdpGnmaxDataIndependent, rdpGnmaxFromLogQValidated, validateVotes } from './rdp-gnmax';
import { DEFAULT_ORDERS, validateNoiseScale, validateOrders } from './rdp-orders';

/**
 * RDP of Confident-GNMax (Papernot et al. 2018, Algorithm 1): a query is answered only if
 * max_j n_j + N(0, sigma1^2) >= T, and then labelled by GNMax with sigma2.
 *
 * The threshold check is spent on every query; GNMax only on the answered ones (whether a query
 * was answered is itself part of the release, so the GNMax step is chosen adaptively from
 * earlier outputs, which RDP composition allows).
 */

/**
 * Data-independent RDP of the threshold check: the max count has sensitivity 1 (one teacher's
 * vote moves it by at most 1), a Gaussian mechanism with noise sigma1: alpha / (2 sigma1^2).
 * Papernot et al.'s `compute_rdp_data_independent_threshold` (GNMax's bound at sqrt(2) sigma1).
 */
export function rdpConfidentThreshold(sigma1: number, orders: ArrayLike<number> = DEFAULT_ORDERS): number[] {
  validateNoiseScale(sigma1, 'rdpConfidentThreshold: sigma1');
  validateOrders(orders, 'rdpConfidentThreshold: orders');
  return Array.from(orders, (alpha) => gaussianRdpAt(alpha, sigma1));
}

/**
 * ln Pr[max_j n_j + N(0, sigma1^2) >= T] (their `compute_logpr_answered`; like them, the max
 * count is rounded to the nearest integer, which changes nothing for integer vote counts).
 * sigma1 = 0: 0 if the max reaches T, else -Infinity.
 */
export function confidentThresholdLogProbabilityAnswered(
  votes: ArrayLike<number>,
  threshold: number,
  sigma1: number,
): number {
  validateVotes(votes, 'confidentThresholdLogProbabilityAnswered');
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
    throw new RangeError(`confidentThresholdLogProbabilityAnswered: threshold must be finite, got ${String(threshold)}`);
  }
  validateNoiseScale(sigma1, 'confidentThresholdLogProbabilityAnswered: sigma1');
  let top = -Infinity;
  for (let j = 0; j < votes.length; j++) top = Math.max(top, votes[j]!);
  const gap = threshold - Math.round(top);
  if (sigma1 === Infinity) return Math.log(0.5);
  if (sigma1 === 0) return gap <= 0 ? 0 : -Infinity;
  return logNormalSurvival(gap, sigma1);
}

/**
 * Data-dependent RDP of the threshold check (their `compute_rdp_threshold`): the check has two
 * outcomes; with p = Pr[answered], q~ = min(p, 1 - p) is the probability of the less likely one,
 * and Theorem 6 applies with the input's stability 1 instead of GNMax's 2, i.e. GNMax's bound at
 * noise sqrt(2) sigma1. Never above `rdpConfidentThreshold`. Depends on the private votes: see
 * the caveat of `rdpGnmaxDataDependent`.
 */
export function rdpConfidentThresholdDataDependent(
  votes: ArrayLike<number>,
  threshold: number,
  sigma1: number,
  orders: ArrayLike<number> = DEFAULT_ORDERS,
): number[] {
  const logPr = confidentThresholdLogProbabilityAnswered(votes, threshold, sigma1);
  return rdpConfidentThresholdFromLogProbabilityAnswered(logPr, sigma1, orders);
}

/** `rdpConfidentThresholdDataDependent` from ln Pr[answered] directly. */
export function rdpConfidentThresholdFromLogProbabilityAnswered(
  logProbabilityAnswered: number,
  sigma1: number,
  orders: ArrayLike<number> = DEFAULT_ORDERS,
): number[] {
  if (typeof logProbabilityAnswered !== 'number' || !(logProbabilityAnswered <= 0)) {
    throw new RangeError(`rdpConfidentThreshold: logProbabilityAnswered must be <= 0, got ${String(logProbabilityAnswered)}`);
  }
  validateNoiseScale(sigma1, 'rdpConfidentThreshold: sigma1');
  validateOrders(orders, 'rdpConfidentThreshold: orders');
  return rdpConfidentThresholdFromLogProbabilityAnsweredValidated(logProbabilityAnswered, sigma1, orders);
}

/** `rdpConfidentThresholdFromLogProbabilityAnswered` on arguments the caller has already validated. */
export function rdpConfidentThresholdFromLogProbabilityAnsweredValidated(
  logProbabilityAnswered: number,
  sigma1: number,
  orders: ArrayLike<number>,
): number[] {
  if (sigma1 === 0) return Array.from(orders, () => Infinity);
  const logQ =
    logProbabilityAnswered === -Infinity ? -Infinity : Math.min(logProbabilityAnswered, log1mExp(logProbabilityAnswered));
  return rdpGnmaxFromLogQValidated(logQ, Math.SQRT2 * sigma1, orders);
}

/**
 * Data-independent RDP of one Confident-GNMax query: the threshold check, plus GNMax if it was
 * answered.
 */
export function rdpConfidentGnmaxDataIndependent(
  sigma1: number,
  sigma2: number,
  answered: boolean,
  orders: ArrayLike<number> = DEFAULT_ORDERS,
): number[] {
  const check = rdpConfidentThreshold(sigma1, orders);
  if (!answered) return check;
  const label = rdpGnmaxDataIndependent(sigma2, orders);
  return check.map((value, k) => value + label[k]!);
}

/**
 * Data-dependent RDP of one Confident-GNMax query on these votes: the data-dependent threshold
 * check, plus data-dependent GNMax if it was answered. Unsanitised (see `rdpGnmaxDataDependent`).
 */
export function rdpConfidentGnmaxDataDependent(
  votes: ArrayLike<number>,
  threshold: number,
  sigma1: number,
  sigma2: number,
  answered: boolean,
  orders: ArrayLike<number> = DEFAULT_ORDERS,
): number[] {
  const check = rdpConfidentThresholdDataDependent(votes, threshold, sigma1, orders);
  if (!answered) return check;
  const label = rdpGnmaxDataDependent(votes, sigma2, orders);
  return check.map((value, k) => value + label[k]!);
}
