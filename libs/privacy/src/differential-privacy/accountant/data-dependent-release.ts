import type { NormalSource } from '../mechanisms/normal-source';
import { gaussianRdpAt } from './rdp-gaussian';
import {
  confidentThresholdLogProbabilityAnswered,
  rdpConfidentThresholdFromLogProbabilityAnswered,
  rdpConfidentThresholdFromLogProbabilityAnsweredValidated,
} from './rdp-confident-gnmax';
import { gnmaxLogProbabilityNotPlurality, rdpGnmaxFromLogQ, rdpGnmaxFromLogQValidated } from './rdp-gnmax';
import { DEFAULT_ORDERS, validateOrders } from './rdp-orders';
import { epsilonFromRdpClassic } from './rdp-to-epsilon';
import {
  checkSmoothSensitivityConditions,
  discountedMax,
  gnmaxLocalSensitivityBounds,
  rdpSmoothSensitivityGaussian,
  smoothSensitivityBetaGrid,
  smoothSensitivityNoiseScale,
  thresholdLocalSensitivityBounds,
} from './smooth-sensitivity';

/**
 * Privacy analysis of a whole PATE release (GNMax or Confident-GNMax answers to `asked` queries),
 * three ways, as TensorFlow Privacy's research/pate_2018/ICLR2018/smooth_sensitivity_table.py does
 * for Table 2 of Papernot et al. 2018:
 * - data-independent: alpha / sigma^2 per GNMax answer (and alpha / (2 sigma1^2) per threshold
 *   check); publishable as is.
 * - data-dependent, unsanitised: Theorem 6 on the actual votes (small when teachers agree); it is
 *   a function of the private votes, NOT publishable.
 * - sanitised: the data-dependent RDP at one order lambda plus Gaussian noise scaled by its smooth
 *   sensitivity (the GNSS mechanism), plus GNSS's own RDP cost at lambda; publishable when lambda,
 *   beta and sigma are fixed without looking at the votes (see `parametersFromPrivateData`).
 */

export type AnalysedMechanism =
  | { mechanism: 'gnmax'; sigma: number }
  | { mechanism: 'confident-gnmax'; threshold: number; sigma1: number; sigma2: number };

export interface ReleaseAnalysisInput {
  /** [asked x classes] TRUE teacher vote counts (non-negative integers) of the queries asked. */
  votes: ArrayLike<number>;
  classes: number;
  mechanism: AnalysedMechanism;
  /** Confident-GNMax only: 1 where the query was answered, 0 where not (length asked). */
  answered?: ArrayLike<number>;
  delta: number;
  /** Default DEFAULT_ORDERS. */
  orders?: ArrayLike<number>;
  /**
   * The GNSS parameters. Defaults as smooth_sensitivity_table.py chooses them: lambda = the best
   * order of the unsanitised data-dependent curve; beta on the grid 0.30/lambda .. 0.49/lambda and
   * sigma = (lambda e^(2 beta) / SS_beta)^(1/3), minimising RDP + GNSS cost + 2 SS_beta sigma.
   */
  sanitisation?: { order?: number; beta?: number; sigma?: number };
  /** The sanitisation's noise draw. */
  rng: NormalSource;
  /**
   * Number of teachers (the largest possible count). Default: the largest row sum of `votes`.
   * A row summing to less (teachers that did not vote) is analysed conservatively at this number.
   */
  teachers?: number;
}

export interface EpsilonWithOrder {
  epsilon: number;
  order: number;
}

/**
 * The sanitised epsilon. `epsilon` = RDP_dd(order) + GNSS cost + noise + ln(1/delta)/(order - 1) is
 * a random draw (the published value, as in the paper's Table 2), so with a negative draw it can
 * fall below the unsanitised data-dependent epsilon; `expectedEpsilon` is its mean, which never
 * does (it adds the GNSS cost at one order to a curve minimised over all orders).
 */
