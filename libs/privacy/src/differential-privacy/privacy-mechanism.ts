import { DEFAULT_ORDERS, rdpGaussian, rdpGnmaxDataIndependent } from './accountant';
import { clippedSum, clippedSumL2Sensitivity, confidentGnmax, distributedNoiseShare, gnmax, teacherVotes, type NormalSource } from './mechanisms';

/** A private round's mechanism, as the coordinator announces it (libs/protocol's PrivacySpec). */
export type PrivateMechanism = VotingMechanismSpec | { mechanism: 'gaussian'; clipNorm: number; sigma: number };
/** The mechanisms that release teacher votes (and so also have the central release). */
export type VotingMechanismSpec =
  | { mechanism: 'gnmax'; sigma: number }
  | { mechanism: 'confident-gnmax'; threshold: number; sigma1: number; sigma2: number };
export type PrivateMechanismName = PrivateMechanism['mechanism'];

/**
 * The one seam of a private round: everything a mechanism does, wherever it runs. Chosen by name
 * (`privacyMechanism(spec)`); the edge client's core, the coordinator's strategy, its privacy
 * reports and the client's ledger all call it, and nothing else implements these steps.
 *
 *  - `statistic`: the client's clean statistic from its teachers' outputs on the proxy (vote counts,
 *    or clipped probability rows summed). Unnoised: it never leaves the client.
 *  - `noise`: the client's transform: the statistic plus Gaussian noise, one block per noise level
 *    (confident-gnmax: a block with sigma1 for the threshold check, then one with sigma2 for the
 *    answer). With `shares` > 1 (secure aggregation) each client adds only its share
 *    N(0, sigma^2 / shares) (distributedNoiseShare), so the sum of at least `shares` answers carries
 *    the full noise and the coordinator sees nothing less noisy.
 *  - `release`: the coordinator's release from the SUM of the clients' noised statistics
 *    (post-processing: no further cost).
 *  - `roundRdp`: what one client pays, data-independent, per private example (which moves one
 *    teacher), for answering `queries` proxy inputs: the client's ledger and the coordinator's
 *    reports both take it from here.
 *
 * Confident-GNMax comes in two variants, by who holds the votes:
 *  - federated (`release`): the coordinator sees only the noisy histograms the clients summed, so the
 *    threshold test is on the largest NOISY count of the first block, and each client pays for
 *    releasing both whole noisy histograms (it cannot know which queries the sum will answer);
 *  - central (`releaseCentrally`, Papernot et al. 2018, Algorithm 1: one party holds every vote, as in
 *    the privacy-curve script): the largest TRUE count plus N(0, sigma1^2) against the threshold,
 *    then GNMax with sigma2 on the queries that pass; its cost is the threshold check on every
 *    query (alpha / (2 sigma1^2)) plus GNMax on the answered ones, or the data-dependent bounds.
 */
export interface PrivacyMechanism {
  readonly name: PrivateMechanismName;
  /** Values each client sends per proxy input and class (confident-gnmax: two noisy vote vectors). */
  readonly blocks: number;
  /** Whether the teachers' outputs must be probabilities at the round's temperature (gaussian) or only rank classes (votes). */
  readonly needsProbabilities: boolean;
  statistic(teacherOutputs: readonly ArrayLike<number>[], n: number, classes: number): Float64Array;
  noise(clean: ArrayLike<number>, shares: number, rng: NormalSource): Float64Array;
  release(sum: ArrayLike<number>, classes: number): Float32Array;
  roundRdp(queries: number, orders?: readonly number[]): number[];
}

/** A vote-based mechanism (gnmax, confident-gnmax) also has the central release. */
export interface VotingMechanism extends PrivacyMechanism {
  readonly name: VotingMechanismSpec['mechanism'];
  /** One party holding every teacher's votes ([n x C] counts): labels per query, -1 where it abstained. */
  releaseCentrally(votes: ArrayLike<number>, classes: number, rng: NormalSource): Int32Array;
}

export function privacyMechanism(spec: VotingMechanismSpec): VotingMechanism;
export function privacyMechanism(spec: PrivateMechanism): PrivacyMechanism;
export function privacyMechanism(spec: PrivateMechanism): PrivacyMechanism {
  switch (spec.mechanism) {
    case 'gnmax':
      return new GnmaxMechanism(spec.sigma);
    case 'confident-gnmax':
      return new ConfidentGnmaxMechanism(spec.threshold, spec.sigma1, spec.sigma2);
    case 'gaussian':
      return new GaussianSumMechanism(spec.clipNorm, spec.sigma);
    default:
      throw new RangeError(`unknown private mechanism '${String((spec as { mechanism: unknown }).mechanism)}' (known: gnmax, confident-gnmax, gaussian)`);
  }
}

/** GNMax: vote counts plus N(0, sigma^2); the argmax of the sum. alpha / sigma^2 per query (two counts move by 1: L2 sensitivity sqrt 2). */
class GnmaxMechanism implements VotingMechanism {
  readonly name = 'gnmax';
  readonly blocks = 1;
  readonly needsProbabilities = false;
  constructor(private readonly sigma: number) {}

  statistic(teacherOutputs: readonly ArrayLike<number>[], n: number, classes: number): Float64Array {
    return teacherVotes(teacherOutputs, n, classes);
  }

  noise(clean: ArrayLike<number>, shares: number, rng: NormalSource): Float64Array {
    return noisedBlocks(clean, [this.sigma], shares, rng);
  }

