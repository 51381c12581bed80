import type { Partition } from './partitioner';

/** A histogram scaled to sum to 1 (all zeros stays all zeros). */
export function normalizeHistogram(histogram: readonly number[]): number[] {
  const total = histogram.reduce((a, b) => a + b, 0);
  return histogram.map((x) => (total > 0 ? x / total : 0));
}

/** Total-variation distance between two distributions over the same classes: half the L1 distance, in [0, 1]. */
export function totalVariationDistance(p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length) throw new RangeError(`distributions differ in length (${p.length} vs ${q.length})`);
  let sum = 0;
  for (let c = 0; c < p.length; c++) sum += Math.abs(p[c] - q[c]);
  return sum / 2;
}

export interface PartitionSummary {
  /** Samples per client. */
  sizes: number[];
  /** Classes with at least one sample, per client. */
  classesPerClient: number[];
  /** Each client's total-variation distance between its label distribution and the pooled one. */
  totalVariation: number[];
  /** Mean and max of totalVariation over non-empty clients (0 = iid-like, 1 = disjoint classes). */
  meanTotalVariation: number;
  maxTotalVariation: number;
}

/** How heterogeneous a partition is, from its histograms (the pooled distribution is their sum). */
export function summarizePartition(partition: Pick<Partition, 'histograms'>): PartitionSummary {
  const { histograms } = partition;
  const classes = histograms[0]?.length ?? 0;
  const pooled = new Array<number>(classes).fill(0);
  for (const h of histograms) h.forEach((x, c) => (pooled[c] += x));
  const global = normalizeHistogram(pooled);
  const sizes = histograms.map((h) => h.reduce((a, b) => a + b, 0));
  const totalVariation = histograms.map((h, j) => (sizes[j] > 0 ? totalVariationDistance(normalizeHistogram(h), global) : 0));
  const nonEmpty = totalVariation.filter((_, j) => sizes[j] > 0);
  return {
    sizes,
    classesPerClient: histograms.map((h) => h.filter((x) => x > 0).length),
    totalVariation,
    meanTotalVariation: nonEmpty.length ? nonEmpty.reduce((a, b) => a + b, 0) / nonEmpty.length : 0,
    maxTotalVariation: nonEmpty.reduce((a, b) => Math.max(a, b), 0),
  };
}