export interface SanitisedEpsilon extends EpsilonWithOrder {
  /** SS_beta of the release's data-dependent RDP at `order` (0 when nothing is data-dependent). */
  smoothSensitivity: number;
  beta: number;
  /** GNSS noise multiplier: the noise is N(0, (smoothSensitivity sigma)^2). Infinity if SS = 0. */
  sigma: number;
  /** The draw added to the RDP at `order`: smoothSensitivity * sigma * N(0, 1). */
  noise: number;
  /** GNSS's own RDP at `order` (Theorem 23), included in `epsilon`. */
  sanitisationEpsilonCost: number;
  /** `epsilon` without the noise draw (its mean). */
  expectedEpsilon: number;
  /**
   * True when the order, beta or sigma were defaulted: the reference chooses them by looking at
   * the votes, so the published number then leaks a little beyond its own guarantee ("Since
   * optimization is done with full view of sensitive data, the results cannot be released").
   * Fix all three in advance (from a public or earlier analysis) for a strictly publishable value.
   */
  parametersFromPrivateData: boolean;
  /**
   * 'smooth-sensitivity', or 'data-independent' when there was nothing to sanitise (no queries, or
   * the data-dependent bound equals the data-independent one for every histogram at this order) or
   * when conditions C5/C6 fail (the local-sensitivity bound is then unproven): `epsilon` is then the
   * data-independent epsilon.
   */
  method: 'smooth-sensitivity' | 'data-independent';
  /** Why `method` is 'data-independent'. */
  reason?: string;
}

export interface ReleaseAnalysis {
  asked: number;
  answered: number;
  teachers: number;
  /** Publishable as is. */
  dataIndependent: EpsilonWithOrder;
  /** NOT publishable; for comparison only. */
  dataDependentUnsanitised: EpsilonWithOrder;
  /** Publishable: includes the sanitisation's own cost (see `parametersFromPrivateData`). */
  sanitised: SanitisedEpsilon;
}

