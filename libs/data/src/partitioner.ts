import { assertIntegerSeed } from '@fedkd/engine';

/** The partitioners fedkd knows, by the name used in configs and on the command line. */
export const PARTITIONER_NAMES = ['iid', 'dirichlet', 'shards'] as const;
export type PartitionerName = (typeof PARTITIONER_NAMES)[number];

/** A partitioner as plain, JSON-serialisable data (what a config or a round spec carries). */
export type PartitionerSpec =
  | { name: 'iid' }
  | {
      name: 'dirichlet';
      /** Concentration: small (0.1) = each client sees few classes; large (100) = close to iid. */
      alpha: number;
      /** Every client gets at least this many samples (default min(10, floor(samples / clients))). */
      minSamplesPerClient?: number;
    }
  | { name: 'shards'; shardsPerClient: number };

/** Per-client sample indices and their label histograms. */
export interface Partition {
  /** clients[j]: indices into the partitioned labels array, ascending; every index appears in exactly one client. */
  clients: Int32Array[];
  /** histograms[j][c]: how many of client j's samples have label c. */
  histograms: number[][];
}

/**
 * The `Partitioner` seam of DESIGN.md: labels, client count and randomness -> per-client indices.
 *
 * Randomness is an integer seed, not a generator: a partition is then a pure function of
 * (spec, labels, clients, seed), so every edge client can recompute the whole partition locally
 * and take its own share, and the result never depends on how much of some shared stream was
 * consumed before. Internally each call draws from `new SeededRng(seed).fork('partition')`,
 * so the run seed can be passed as it is.
 */
export interface Partitioner {
  readonly spec: PartitionerSpec;
  /**
   * @param labels  class id of every sample, integers in [0, classes)
   * @param clients number of clients, a positive integer not above labels.length
   * @param seed    non-negative safe integer
   * @param classes number of classes (default: largest label + 1); fixes the histograms' width
   */
  partition(labels: ArrayLike<number>, clients: number, seed: number, classes?: number): Partition;
}

/**
 * Checks the arguments every partitioner takes and returns the number of classes.
 * Errors name the offending argument.
 */
export function validatePartitionArgs(
  labels: ArrayLike<number>,
  clients: number,
  seed: number,
  classes?: number,
): number {
  assertIntegerSeed(seed);
  if (!Number.isInteger(clients) || clients <= 0) {
    throw new RangeError(`clients must be a positive integer, got ${clients}`);
  }
  const n = labels.length;
  if (clients > n) throw new RangeError(`clients (${clients}) exceeds samples (${n})`);
  if (classes !== undefined && (!Number.isInteger(classes) || classes <= 0)) {
    throw new RangeError(`classes must be a positive integer, got ${classes}`);
  }
  let width = classes ?? 0;
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || (classes !== undefined && label >= classes)) {
      const range = classes !== undefined ? `[0, ${classes})` : '[0, infinity)';
      throw new RangeError(`labels[${i}] must be an integer in ${range}, got ${label}`);
    }
    if (classes === undefined && label + 1 > width) width = label + 1;
  }
  return width;
}

/** Sorts each client's indices ascending (in place) and counts their labels. */
export function finishPartition(clients: Int32Array[], labels: ArrayLike<number>, classes: number): Partition {
  const histograms = clients.map((indices) => {
    indices.sort();
    const histogram = new Array<number>(classes).fill(0);
    for (let k = 0; k < indices.length; k++) histogram[labels[indices[k]]]++;
    return histogram;
  });
  return { clients, histograms };
}
