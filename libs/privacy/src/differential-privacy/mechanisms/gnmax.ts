import { assertSigma, rowCount, type NormalSource } from './normal-source';

/**
 * PATE's Gaussian NoisyMax (Papernot et al. 2018, "Scalable private learning with PATE"): to
 * every vote count add independent N(0, sigma^2) noise and answer the argmax, query by query.
 *
 * Only the labels are returned, never the noisy counts: the data-dependent RDP bounds of that
 * paper hold for the argmax alone. (The data-independent bound, lambda / sigma^2 per query at
 * order lambda, would also cover the noisy histogram, which is what a coordinator sees under
 * secure aggregation with distributed noise.)
 *
 * `votes` is a flat [n x classes] matrix (see `teacherVotes`). Ties among noisy counts (possible
 * only with sigma = 0) go to the lowest class index. sigma = 0 is the noise-free baseline.
 */
export interface GnmaxResult {
  labels: Int32Array;
}

export function gnmax(votes: ArrayLike<number>, classes: number, sigma: number, rng: NormalSource): GnmaxResult {
  assertSigma(sigma);
  const n = rowCount(votes, classes, 'gnmax: votes');
  assertFiniteVotes(votes, 'gnmax');
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = noisyArgmax(votes, i * classes, classes, sigma, rng);
  return { labels };
}

export interface ConfidentGnmaxParameters {
  /** T: answer a query only if its noisy top count reaches T. */
  threshold: number;
  /** sigma1: noise of the threshold check on the top count. */
  sigma1: number;
  /** sigma2: noise of GNMax on the answered queries. */
  sigma2: number;
}

export interface ConfidentGnmaxResult {
  /** 1 where the query was answered, 0 where the ensemble abstained. */
  answered: Uint8Array;
  /** The noisy argmax where answered, -1 elsewhere. */
  labels: Int32Array;
}

/**
 * Confident-GNMax (Papernot et al. 2018, Algorithm 1): answer query i only if
 * max_j votes[i][j] + N(0, sigma1^2) >= threshold, then label it by GNMax with a fresh
 * N(0, sigma2^2) per count.
 *
 * Accounting: the threshold check is spent on every query (the top count has sensitivity 1: a
 * Gaussian mechanism with noise sigma1), GNMax with sigma2 only on the answered ones. Which
 * queries were answered is itself part of the release.
 */
export function confidentGnmax(
  votes: ArrayLike<number>,
  classes: number,
  parameters: ConfidentGnmaxParameters,
  rng: NormalSource,
): ConfidentGnmaxResult {
  const { threshold, sigma1, sigma2 } = parameters;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
    throw new RangeError(`confidentGnmax: threshold must be a finite number, got ${String(threshold)}`);
  }
  assertSigma(sigma1, 'sigma1');
  assertSigma(sigma2, 'sigma2');
  const n = rowCount(votes, classes, 'confidentGnmax: votes');
  assertFiniteVotes(votes, 'confidentGnmax');
  const answered = new Uint8Array(n);
  const labels = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const base = i * classes;
    let top = -Infinity;
    for (let c = 0; c < classes; c++) top = Math.max(top, votes[base + c]);
    const noisyTop = sigma1 === 0 ? top : top + rng.normal(0, sigma1);
    if (noisyTop >= threshold) {
      answered[i] = 1;
      labels[i] = noisyArgmax(votes, base, classes, sigma2, rng);
    }
  }
  return { answered, labels };
}

function noisyArgmax(votes: ArrayLike<number>, base: number, classes: number, sigma: number, rng: NormalSource): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let c = 0; c < classes; c++) {
    const noisy = sigma === 0 ? votes[base + c] : votes[base + c] + rng.normal(0, sigma);
    if (noisy > bestValue) {
      bestValue = noisy;
      best = c;
    }
  }
  return best;
}

function assertFiniteVotes(votes: ArrayLike<number>, what: string): void {
  for (let k = 0; k < votes.length; k++) {
    if (!Number.isFinite(votes[k])) throw new RangeError(`${what}: vote count ${k} is ${votes[k]}; counts must be finite`);
  }
}