export function analyseRelease(input: ReleaseAnalysisInput): ReleaseAnalysis {
  const checked = validateReleaseInput(input);
  const { votes, classes, asked, answered, answeredCount, teachers, orders, delta } = checked;
  const mechanism = input.mechanism;
  const row = (i: number): Float64Array => votes.subarray(i * classes, (i + 1) * classes);

  // Data-independent and unsanitised data-dependent curves over all orders.
  const independentCurve = new Float64Array(orders.length);
  const dependentCurve = new Float64Array(orders.length);
  for (let k = 0; k < orders.length; k++) {
    const alpha = orders[k]!;
    independentCurve[k] =
      mechanism.mechanism === 'gnmax'
        ? (asked * alpha) / mechanism.sigma ** 2
        : asked * gaussianRdpAt(alpha, mechanism.sigma1) + (answeredCount * alpha) / mechanism.sigma2 ** 2;
  }
  const labelSigma = mechanism.mechanism === 'gnmax' ? mechanism.sigma : mechanism.sigma2;
  for (let i = 0; i < asked; i++) {
    const v = row(i);
    if (mechanism.mechanism === 'confident-gnmax') {
      const logAnswered = confidentThresholdLogProbabilityAnswered(v, mechanism.threshold, mechanism.sigma1);
      addInto(dependentCurve, rdpConfidentThresholdFromLogProbabilityAnsweredValidated(logAnswered, mechanism.sigma1, orders));
    }
    if (answered[i]) {
      addInto(dependentCurve, rdpGnmaxFromLogQValidated(gnmaxLogProbabilityNotPlurality(v, labelSigma), labelSigma, orders));
    }
  }
  const dataIndependent = epsilonFromRdpClassic(orders, independentCurve, delta);
  const dataDependentUnsanitised = epsilonFromRdpClassic(orders, dependentCurve, delta);

  const settings = input.sanitisation ?? {};
  const parametersFromPrivateData = settings.order === undefined || settings.beta === undefined || settings.sigma === undefined;
  const order = settings.order ?? dataDependentUnsanitised.order;
  const fallback = (reason: string): ReleaseAnalysis => ({
    asked,
    answered: answeredCount,
    teachers,
    dataIndependent,
    dataDependentUnsanitised,
    sanitised: {
      ...dataIndependent,
      smoothSensitivity: 0,
      beta: 0,
      sigma: Infinity,
      noise: 0,
      sanitisationEpsilonCost: 0,
      expectedEpsilon: dataIndependent.epsilon,
      parametersFromPrivateData: false,
      method: 'data-independent',
      reason,
    },
  });
  if (asked === 0) return fallback('no queries were asked');

  // Which steps can be data-dependent at this order at all (their _is_data_ind_step1/2).
  const thresholdIndependent =
    mechanism.mechanism === 'gnmax' ||
    thresholdAlwaysDataIndependent(teachers, mechanism.threshold, mechanism.sigma1, order);
  const labelIndependent = answeredCount === 0 || gnmaxAlwaysDataIndependent(teachers, classes, labelSigma, order);
  if (thresholdIndependent && labelIndependent) {
    return fallback(`at order ${order} the data-dependent bound equals the data-independent one for every vote histogram`);
  }
  if (!labelIndependent) {
    let conditions: { c5: boolean; c6: boolean };
    try {
      conditions = checkSmoothSensitivityConditions(labelSigma, classes, order);
    } catch (error) {
      // ln q0 could not be bracketed (their assertions): the analysis does not apply.
      return fallback(`the smooth-sensitivity analysis does not apply: ${(error as Error).message}`);
    }
    const { c5, c6 } = conditions;
    if (!c5 || !c6) {
      return fallback(
        `condition ${c5 ? 'C6' : 'C5'} of Papernot et al. 2018 (Appendix B.4.2) fails for sigma ${labelSigma}, ${classes} classes, order ${order}: the smooth-sensitivity bound does not apply`,
      );
    }
  }

  // The data-dependent RDP at `order` and its local sensitivity at every distance.
  let rdpAtOrder = 0;
  const localSensitivity = new Float64Array(teachers);
  // GNMax's local sensitivities depend on a row only through its sorted counts: rows that agree
  // (unanimous ones above all) are computed once.
  const gnmaxBoundsBySortedRow = new Map<string, Float64Array>();
  const gnmaxBounds = (v: Float64Array): Float64Array => {
    const key = Array.from(v).sort((a, b) => b - a).join(',');
    let bounds = gnmaxBoundsBySortedRow.get(key);
    if (!bounds) {
      bounds = gnmaxLocalSensitivityBounds(v, teachers, labelSigma, order);
      gnmaxBoundsBySortedRow.set(key, bounds);
    }
    return bounds;
  };
  for (let i = 0; i < asked; i++) {
    const v = row(i);
    if (mechanism.mechanism === 'confident-gnmax') {
      if (thresholdIndependent) {
        rdpAtOrder += gaussianRdpAt(order, mechanism.sigma1);
      } else {
        const logAnswered = confidentThresholdLogProbabilityAnswered(v, mechanism.threshold, mechanism.sigma1);
        rdpAtOrder += rdpConfidentThresholdFromLogProbabilityAnswered(logAnswered, mechanism.sigma1, [order])[0]!;
        addInto(localSensitivity, thresholdLocalSensitivityBounds(v, teachers, mechanism.threshold, mechanism.sigma1, order));
      }
    }
    if (!answered[i]) continue;
    if (labelIndependent) {
      rdpAtOrder += order / labelSigma ** 2;
    } else {
      rdpAtOrder += rdpGnmaxFromLogQ(gnmaxLogProbabilityNotPlurality(v, labelSigma), labelSigma, [order])[0]!;
      addInto(localSensitivity, gnmaxBounds(v));
    }
  }

  // GNSS parameters: given, or minimising RDP + GNSS cost + two standard deviations of the noise.
  const sigmaFor = (beta: number, ss: number): number =>
    settings.sigma ?? (ss > 0 ? smoothSensitivityNoiseScale(beta, ss, order) : Infinity);
  let best: { beta: number; ss: number; sigma: number; cost: number; objective: number } | undefined;
  for (const beta of settings.beta !== undefined ? [settings.beta] : smoothSensitivityBetaGrid(order)) {
    const ss = discountedMax(beta, localSensitivity);
    const sigma = sigmaFor(beta, ss);
    const cost = rdpSmoothSensitivityGaussian(beta, sigma, order);
    const objective = rdpAtOrder + cost + (ss > 0 ? 2 * ss * sigma : 0);
    if (!best || objective < best.objective) best = { beta, ss, sigma, cost, objective };
  }
  const { beta, ss, sigma, cost } = best!;
  const noise = ss > 0 ? ss * sigma * input.rng.normal(0, 1) : 0;
  const expectedEpsilon = rdpAtOrder + cost + Math.log(1 / delta) / (order - 1);
  return {
    asked,
    answered: answeredCount,
    teachers,
    dataIndependent,
    dataDependentUnsanitised,
    sanitised: {
      epsilon: expectedEpsilon + noise,
      order,
      smoothSensitivity: ss,
      beta,
      sigma,
      noise,
      sanitisationEpsilonCost: cost,
      expectedEpsilon,
      parametersFromPrivateData,
      method: 'smooth-sensitivity',
    },
  };
}

