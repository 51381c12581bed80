import { log1mExp, logAdd } from './log-space-arithmetic';
import { inverseLogErfc, logErfc, logNormalSurvival } from './normal-tail';
import { rdpConfidentThresholdFromLogProbabilityAnswered } from './rdp-confident-gnmax';
import { gnmaxLogProbabilityNotPlurality, rdpGnmaxFromLogQ, validateVotes } from './rdp-gnmax';

/**
 * Smooth sensitivity of PATE's data-dependent RDP (Papernot et al. 2018, "Scalable Private
 * Learning with PATE", Section 4 and Appendices B-C), ported from TensorFlow Privacy's
 * `research/pate_2018/smooth_sensitivity.py` (same mathematics, same names in the comments).
 *
 * The data-dependent RDP of GNMax and of Confident-GNMax's threshold check depends on the private
 * votes. To publish it, one computes its smooth sensitivity SS_beta = max_k e^(-beta k) LS_k, where
 * LS_k bounds the local sensitivity of the RDP value (at one fixed order lambda) on every vote
 * histogram at distance k (k teachers changing their vote), and adds Gaussian noise scaled by
 * SS_beta: the GNSS mechanism, whose own RDP is `rdpSmoothSensitivityGaussian`.
 *
 * A distance-1 neighbour of a vote histogram moves one vote: one count -1, another +1.
 */

// ---------------------------------------------------------------------------------------------
// GNMax
// ---------------------------------------------------------------------------------------------

/**
 * Theorem 6's bound at one order, without checking its conditions (their
 * `_compute_data_dep_bound_gnmax`); callers compare ln q~ with ln q0 first.
 */
function gnmaxTheorem6Bound(sigma: number, logQ: number, order: number): number {
  if (logQ === -Infinity) return 0;
  const variance = sigma * sigma;
  const mu2 = sigma * Math.sqrt(-logQ);
  const mu1 = mu2 + 1;
  const eps1 = mu1 / variance;
  const eps2 = mu2 / variance;
  const log1mQ = log1mExp(logQ);
  // NaN (as numpy's log1p of a number below -1) outside the range where the bound applies.
  const logA = (order - 1) * (log1mQ - Math.log1p(-Math.exp((logQ + eps2) * (1 - 1 / mu2))));
  const logB = (order - 1) * (eps1 - logQ / (mu1 - 1));
  return logAdd(log1mQ + logA, logQ + logB) / (order - 1);
}

/** mu1 >= order and Lemma 9's condition: Theorem 6 applies at this ln q~ (their `_check_validity_conditions`). */
function gnmaxTheorem6Applies(sigma: number, logQ: number, order: number): boolean {
  const mu2 = sigma * Math.sqrt(-logQ);
  const mu1 = mu2 + 1;
  if (mu1 < order) return false;
  const eps2 = mu2 / (sigma * sigma);
  return logQ <= (mu2 - 1) * eps2 - mu2 * Math.log(((mu1 / (mu1 - 1)) * mu2) / (mu2 - 1));
}

const logQ0Cache = new Map<string, number>();

/**
 * ln q0: the point above which GNMax's data-independent bound order / sigma^2 is below the
 * data-dependent one at this order (their `compute_logq0_gnmax`): the data-dependent bound is
 * used for ln q~ < ln q0 and the data-independent one above. Found by Brent's method between a
 * natural upper bound and a lower bound grown by factors of 1.5. Cached per (sigma, order).
 */
