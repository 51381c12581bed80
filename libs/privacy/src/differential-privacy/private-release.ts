import { confidentGnmax, distributedNoiseShare, gnmax, type NormalSource } from './mechanisms';
import { privateValuesPerEntry, type PrivateMechanism } from './round-cost';

/**
 * The two halves of a private round that production runs, one implementation each (their RDP
 * cost is `privateRoundRdp`, beside them in round-cost.ts):
 *
 *  - the client's transform, `noisePrivateStatistic`: its clean statistic (teacher vote counts, or
 *    clipped probability rows summed) plus Gaussian noise, one block per noise level (gnmax and
 *    gaussian: sigma; confident-gnmax: a block with sigma1 for the threshold check, then one with
 *    sigma2 for the answer). With `shares` > 1 (secure aggregation) each client adds only its share,
 *    N(0, sigma^2 / shares) (distributedNoiseShare), so that the sum of at least `shares` answers
 *    carries the full noise and the coordinator sees nothing less noisy;
 *  - the coordinator's release from the SUM of the clients' noised statistics,
 *    `releaseFromNoisySum` (post-processing: no further cost).
 *
 * Confident-GNMax comes in two variants, by who holds the votes:
 *  - federated (this file's release): the coordinator sees only the noisy histogram the clients
 *    summed, so the threshold test is on the largest NOISY count of the first block; the client is
 *    charged for releasing that whole noisy histogram (privateRoundRdp);
 *  - central (Papernot et al. 2018, Algorithm 1, one party holding every vote, as the
 *    privacy-curve script does): `releaseCentrally`, the largest TRUE count plus N(0, sigma1^2)
 *    against the threshold, then GNMax with sigma2 on the queries that pass (libs/privacy's
 *    confidentGnmax).
 */

/** The client's noised statistic: `clean` ([n x C]) plus its (share of the) noise, `privateValuesPerEntry(spec)` blocks. */
export function noisePrivateStatistic(spec: PrivateMechanism, clean: ArrayLike<number>, shares: number, rng: NormalSource): Float64Array {
  const length = clean.length;
  const blocks = privateValuesPerEntry(spec);
  const sigmas = spec.mechanism === 'confident-gnmax' ? [spec.sigma1, spec.sigma2] : [spec.sigma];
  const out = new Float64Array(blocks * length);
  sigmas.forEach((sigma, block) => {
    const noise = distributedNoiseShare(length, sigma, shares, rng);
    for (let i = 0; i < length; i++) out[block * length + i] = clean[i] + noise[i];
  });
  return out;
}

/**
 * What the coordinator releases from the summed noisy statistics (`privateValuesPerEntry(spec)`
 * blocks of [n x C]): gnmax, a one-hot argmax per query; confident-gnmax, the same from the
 * second block, only where the first block's largest noisy count reaches the threshold (other rows
 * stay all-zero: not answered); gaussian, the noisy sum of clipped probabilities, clamped at 0 and
 * renormalised (uniform where nothing is left).
 */
export function releaseFromNoisySum(spec: PrivateMechanism, sum: ArrayLike<number>, classes: number): Float32Array {
  const length = sum.length / privateValuesPerEntry(spec);
  if (!Number.isInteger(length) || length % classes !== 0) {
    throw new RangeError(`releaseFromNoisySum: ${sum.length} values are not ${privateValuesPerEntry(spec)} block(s) of rows of ${classes} classes`);
  }
  const out = new Float32Array(length);
  for (let row = 0; row < length; row += classes) {
    if (spec.mechanism === 'gaussian') {
      let total = 0;
      for (let c = 0; c < classes; c++) total += Math.max(0, sum[row + c]);
      for (let c = 0; c < classes; c++) out[row + c] = total > 0 ? Math.max(0, sum[row + c]) / total : 1 / classes;
      continue;
    }
    if (spec.mechanism === 'confident-gnmax' && largest(sum, row, classes).value < spec.threshold) continue;
    const answerBase = spec.mechanism === 'confident-gnmax' ? length + row : row;
    out[row + largest(sum, answerBase, classes).index] = 1;
  }
  return out;
}

/**
 * One party holding every teacher's votes ([n x C] counts): GNMax, or Confident-GNMax exactly as
 * Papernot et al. 2018, Algorithm 1. Labels per query (-1 where Confident-GNMax abstained).
 */
export function releaseCentrally(spec: Exclude<PrivateMechanism, { mechanism: 'gaussian' }>, votes: ArrayLike<number>, classes: number, rng: NormalSource): Int32Array {
  if (spec.mechanism === 'gnmax') return gnmax(votes, classes, spec.sigma, rng).labels;
  return confidentGnmax(votes, classes, { threshold: spec.threshold, sigma1: spec.sigma1, sigma2: spec.sigma2 }, rng).labels;
}

/** The largest of `classes` values from `base` (the first one on ties) and where it is. */
function largest(values: ArrayLike<number>, base: number, classes: number): { value: number; index: number } {
  let index = 0;
  let value = -Infinity;
  for (let c = 0; c < classes; c++) {
    if (values[base + c] > value) {
      value = values[base + c];
      index = c;
    }
  }
  return { value, index };
}
