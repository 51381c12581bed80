import { SeededRng, assertIntegerSeed } from '@fedkd/engine';
import { classCounts, indicesByClass, subset, type Dataset } from './dataset';
import { loadMnist } from './mnist-dataset';

/** Sizes of the embedded split of DESIGN.md (they cover the package's 10,000 digits). */
export const EMBEDDED_SPLIT_SIZES = { test: 2_000, publicProxy: 2_000, privatePool: 6_000 } as const;

export interface SplitPart {
  /** Indices into the full dataset (`loadMnist()`), in a seeded random order. */
  indices: Int32Array;
  /** A copy of those samples, in the same order as `indices`. */
  dataset: Dataset;
}

export interface EmbeddedSplit {
  seed: number;
  /** 2,000 digits; only the coordinator's evaluation uses their labels. */
  test: SplitPart;
  /** 2,000 digits every participant holds; unlabelled for the federation (proxy inputs). */
  publicProxy: SplitPart;
  /** 6,000 digits to partition across clients. */
  privatePool: SplitPart;
}

/**
 * The seeded, deterministic split of the embedded `mnist` digits into test (2,000), public proxy
 * (2,000) and private pool (6,000), stratified by label. The same seed gives the same split on
 * every machine; the three parts are disjoint and together cover all 10,000 digits.
 */
export function splitEmbedded(seed = 0): EmbeddedSplit {
  assertIntegerSeed(seed);
  const full = loadMnist();
  const { test, publicProxy, privatePool } = EMBEDDED_SPLIT_SIZES;
  const [testIdx, publicIdx, privateIdx] = stratifiedSplit(full.labels, [test, publicProxy, privatePool], seed);
  const part = (indices: Int32Array): SplitPart => ({ indices, dataset: subset(full, indices) });
  return { seed, test: part(testIdx), publicProxy: part(publicIdx), privatePool: part(privateIdx) };
}

/**
 * Splits 0..labels.length-1 into parts of the given sizes (which must sum to labels.length),
 * stratified by label: every part gets each class in (as nearly as integers allow) the class's
 * share of the whole. Part s takes, per class, its share of what earlier parts left
 * (largest-remainder rounding, ties to the lower class id); the last part takes the rest.
 * Each part's indices come back in a seeded random order, so any prefix is a random sample.
 *
 * Randomness: `new SeededRng(seed).fork('stratified-split')`.
 */
export function stratifiedSplit(labels: ArrayLike<number>, sizes: readonly number[], seed: number): Int32Array[] {
  assertIntegerSeed(seed);
  const n = labels.length;
  if (sizes.length === 0) throw new RangeError('sizes must not be empty');
  sizes.forEach((size, s) => {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`sizes[${s}] must be a non-negative integer, got ${size}`);
  });
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== n) throw new RangeError(`sizes must sum to the number of labels (${n}), got ${total}`);

  let classes = 0;
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0) throw new RangeError(`labels[${i}] must be a non-negative integer, got ${label}`);
    if (label + 1 > classes) classes = label + 1;
  }
  const rng = new SeededRng(seed).fork('stratified-split');
  const byClass = indicesByClass(labels, classes);
  for (const members of byClass) rng.shuffle(members);

  // quotas[s][c]: how many of class c go to part s.
  const remaining = classCounts(labels, classes);
  let remainingTotal = n;
  const quotas: number[][] = [];
  for (let s = 0; s < sizes.length; s++) {
    const quota = s === sizes.length - 1 ? remaining.slice() : apportion(remaining, remainingTotal, sizes[s]);
    quota.forEach((q, c) => (remaining[c] -= q));
    remainingTotal -= sizes[s];
    quotas.push(quota);
  }

  const parts = sizes.map((size) => new Int32Array(size));
  const filled = new Array<number>(sizes.length).fill(0);
  for (let c = 0; c < classes; c++) {
    let taken = 0;
    for (let s = 0; s < sizes.length; s++) {
      for (let k = 0; k < quotas[s][c]; k++) parts[s][filled[s]++] = byClass[c][taken++];
    }
  }
  for (const part of parts) rng.shuffle(part);
  return parts;
}

/** Integer shares of `size` proportional to `available` (summing to `total`), each <= available. */
function apportion(available: number[], total: number, size: number): number[] {
  if (total === 0) return available.map(() => 0);
  const ideal = available.map((a) => (a * size) / total);
  const quota = ideal.map(Math.floor);
  let left = size - quota.reduce((a, b) => a + b, 0);
  const order = ideal
    .map((x, c) => ({ c, frac: x - Math.floor(x) }))
    .sort((a, b) => b.frac - a.frac || a.c - b.c);
  for (const { c } of order) {
    if (left === 0) break;
    if (quota[c] < available[c]) {
      quota[c]++;
      left--;
    }
  }
  return quota;
}