export function gnmaxLogQ0(sigma: number, order: number): number {
  validatePositiveFinite(sigma, 'gnmaxLogQ0: sigma');
  validateOrder(order, 'gnmaxLogQ0: order');
  const key = `${sigma}/${order}`;
  const cached = logQ0Cache.get(key);
  if (cached !== undefined) return cached;
  const dataIndependent = order / (sigma * sigma);
  const dependentMinusIndependent = (logQ: number): number => gnmaxTheorem6Bound(sigma, logQ, order) - dataIndependent;
  const logUpper = Math.min(-((1 + 1 / sigma) ** 2), -(((order - 0.99) / sigma) ** 2), -1 / (sigma * sigma));
  if (!gnmaxTheorem6Applies(sigma, logUpper, order)) {
    throw new RangeError(`gnmaxLogQ0: Theorem 6 does not apply at the natural upper bound on q0 (sigma ${sigma}, order ${order})`);
  }
  let logQ0: number;
  if (dependentMinusIndependent(logUpper) < 0) {
    logQ0 = logUpper;
  } else {
    let logLower = 2 * logUpper;
    while (dependentMinusIndependent(logLower) > 0) {
      if (!(logLower > -10000)) throw new RangeError(`gnmaxLogQ0: the lower bound on q0 is way too low (sigma ${sigma}, order ${order})`);
      logLower *= 1.5;
    }
    logQ0 = brentRoot(dependentMinusIndependent, logLower, logUpper);
    if (!gnmaxTheorem6Applies(sigma, logQ0, order)) {
      throw new RangeError(`gnmaxLogQ0: Theorem 6 does not apply at q0 (sigma ${sigma}, order ${order})`);
    }
  }
  if (logQ0Cache.size > 1024) logQ0Cache.clear();
  logQ0Cache.set(key, logQ0);
  return logQ0;
}

const logQ1Cache = new Map<string, number>();

/** ln q1 = ln BL(q0) (their `_compute_logq1`): below q0 by one vote's move. Cached. */
export function gnmaxLogQ1(sigma: number, order: number, classes: number): number {
  const key = `${sigma}/${order}/${classes}`;
  const cached = logQ1Cache.get(key);
  if (cached !== undefined) return cached;
  const logQ1 = gnmaxLogLowerNeighbourQ(gnmaxLogQ0(sigma, order), sigma, classes);
  if (logQ1Cache.size > 1024) logQ1Cache.clear();
  logQ1Cache.set(key, logQ1);
  return logQ1;
}

/** erfcinv(2q / (m - 1)), shared by BL and BU. */
function neighbourBase(logQ: number, classes: number): number {
  return inverseLogErfc(Math.LN2 + logQ - Math.log(classes - 1));
}

/**
 * ln BL(q): the smallest q~ a distance-1 neighbour can have (their `_compute_bl_gnmax`,
 * (m - 1)/2 erfc(1/sigma + erfcinv(2q / (m - 1))), in log space).
 */
export function gnmaxLogLowerNeighbourQ(logQ: number, sigma: number, classes: number): number {
  return lowerFromBase(neighbourBase(logQ, classes), sigma, classes);
}

/** ln BU(q): the largest q~ a distance-1 neighbour can have, at most 1 (their `_compute_bu_gnmax`). */
export function gnmaxLogUpperNeighbourQ(logQ: number, sigma: number, classes: number): number {
  return upperFromBase(neighbourBase(logQ, classes), sigma, classes);
}

function lowerFromBase(x: number, sigma: number, classes: number): number {
  return Math.log((classes - 1) / 2) + logErfc(1 / sigma + x);
}

function upperFromBase(x: number, sigma: number, classes: number): number {
  return Math.min(0, Math.log((classes - 1) / 2) + logErfc(-1 / sigma + x));
}

/**
 * GNMax's RDP at one order as the smooth-sensitivity analysis uses it (their `_compute_rdp_gnmax`):
 * data-independent from ln q0 on. Values within a relative 1e-12 below ln q0 count as ln q0:
 * BU(BL(q0)) = q0 exactly, but computed it can land one rounding error either side, and where
 * Theorem 6's bound is below the data-independent one at q0 (q0 at its natural upper bound) that
 * would decide the plateau's value (5.9998 or 0.97 for sigma 0.5, order 1.5, 3 classes). The
 * larger value is the safe bound and the one the reference gets.
 */
function gnmaxRdpForSensitivity(sigma: number, logQ: number, order: number, logQ0: number): number {
  return logQ >= logQ0 * (1 + 1e-12) ? order / (sigma * sigma) : gnmaxTheorem6Bound(sigma, logQ, order);
}

/**
 * Algorithm 3 (Proposition 13; their `_compute_local_sens_gnmax`): an upper bound on the local
 * sensitivity of GNMax's RDP at this order for any histogram with this ln q~. Between q1 and q0
 * the value at q1 is used (a plateau that covers the switch to the data-independent bound).
 */
export function gnmaxLocalSensitivity(logQ: number, sigma: number, classes: number, order: number): number {
  return localSensitivityAt(logQ, sigma, classes, order, gnmaxLogQ0(sigma, order), gnmaxLogQ1(sigma, order, classes));
}

