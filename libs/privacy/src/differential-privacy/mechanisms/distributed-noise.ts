import { assertSigma, type NormalSource } from './normal-source';

/**
 * Distributed Gaussian noise for secure aggregation: the coordinator only sees the sum of the
 * clients' inputs, so instead of one party adding N(0, sigma^2) to the sum, each of k clients adds
 * an independent N(0, sigma^2 / k) to its own input, and the sum carries N(0, sigma^2).
 *
 * Assumptions and limits (say them where this is configured):
 * - Honest clients. A client that skips its share, or colludes with the coordinator and reveals
 *   it, takes its share out of the sum: with t such clients the sum carries only
 *   (k - t) / k * sigma^2. To tolerate t colluders, size the shares for (survivors - t).
 * - Dropouts. If only s < k clients' inputs reach the sum, it carries s / k * sigma^2: less
 *   noise than the accountant was told. Size the shares for the minimum number of contributors
 *   the round can complete with (the secure-aggregation threshold or the round's minimum
 *   clients): `shareVarianceFor(sigma, minimumContributors)`. With more contributors the sum is
 *   noisier than needed (a utility cost, never a privacy one).
 * - A single client's noised input is NOT differentially private at level sigma on its own
 *   (its noise has variance sigma^2 / k): without secure aggregation use the full sigma.
 * - Each client adds its share before fixed-point encoding, and the encoding's range must hold
 *   the noised values. Clamping each client's noised value into the range is not covered by the
 *   post-processing argument (the sum of clamped values is not a function of the noised sum);
 *   widen the range by several share standard deviations instead.
 */

/** Variance each client's share must have so that any `minimumContributors` shares sum to variance sigma^2. */
export function shareVarianceFor(sigma: number, minimumContributors: number): number {
  assertSigma(sigma);
  assertContributors(minimumContributors, 'minimumContributors');
  return (sigma * sigma) / minimumContributors;
}

/**
 * One client's noise share: `length` independent draws of N(0, sigma^2 / clients), to be added to
 * its input before masking. Pass as `clients` the minimum number of contributors the sum must be
 * private with (see above), not the number invited.
 */
export function distributedNoiseShare(length: number, sigma: number, clients: number, rng: NormalSource): Float64Array {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`distributedNoiseShare: length must be a non-negative integer, got ${String(length)}`);
  }
  const std = Math.sqrt(shareVarianceFor(sigma, clients));
  const share = new Float64Array(length);
  if (std === 0) return share;
  for (let k = 0; k < length; k++) share[k] = rng.normal(0, std);
  return share;
}

function assertContributors(k: number, name: string): void {
  if (!Number.isSafeInteger(k) || k < 1) throw new RangeError(`${name} must be a positive integer, got ${String(k)}`);
}