/**
 * True if GNMax's data-dependent bound at this order equals the data-independent one even for a
 * unanimous histogram, hence for all (their `is_data_independent_always_opt_gaussian`, numpy's
 * isclose: |a - b| <= 1e-8 + 1e-5 |b|).
 */
export function gnmaxAlwaysDataIndependent(teachers: number, classes: number, sigma: number, order: number): boolean {
  const unanimous = new Float64Array(classes);
  unanimous[0] = teachers;
  const dependent = rdpGnmaxFromLogQ(gnmaxLogProbabilityNotPlurality(unanimous, sigma), sigma, [order])[0]!;
  return isClose(dependent, order / sigma ** 2);
}

/**
 * True if the threshold check's data-dependent bound at this order equals the data-independent
 * one at both extremes of the max count, 0 and all teachers (their
 * `is_data_independent_always_opt_threshold`).
 */
export function thresholdAlwaysDataIndependent(teachers: number, threshold: number, sigma1: number, order: number): boolean {
  const independent = gaussianRdpAt(order, sigma1);
  return [0, teachers].every((top) => {
    const logAnswered = confidentThresholdLogProbabilityAnswered([top, 0], threshold, sigma1);
    return isClose(rdpConfidentThresholdFromLogProbabilityAnswered(logAnswered, sigma1, [order])[0]!, independent);
  });
}

function isClose(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-8 + 1e-5 * Math.abs(b);
}

function addInto(target: Float64Array, values: ArrayLike<number>): void {
  for (let k = 0; k < target.length; k++) target[k]! += values[k]!;
}

interface CheckedReleaseInput {
  votes: Float64Array;
  classes: number;
  asked: number;
  answered: Uint8Array;
  answeredCount: number;
  teachers: number;
  orders: readonly number[];
  delta: number;
}