function localSensitivityAt(logQ: number, sigma: number, classes: number, order: number, logQ0: number, logQ1: number): number {
  const at = logQ1 <= logQ && logQ <= logQ0 ? logQ1 : logQ;
  const x = neighbourBase(at, classes);
  const beta = gnmaxRdpForSensitivity(sigma, at, order, logQ0);
  const betaUpper = gnmaxRdpForSensitivity(sigma, upperFromBase(x, sigma, classes), order, logQ0);
  const betaLower = gnmaxRdpForSensitivity(sigma, lowerFromBase(x, sigma, classes), order, logQ0);
  return Math.max(betaUpper - beta, beta - betaLower);
}

/**
 * LS_k for k = 0 .. teachers - 1: bounds on the local sensitivity of GNMax's RDP at this order
 * over all vote histograms at distance k from `votes` (Algorithms 4 and 5 in O(teachers x
 * classes), their `compute_local_sensitivity_bounds_gnmax`). From a confident histogram (ln q~ <
 * ln q1) it moves votes from the top class to the runner-up ("going right", towards larger q~);
 * from an unconfident one (ln q~ > ln q0) it moves them the other way ("going left"), until the
 * plateau [q1, q0], whose value holds for every larger distance.
 */
export function gnmaxLocalSensitivityBounds(
  votes: ArrayLike<number>,
  teachers: number,
  sigma: number,
  order: number,
): Float64Array {
  validateVotes(votes, 'gnmaxLocalSensitivityBounds');
  validateTeachers(teachers, 'gnmaxLocalSensitivityBounds');
  validatePositiveFinite(sigma, 'gnmaxLocalSensitivityBounds: sigma');
  validateOrder(order, 'gnmaxLocalSensitivityBounds: order');
  const classes = votes.length;
  const logQ0 = gnmaxLogQ0(sigma, order);
  const logQ1 = gnmaxLogQ1(sigma, order, classes);
  let logQ = gnmaxLogProbabilityNotPlurality(votes, sigma);
  const plateau = localSensitivityAt(logQ1, sigma, classes, order, logQ0, logQ1);
  const result = new Float64Array(teachers).fill(plateau);
  if (logQ1 <= logQ && logQ <= logQ0) return result;

  // Invariant: sorted in non-increasing order.
  const sorted = Array.from(votes).sort((a, b) => b - a);
  result[0] = localSensitivityAt(logQ, sigma, classes, order, logQ0, logQ1);
  let distance = 0;
  const goLeft = logQ > logQ0; // Otherwise logQ < logQ1: go right.
  while ((goLeft && logQ > logQ0 && sorted[1]! > 0) || (!goLeft && logQ < logQ1)) {
    distance++;
    if (goLeft) {
      sorted[0]!++;
      sorted[1]!--;
      for (let k = 1; k < classes - 1 && sorted[k]! < sorted[k + 1]!; k++) {
        const t = sorted[k]!;
        sorted[k] = sorted[k + 1]!;
        sorted[k + 1] = t;
      }
    } else {
      sorted[0]!--;
      sorted[1]!++; // Stays sorted: otherwise ln q~ would already be >= ln q1.
    }
    logQ = gnmaxLogProbabilityNotPlurality(sorted, sigma);
    // Fewer than `teachers` moves always suffice (votes run out); the guard only keeps the array bounds.
    if (distance >= teachers) break;
    result[distance] = localSensitivityAt(logQ, sigma, classes, order, logQ0, logQ1);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Confident-GNMax's threshold check
// ---------------------------------------------------------------------------------------------

const thresholdRdpCache = new Map<string, Float64Array>();

/**
 * RDP of the threshold check at this order for every value v = 0 .. teachers of the max count
 * (their `_compute_rdp_list_threshold`), cached per (teachers, threshold, sigma1, order).
 */
function thresholdRdpByMaxCount(teachers: number, threshold: number, sigma1: number, order: number): Float64Array {
  const key = `${teachers}/${threshold}/${sigma1}/${order}`;
  const cached = thresholdRdpCache.get(key);
  if (cached) return cached;
  const list = new Float64Array(teachers + 1);
  for (let v = 0; v <= teachers; v++) {
    const logAnswered = logNormalSurvival(threshold - v, sigma1);
    list[v] = rdpConfidentThresholdFromLogProbabilityAnswered(logAnswered, sigma1, [order])[0]!;
  }
  if (thresholdRdpCache.size > 256) thresholdRdpCache.clear();
  thresholdRdpCache.set(key, list);
  return list;
}

/**
 * LS_k for k = 0 .. teachers - 1 of the threshold check's RDP at this order (their
 * `compute_local_sensitivity_bounds_threshold`). The check depends on the votes only through the
 * max count (rounded half to even, as Python's round), which one teacher moves by at most 1, so
 * the sensitivity at distance k is the largest one-step change of the RDP at max count
 * round(max) +- k, computed exactly.
 */
export function thresholdLocalSensitivityBounds(
  votes: ArrayLike<number>,
  teachers: number,
  threshold: number,
  sigma1: number,
  order: number,
): Float64Array {
  validateVotes(votes, 'thresholdLocalSensitivityBounds');
  validateTeachers(teachers, 'thresholdLocalSensitivityBounds');
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
    throw new RangeError(`thresholdLocalSensitivityBounds: threshold must be finite, got ${String(threshold)}`);
  }
  validatePositiveFinite(sigma1, 'thresholdLocalSensitivityBounds: sigma1');
  validateOrder(order, 'thresholdLocalSensitivityBounds: order');
  let top = -Infinity;
  for (let j = 0; j < votes.length; j++) top = Math.max(top, votes[j]!);
  const currentMax = roundHalfToEven(top);
  if (currentMax < 0 || currentMax > teachers) {
    throw new RangeError(`thresholdLocalSensitivityBounds: the max count ${top} must lie in [0, ${teachers} teachers]`);
  }
  const rdp = thresholdRdpByMaxCount(teachers, threshold, sigma1, order);
  const oneStep = (v: number): number => {
    let step = -Infinity;
    if (v > 0) step = Math.abs(rdp[v - 1]! - rdp[v]!);
    if (v < teachers) step = Math.max(step, Math.abs(rdp[v + 1]! - rdp[v]!));
    return step;
  };
  const result = new Float64Array(teachers);
  const distances = Math.max(currentMax, teachers - currentMax);
  for (let d = 0; d < distances; d++) {
    let ls = -Infinity;
    if (currentMax + d <= teachers) ls = oneStep(currentMax + d);
    if (currentMax - d >= 0) ls = Math.max(ls, oneStep(currentMax - d));
    result[d] = ls;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Smooth sensitivity and its release (GNSS)
// ---------------------------------------------------------------------------------------------

/** SS_beta = max_k e^(-beta k) LS_k (their `compute_discounted_max`). */
export function discountedMax(beta: number, localSensitivities: ArrayLike<number>): number {
  if (typeof beta !== 'number' || !Number.isFinite(beta) || beta < 0) {
    throw new RangeError(`discountedMax: beta must be a finite number >= 0, got ${String(beta)}`);
  }
  let best = -Infinity;
  for (let k = 0; k < localSensitivities.length; k++) {
    const ls = localSensitivities[k]!;
    if (typeof ls !== 'number' || Number.isNaN(ls)) {
      throw new RangeError(`discountedMax: local sensitivity ${k} is ${String(ls)}`);
    }
    best = Math.max(best, ls * Math.exp(-beta * k));
  }
  return best;
}

/**
 * Smooth sensitivity of one GNMax answer's RDP at this order (their
 * `compute_smooth_sensitivity_gnmax`, which passes its arguments to the local-sensitivity function
 * in the wrong order; this one does not).
 */
export function gnmaxSmoothSensitivity(
  beta: number,
  votes: ArrayLike<number>,
  teachers: number,
  sigma: number,
  order: number,
): number {
  return discountedMax(beta, gnmaxLocalSensitivityBounds(votes, teachers, sigma, order));
}

/**
 * RDP at this order of the GNSS mechanism: release f(D) + SS_beta(D) * N(0, sigma^2) (Papernot et
 * al. 2018, Theorem 23; their `compute_rdp_of_smooth_sensitivity_gaussian`):
 * order e^(2 beta) / sigma^2 + (-ln(1 - 2 order beta) / 2 + beta order) / (order - 1),
 * defined for 1 < order < 1 / (2 beta).
 */
export function rdpSmoothSensitivityGaussian(beta: number, sigma: number, order: number): number {
  if (typeof beta !== 'number' || !Number.isFinite(beta) || beta < 0) {
    throw new RangeError(`rdpSmoothSensitivityGaussian: beta must be a finite number >= 0, got ${String(beta)}`);
  }
  if (typeof sigma !== 'number' || Number.isNaN(sigma) || !(sigma > 0)) {
    throw new RangeError(`rdpSmoothSensitivityGaussian: sigma must be > 0 (Infinity allowed), got ${String(sigma)}`);
  }
  validateOrder(order, 'rdpSmoothSensitivityGaussian: order');
  if (beta > 0 && !(order < 1 / (2 * beta))) {
    throw new RangeError(`rdpSmoothSensitivityGaussian: order ${order} is outside (1, 1/(2 beta)) = (1, ${1 / (2 * beta)})`);
  }
  return (order * Math.exp(2 * beta)) / (sigma * sigma) + (-0.5 * Math.log(1 - 2 * order * beta) + beta * order) / (order - 1);
}

/**
 * The noise scale that minimises order e^(2 beta) / sigma^2 + 2 SS sigma (GNSS's cost plus two
 * standard deviations of its noise), as smooth_sensitivity_table.py chooses it:
 * sigma = (order e^(2 beta) / SS)^(1/3).
 */
export function smoothSensitivityNoiseScale(beta: number, smoothSensitivity: number, order: number): number {
  return ((order * Math.exp(2 * beta)) / smoothSensitivity) ** (1 / 3);
}

/**
 * The beta values smooth_sensitivity_table.py searches: numpy.arange(0.3 / order, 0.495 / order,
 * 0.01 / order), i.e. beta order = 0.30, 0.31, ..., 0.49.
 */
export function smoothSensitivityBetaGrid(order: number): number[] {
  validateOrder(order, 'smoothSensitivityBetaGrid: order');
  const start = 0.3 / order;
  const stop = 0.495 / order;
  const step = 0.01 / order;
  const count = Math.ceil((stop - start) / step);
  return Array.from({ length: count }, (_, k) => start + k * step);
}

/**
 * (alpha, beta) for a smooth-sensitivity release with (epsilon, delta)-DP through Lemma 2.6 of
 * Nissim, Raskhodnikova and Smith (their `compute_params_for_ss_release`, "presently not used":
 * the table proceeds through RDP). a = Phi^-1(1 - delta/2); alpha = sqrt(a^2 + epsilon/2) - a;
 * beta = epsilon / (2 chi2_1^-1(1 - delta/2)).
 */
export function smoothSensitivityReleaseParameters(epsilon: number, delta: number): { alpha: number; beta: number } {
  if (typeof epsilon !== 'number' || !Number.isFinite(epsilon) || !(epsilon > 0)) {
    throw new RangeError(`smoothSensitivityReleaseParameters: epsilon must be a finite number > 0, got ${String(epsilon)}`);
  }
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) {
    throw new RangeError(`smoothSensitivityReleaseParameters: delta must be in (0, 1), got ${String(delta)}`);
  }
  // Phi^-1(1 - delta/2) = sqrt(2) erfcinv(delta); the x with Pr[chi2_1 > x] = Pr[|Z| > sqrt(x)]
  // = delta/2 is 2 erfcinv(delta/2)^2.
  const a = Math.SQRT2 * inverseLogErfc(Math.log(delta));
  const alpha = Math.sqrt(a * a + epsilon / 2) - a;
  const chiSquareQuantile = 2 * inverseLogErfc(Math.log(delta / 2)) ** 2;
  return { alpha, beta: epsilon / (2 * chiSquareQuantile) };
}

/**
 * Conditions C5 and C6 of Appendix B.4.2 (their `check_conditions`), under which Algorithm 3's
 * local-sensitivity bound is correct: C5, Theorem 6's bound beta(q) is non-decreasing on (0, q0);
 * C6, beta(BU(q)) - beta(q) is non-decreasing on (0, BL(q0)). The reference differentiates
 * symbolically and minimises the derivative with a bounded scalar search; this checks that the
 * functions do not decrease between neighbouring points of a grid of 2,000 values of ln q spread
 * evenly over 100 nats below the interval's end (the region where they fail, e.g. ln q in
 * [-5.1, -3.3] for C6 at sigma 20, 10 classes, order 25, is wide).
 */
export function checkSmoothSensitivityConditions(
  sigma: number,
  classes: number,
  order: number,
): { c5: boolean; c6: boolean } {
  validatePositiveFinite(sigma, 'checkSmoothSensitivityConditions: sigma');
  if (!Number.isSafeInteger(classes) || classes < 2) {
    throw new RangeError(`checkSmoothSensitivityConditions: classes must be an integer >= 2, got ${String(classes)}`);
  }
  validateOrder(order, 'checkSmoothSensitivityConditions: order');
  const logQ0 = gnmaxLogQ0(sigma, order);
  const beta = (logQ: number): number => gnmaxTheorem6Bound(sigma, logQ, order);
  const c5 = nonDecreasingOnLogGrid(beta, logQ0);
  if (!c5) return { c5, c6: false };
  const logBlQ0 = gnmaxLogLowerNeighbourQ(logQ0, sigma, classes);
  const c6 = nonDecreasingOnLogGrid(
    (logQ) => beta(gnmaxLogUpperNeighbourQ(logQ, sigma, classes)) - beta(logQ),
    logBlQ0,
  );
  return { c5, c6 };
}

function nonDecreasingOnLogGrid(f: (logQ: number) => number, logEnd: number): boolean {
  const points = 2000;
  const span = 100;
  let previous = f(logEnd - span);
  for (let i = 1; i <= points; i++) {
    const value = f(logEnd - span + (span * i) / points);
    if (Number.isNaN(value)) return false;
    if (value < previous - 1e-12 * Math.abs(previous)) return false;
    previous = value;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** Python's round(): to the nearest integer, halves to the even neighbour. */
export function roundHalfToEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Brent's root finder (as scipy.optimize.brentq) on [a, b] with f(a), f(b) of opposite signs,
 * to |interval| <= 4 ulp-level tolerance.
 */
function brentRoot(f: (x: number) => number, a: number, b: number): number {
  let fa = f(a);
  let fb = f(b);
  if (fa === 0) return a;
  if (fb === 0) return b;
  if (fa * fb > 0) throw new RangeError(`brentRoot: f(${a}) and f(${b}) have the same sign`);
  let c = a;
  let fc = fa;
  let d = b - a;
  let e = d;
  for (let iteration = 0; iteration < 200; iteration++) {
    if (fb * fc > 0) {
      c = a;
      fc = fa;
      d = b - a;
      e = d;
    }
    if (Math.abs(fc) < Math.abs(fb)) {
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const tolerance = 2 * Number.EPSILON * Math.abs(b) + 1e-15;
    const half = (c - b) / 2;
    if (Math.abs(half) <= tolerance || fb === 0) return b;
    if (Math.abs(e) >= tolerance && Math.abs(fa) > Math.abs(fb)) {
      // Inverse quadratic interpolation (secant when a = c).
      const s = fb / fa;
      let p: number;
      let q: number;
      if (a === c) {
        p = 2 * half * s;
        q = 1 - s;
      } else {
        const qa = fa / fc;
        const r = fb / fc;
        p = s * (2 * half * qa * (qa - r) - (b - a) * (r - 1));
        q = (qa - 1) * (r - 1) * (s - 1);
      }
      if (p > 0) q = -q;
      else p = -p;
      if (2 * p < Math.min(3 * half * q - Math.abs(tolerance * q), Math.abs(e * q))) {
        e = d;
        d = p / q;
      } else {
        d = half;
        e = d;
      }
    } else {
      d = half;
      e = d;
    }
    a = b;
    fa = fb;
    b += Math.abs(d) > tolerance ? d : half > 0 ? tolerance : -tolerance;
    fb = f(b);
  }
  return b;
}

function validatePositiveFinite(value: number, what: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || !(value > 0)) {
    throw new RangeError(`${what} must be a finite number > 0, got ${String(value)}`);
  }
}

function validateOrder(order: number, what: string): void {
  if (typeof order !== 'number' || !Number.isFinite(order) || !(order > 1)) {
    throw new RangeError(`${what} must be a finite number > 1, got ${String(order)}`);
  }
}

function validateTeachers(teachers: number, what: string): void {
  if (!Number.isSafeInteger(teachers) || teachers < 1) {
    throw new RangeError(`${what}: teachers must be a positive integer, got ${String(teachers)}`);
  }
}