  release(sum: ArrayLike<number>, classes: number): Float32Array {
    const out = new Float32Array(blockLength(sum, this.blocks, classes));
    for (let row = 0; row < out.length; row += classes) out[row + largest(sum, row, classes).index] = 1;
    return out;
  }

  releaseCentrally(votes: ArrayLike<number>, classes: number, rng: NormalSource): Int32Array {
    return gnmax(votes, classes, this.sigma, rng).labels;
  }

  roundRdp(queries: number, orders: readonly number[] = DEFAULT_ORDERS): number[] {
    return rdpGnmaxDataIndependent(this.sigma, orders).map((r) => r * queries);
  }
}

/**
 * Confident-GNMax in a federation: two noisy vote blocks; a query is answered (one-hot from the
 * second block) only where the first block's largest noisy count reaches the threshold, other
 * rows stay all-zero. Each client pays for both whole noisy histograms on every query
 * (alpha / sigma1^2 + alpha / sigma2^2): the coordinator sees them, not only the labels.
 */
class ConfidentGnmaxMechanism implements VotingMechanism {
  readonly name = 'confident-gnmax';
  readonly blocks = 2;
  readonly needsProbabilities = false;
  constructor(
    private readonly threshold: number,
    private readonly sigma1: number,
    private readonly sigma2: number,
  ) {}

  statistic(teacherOutputs: readonly ArrayLike<number>[], n: number, classes: number): Float64Array {
    return teacherVotes(teacherOutputs, n, classes);
  }

  noise(clean: ArrayLike<number>, shares: number, rng: NormalSource): Float64Array {
    return noisedBlocks(clean, [this.sigma1, this.sigma2], shares, rng);
  }

  release(sum: ArrayLike<number>, classes: number): Float32Array {
    const length = blockLength(sum, this.blocks, classes);
    const out = new Float32Array(length);
    for (let row = 0; row < length; row += classes) {
      if (largest(sum, row, classes).value < this.threshold) continue;
      out[row + largest(sum, length + row, classes).index] = 1;
    }
    return out;
  }

  /** Papernot et al. 2018, Algorithm 1 (libs/privacy's confidentGnmax). */
  releaseCentrally(votes: ArrayLike<number>, classes: number, rng: NormalSource): Int32Array {
    return confidentGnmax(votes, classes, { threshold: this.threshold, sigma1: this.sigma1, sigma2: this.sigma2 }, rng).labels;
  }

  roundRdp(queries: number, orders: readonly number[] = DEFAULT_ORDERS): number[] {
    const check = rdpGnmaxDataIndependent(this.sigma1, orders);
    return rdpGnmaxDataIndependent(this.sigma2, orders).map((r, i) => (r + check[i]) * queries);
  }
}

/**
 * The Gaussian sum: each teacher's probability row clipped to L2 norm clipNorm, summed, plus
 * N(0, sigma^2); the coordinator clamps the noisy sum at 0 and renormalises it (uniform where
 * nothing is left). One teacher's clipped row changes by at most sqrt(2) x clipNorm in L2
 * (clippedSumL2Sensitivity: non-negative rows).
 */
class GaussianSumMechanism implements PrivacyMechanism {
  readonly name = 'gaussian';
  readonly blocks = 1;
  readonly needsProbabilities = true;
  constructor(
    private readonly clipNorm: number,
    private readonly sigma: number,
  ) {}

  statistic(teacherOutputs: readonly ArrayLike<number>[], n: number, classes: number): Float64Array {
    return clippedSum(teacherOutputs, n, classes, this.clipNorm);
  }

  noise(clean: ArrayLike<number>, shares: number, rng: NormalSource): Float64Array {
    return noisedBlocks(clean, [this.sigma], shares, rng);
  }

  release(sum: ArrayLike<number>, classes: number): Float32Array {
    const out = new Float32Array(blockLength(sum, this.blocks, classes));
    for (let row = 0; row < out.length; row += classes) {
      let total = 0;
      for (let c = 0; c < classes; c++) total += Math.max(0, sum[row + c]);
      for (let c = 0; c < classes; c++) out[row + c] = total > 0 ? Math.max(0, sum[row + c]) / total : 1 / classes;
    }
    return out;
  }

  roundRdp(queries: number, orders: readonly number[] = DEFAULT_ORDERS): number[] {
    return rdpGaussian(this.sigma / clippedSumL2Sensitivity(this.clipNorm), orders).map((r) => r * queries);
  }
}

/** `clean` once per noise level, each copy plus (a share of) N(0, sigma^2). */
function noisedBlocks(clean: ArrayLike<number>, sigmas: number[], shares: number, rng: NormalSource): Float64Array {
  const length = clean.length;
  const out = new Float64Array(sigmas.length * length);
  sigmas.forEach((sigma, block) => {
    const noise = distributedNoiseShare(length, sigma, shares, rng);
    for (let i = 0; i < length; i++) out[block * length + i] = clean[i] + noise[i];
  });
  return out;
}

/** The length of one block of a summed statistic, refusing sums that are not whole blocks of rows. */
function blockLength(sum: ArrayLike<number>, blocks: number, classes: number): number {
  const length = sum.length / blocks;
  if (!Number.isInteger(length) || length % classes !== 0) {
    throw new RangeError(`the private release: ${sum.length} values are not ${blocks} block(s) of rows of ${classes} classes`);
  }
  return length;
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