function validateReleaseInput(input: ReleaseAnalysisInput): CheckedReleaseInput {
  const what = 'analyseRelease';
  if (!input || typeof input !== 'object') throw new RangeError(`${what}: input must be an object`);
  const { classes, mechanism, delta } = input;
  if (!Number.isSafeInteger(classes) || classes < 2) {
    throw new RangeError(`${what}: classes must be an integer >= 2, got ${String(classes)}`);
  }
  if (!input.votes || typeof input.votes.length !== 'number') throw new RangeError(`${what}: votes must be an array of counts`);
  if (input.votes.length % classes !== 0) {
    throw new RangeError(`${what}: votes has length ${input.votes.length}, not a multiple of ${classes} classes`);
  }
  const votes = new Float64Array(input.votes.length);
  for (let k = 0; k < votes.length; k++) {
    const count = input.votes[k];
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(
        `${what}: votes[${k}] (query ${Math.floor(k / classes)}, class ${k % classes}) is ${String(count)}; counts must be integers >= 0`,
      );
    }
    votes[k] = count;
  }
  const asked = votes.length / classes;
  let largestRow = 0;
  for (let i = 0; i < asked; i++) {
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += votes[i * classes + j]!;
    largestRow = Math.max(largestRow, sum);
  }
  let teachers = largestRow;
  if (input.teachers !== undefined) {
    if (!Number.isSafeInteger(input.teachers) || input.teachers < 1) {
      throw new RangeError(`${what}: teachers must be a positive integer, got ${String(input.teachers)}`);
    }
    if (input.teachers < largestRow) {
      throw new RangeError(`${what}: a query has ${largestRow} votes, more than teachers = ${input.teachers}`);
    }
    teachers = input.teachers;
  }
  if (asked > 0 && teachers < 1) throw new RangeError(`${what}: no query has any vote; cannot tell the number of teachers`);

  if (!mechanism || typeof mechanism !== 'object') throw new RangeError(`${what}: mechanism is required`);
  const positiveFinite = (value: unknown, name: string): void => {
    if (typeof value !== 'number' || !Number.isFinite(value) || !(value > 0)) {
      throw new RangeError(`${what}: ${name} must be a finite number > 0, got ${String(value)}`);
    }
  };
  const answered = new Uint8Array(asked);
  let answeredCount = 0;
  if (mechanism.mechanism === 'gnmax') {
    positiveFinite(mechanism.sigma, 'mechanism.sigma');
    if (input.answered !== undefined) {
      throw new RangeError(`${what}: answered applies to confident-gnmax only (GNMax answers every query)`);
    }
    answered.fill(1);
    answeredCount = asked;
  } else if (mechanism.mechanism === 'confident-gnmax') {
    if (typeof mechanism.threshold !== 'number' || !Number.isFinite(mechanism.threshold)) {
      throw new RangeError(`${what}: mechanism.threshold must be a finite number, got ${String(mechanism.threshold)}`);
    }
    positiveFinite(mechanism.sigma1, 'mechanism.sigma1');
    positiveFinite(mechanism.sigma2, 'mechanism.sigma2');
    if (!input.answered || input.answered.length !== asked) {
      throw new RangeError(
        `${what}: confident-gnmax needs answered (1 or 0 per query) of length ${asked}, got ${input.answered ? `length ${input.answered.length}` : 'none'}`,
      );
    }
    for (let i = 0; i < asked; i++) {
      const flag = input.answered[i];
      if (flag !== 0 && flag !== 1) throw new RangeError(`${what}: answered[${i}] is ${String(flag)}; must be 0 or 1`);
      answered[i] = flag;
      answeredCount += flag;
    }
  } else {
    throw new RangeError(`${what}: unknown mechanism ${String((mechanism as { mechanism?: unknown }).mechanism)}`);
  }
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) {
    throw new RangeError(`${what}: delta must be in (0, 1), got ${String(delta)}`);
  }
  const orders = Array.from(input.orders ?? DEFAULT_ORDERS);
  validateOrders(orders, `${what}: orders`);
  const settings = input.sanitisation;
  if (settings !== undefined) {
    if (typeof settings !== 'object' || settings === null) throw new RangeError(`${what}: sanitisation must be an object`);
    if (settings.order !== undefined && (typeof settings.order !== 'number' || !Number.isFinite(settings.order) || !(settings.order > 1))) {
      throw new RangeError(`${what}: sanitisation.order must be a finite number > 1, got ${String(settings.order)}`);
    }
    if (settings.beta !== undefined) positiveFinite(settings.beta, 'sanitisation.beta');
    if (settings.sigma !== undefined) positiveFinite(settings.sigma, 'sanitisation.sigma');
    if (settings.beta !== undefined && settings.order !== undefined && !(settings.order < 1 / (2 * settings.beta))) {
      throw new RangeError(
        `${what}: sanitisation.order ${settings.order} must be below 1 / (2 sanitisation.beta) = ${1 / (2 * settings.beta)} (Theorem 23)`,
      );
    }
  }
  if (!input.rng || typeof input.rng.normal !== 'function') {
    throw new RangeError(`${what}: rng must be a NormalSource (an object with normal(mean, std))`);
  }
  return { votes, classes, asked, answered, answeredCount, teachers, orders, delta };
}
