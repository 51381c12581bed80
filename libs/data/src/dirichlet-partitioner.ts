import { SeededRng } from '@fedkd/engine';
import { indicesByClass } from './dataset';
import { finishPartition, validatePartitionArgs, type Partition, type Partitioner } from './partitioner';

export interface DirichletOptions {
  /**
   * Every client gets at least this many samples. Default: min(10, floor(samples / clients)),
   * the threshold of the common FL benchmarks (NIID-Bench, Li et al. 2022).
   */
  minSamplesPerClient?: number;
  /** Full re-draws before falling back to the repair step. Default 100. */
  maxAttempts?: number;
}

/** A Dirichlet partition, with how it was obtained (for logs). */
export interface DirichletPartition extends Partition {
  /** Full draws made (1 when the first draw met the minimum). */
  attempts: number;
  /** Samples moved by the repair step (0 unless every draw left some client under the minimum). */
  repairedSamples: number;
}

export const DIRICHLET_DEFAULT_MIN_SAMPLES = 10;
export const DIRICHLET_DEFAULT_MAX_ATTEMPTS = 100;

/**
 * Label-skewed partition (Hsu et al. 2019; NIID-Bench): for each class independently, draw the
 * clients' proportions p ~ Dirichlet(alpha, ..., alpha) and cut that class's (shuffled) samples
 * at the rounded cumulative proportions. Small alpha (0.1) gives each client a few dominant
 * classes and very unequal sizes; large alpha (100) approaches the iid split.
 *
 * Minimum size: as in NIID-Bench, the whole draw is repeated while some client has fewer than
 * `minSamplesPerClient` samples, at most `maxAttempts` times. If no draw qualifies (many
 * clients with a small alpha), the draw with the largest minimum is repaired: while a client is
 * under the minimum, one random sample of the currently largest client moves to it. This always
 * terminates (the minimum times the clients never exceeds the samples) and changes the skew
 * only slightly; `attempts` and `repairedSamples` in the result say what happened.
 */
export class DirichletPartitioner implements Partitioner {
  readonly spec: { name: 'dirichlet'; alpha: number; minSamplesPerClient?: number };
  private readonly minSamples: number | undefined;
  private readonly maxAttempts: number;

  constructor(
    readonly alpha: number,
    options: DirichletOptions = {},
  ) {
    if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) {
      throw new RangeError(`alpha must be a finite number > 0, got ${alpha}`);
    }
    const { minSamplesPerClient, maxAttempts = DIRICHLET_DEFAULT_MAX_ATTEMPTS } = options;
    if (minSamplesPerClient !== undefined && (!Number.isInteger(minSamplesPerClient) || minSamplesPerClient < 0)) {
      throw new RangeError(`minSamplesPerClient must be a non-negative integer, got ${minSamplesPerClient}`);
    }
    if (!Number.isInteger(maxAttempts) || maxAttempts <= 0) {
      throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
    }
    this.minSamples = minSamplesPerClient;
    this.maxAttempts = maxAttempts;
    this.spec =
      minSamplesPerClient === undefined ? { name: 'dirichlet', alpha } : { name: 'dirichlet', alpha, minSamplesPerClient };
  }

  partition(labels: ArrayLike<number>, clients: number, seed: number, classes?: number): DirichletPartition {
    const width = validatePartitionArgs(labels, clients, seed, classes);
    const n = labels.length;
    const minSamples = this.minSamples ?? Math.min(DIRICHLET_DEFAULT_MIN_SAMPLES, Math.floor(n / clients));
    if (minSamples * clients > n) {
      throw new RangeError(
        `minSamplesPerClient (${minSamples}) x clients (${clients}) = ${minSamples * clients} exceeds samples (${n})`,
      );
    }
    const rng = new SeededRng(seed).fork('partition');
    const byClass = indicesByClass(labels, width);

    let best: number[][] | null = null;
    let bestMin = -1;
    let attempts = 0;
    while (attempts < this.maxAttempts && bestMin < minSamples) {
      attempts++;
      const counts = this.drawCounts(byClass, clients, rng);
      const smallest = clientTotals(counts).reduce((a, b) => Math.min(a, b), Infinity);
      if (smallest > bestMin) {
        best = counts;
        bestMin = smallest;
      }
    }
    const counts = best as number[][];
    const repairedSamples = bestMin < minSamples ? repair(counts, minSamples, rng) : 0;

    // counts[c][j] -> consecutive blocks of class c's shuffled samples.
    const shares = Array.from({ length: clients }, (_, j) => new Int32Array(counts.reduce((a, row) => a + row[j], 0)));
    const filled = new Array<number>(clients).fill(0);
    byClass.forEach((members, c) => {
      rng.shuffle(members);
      let taken = 0;
      for (let j = 0; j < clients; j++) {
        for (let k = 0; k < counts[c][j]; k++) shares[j][filled[j]++] = members[taken++];
      }
    });
    return { ...finishPartition(shares, labels, width), attempts, repairedSamples };
  }

  /** counts[c][j]: how many samples of class c client j gets, for one draw. */
  private drawCounts(byClass: Int32Array[], clients: number, rng: SeededRng): number[][] {
    return byClass.map((members) => {
      const total = members.length;
      const proportions = rng.dirichlet(this.alpha, clients);
      const row = new Array<number>(clients);
      let cumulative = 0;
      let previous = 0;
      for (let j = 0; j < clients; j++) {
        cumulative += proportions[j];
        const end = j === clients - 1 ? total : Math.min(total, Math.round(cumulative * total));
        row[j] = end - previous;
        previous = end;
      }
      return row;
    });
  }
}

function clientTotals(counts: number[][]): number[] {
  const totals = new Array<number>(counts[0]?.length ?? 0).fill(0);
  for (const row of counts) row.forEach((x, j) => (totals[j] += x));
  return totals;
}

/** Moves single random samples from the largest client to the smallest until all reach minSamples. */
function repair(counts: number[][], minSamples: number, rng: SeededRng): number {
  const totals = clientTotals(counts);
  let moved = 0;
  for (;;) {
    let small = 0;
    let large = 0;
    totals.forEach((t, j) => {
      if (t < totals[small]) small = j;
      if (t > totals[large]) large = j;
    });
    if (totals[small] >= minSamples) return moved;
    // Some client is under the minimum and minSamples * clients <= samples, so the largest
    // client holds more than minSamples and stays at or above it after giving one away.
    let pick = rng.int(totals[large]);
    let c = 0;
    while (pick >= counts[c][large]) pick -= counts[c++][large];
    counts[c][large]--;
    counts[c][small]++;
    totals[large]--;
    totals[small]++;
    moved++;
  }
}
