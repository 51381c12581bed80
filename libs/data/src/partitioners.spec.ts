import { describe, expect, it } from 'vitest';
import { classCounts } from './dataset';
import { DirichletPartitioner } from './dirichlet-partitioner';
import { splitEmbedded } from './embedded-split';
import { IidPartitioner } from './iid-partitioner';
import { summarizePartition } from './partition-statistics';
import type { Partition, Partitioner } from './partitioner';
import { ShardPartitioner } from './shard-partitioner';

/** The 6,000 labels of the private pool of the default split: what the partitioners really cut. */
const pool = splitEmbedded(0).privatePool.dataset.labels;

const partitioners: Array<[string, () => Partitioner]> = [
  ['iid', () => new IidPartitioner()],
  ['dirichlet(0.1)', () => new DirichletPartitioner(0.1)],
  ['dirichlet(1)', () => new DirichletPartitioner(1)],
  ['dirichlet(100)', () => new DirichletPartitioner(100)],
  ['shards(2)', () => new ShardPartitioner(2)],
];

function expectExactCover(partition: Partition, labels: ArrayLike<number>, clients: number): void {
  expect(partition.clients.length).toBe(clients);
  expect(partition.histograms.length).toBe(clients);
  const seen = new Uint8Array(labels.length);
  partition.clients.forEach((indices, j) => {
    expect(indices).toBeInstanceOf(Int32Array);
    for (let k = 1; k < indices.length; k++) expect(indices[k]).toBeGreaterThan(indices[k - 1]);
    for (const i of indices) seen[i]++;
    expect(partition.histograms[j]).toEqual(classCounts(labels, 10, indices));
  });
  expect(seen.every((times) => times === 1)).toBe(true);
}

/** Mean, over seeds 0..9, of the mean client total-variation distance from the pooled label distribution. */
function meanTv(partitioner: Partitioner, clients: number): { mean: number; min: number; max: number } {
  const tvs = Array.from(
    { length: 10 },
    (_, seed) => summarizePartition(partitioner.partition(pool, clients, seed, 10)).meanTotalVariation,
  );
  return { mean: tvs.reduce((a, b) => a + b) / tvs.length, min: Math.min(...tvs), max: Math.max(...tvs) };
}

describe.each(partitioners)('%s partitioner', (_name, make) => {
  it.each([1, 5, 20, 100])('gives every pool sample to exactly one of %i clients, with matching histograms', (clients) => {
    expectExactCover(make().partition(pool, clients, 3, 10), pool, clients);
  });

  it('is reproducible from the seed and changes with it', () => {
    const a = make().partition(pool, 10, 42, 10);
    const b = make().partition(pool, 10, 42, 10);
    const c = make().partition(pool, 10, 43, 10);
    expect(b.clients).toEqual(a.clients);
    expect(b.histograms).toEqual(a.histograms);
    expect(c.clients).not.toEqual(a.clients);
  });

  it('works at the limit (one sample per client, or per shard), and infers the class count from the labels', () => {
    const partitioner = make();
    const perClient = partitioner instanceof ShardPartitioner ? partitioner.shardsPerClient : 1;
    const labels = Uint8Array.of(0, 1, 2, 2, 1, 0);
    const clients = labels.length / perClient;
    const partition = partitioner.partition(labels, clients, 0);
    expect(partition.histograms.every((h) => h.length === 3)).toBe(true);
    expectExactCover({ ...partition, histograms: partition.histograms.map((h) => [...h, 0, 0, 0, 0, 0, 0, 0]) }, labels, clients);
    expect(partition.clients.every((indices) => indices.length === perClient)).toBe(true);
  });
});

describe('label skew (measured on the 6,000-sample pool, seeds 0..9)', () => {
  it('iid: every client looks like the whole (mean TV < 0.1 for 5 clients; measured about 0.03)', () => {
    expect(meanTv(new IidPartitioner(), 5).max).toBeLessThan(0.1);
  });

  it('iid: client sizes differ by at most one', () => {
    const sizes = summarizePartition(new IidPartitioner().partition(pool, 7, 0, 10)).sizes;
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('dirichlet(0.1) is strongly skewed (mean TV > 0.4 for 5 clients; measured about 0.6)', () => {
    const tv = meanTv(new DirichletPartitioner(0.1), 5);
    expect(tv.min).toBeGreaterThan(0.4);
    expect(tv.mean).toBeGreaterThan(0.5);
  });

  it('skew falls as alpha grows: 0.1 > 1 > 100', () => {
    const skew = [0.1, 1, 100].map((alpha) => meanTv(new DirichletPartitioner(alpha), 10).mean);
    expect(skew[0]).toBeGreaterThan(skew[1] + 0.15);
    expect(skew[1]).toBeGreaterThan(skew[2] + 0.15);
  });

  it('dirichlet(100) is close to iid (mean TV < 0.1 for 5 clients; measured about 0.035)', () => {
    expect(meanTv(new DirichletPartitioner(100), 5).max).toBeLessThan(0.1);
  });

  it('shards(2): each client holds 2 shards of sorted labels, so at most 4 classes (about 2 when shards are small)', () => {
    // Shards no larger than the smallest class (518 here) span at most 2 classes each. The mean
    // number of classes per client falls towards 2 as shards shrink relative to the classes.
    for (const [clients, meanBound] of [
      [10, 3.2],
      [20, 2.8],
      [100, 2.2],
    ]) {
      for (let seed = 0; seed < 10; seed++) {
        const summary = summarizePartition(new ShardPartitioner(2).partition(pool, clients, seed, 10));
        expect(Math.max(...summary.classesPerClient)).toBeLessThanOrEqual(4);
        expect(summary.classesPerClient.reduce((a, b) => a + b) / clients).toBeLessThan(meanBound);
        expect(summary.meanTotalVariation).toBeGreaterThan(0.7);
      }
    }
  });

  it('shards(2) with 5 clients: shards of 600 (more than the 518 fives) can span 3 classes, so at most 6 per client', () => {
    const summary = summarizePartition(new ShardPartitioner(2).partition(pool, 5, 0, 10));
    expect(Math.max(...summary.classesPerClient)).toBeLessThanOrEqual(6);
  });

  it('shards: sizes differ by at most shardsPerClient', () => {
    const sizes = summarizePartition(new ShardPartitioner(3).partition(pool, 7, 0, 10)).sizes;
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(3);
  });
});

describe('dirichlet minimum client size', () => {
  it('gives every client at least 10 samples by default, re-drawing when needed', () => {
    for (const seed of [0, 1, 2]) {
      const partition = new DirichletPartitioner(0.1).partition(pool, 20, seed, 10);
      expect(Math.min(...partition.clients.map((c) => c.length))).toBeGreaterThanOrEqual(10);
      expect(partition.attempts).toBeGreaterThanOrEqual(1);
    }
  });

  it('repairs the best draw when no draw qualifies (100 clients, alpha 0.1), still an exact cover', () => {
    const partition = new DirichletPartitioner(0.1).partition(pool, 100, 0, 10);
    expectExactCover(partition, pool, 100);
    expect(Math.min(...partition.clients.map((c) => c.length))).toBeGreaterThanOrEqual(10);
    expect(partition.attempts).toBe(100);
    expect(partition.repairedSamples).toBeGreaterThan(0);
    expect(summarizePartition(partition).meanTotalVariation).toBeGreaterThan(0.6); // still skewed
  });

  it('honours an explicit minimum, and caps the default at samples / clients', () => {
    const strict = new DirichletPartitioner(0.1, { minSamplesPerClient: 200 }).partition(pool, 10, 0, 10);
    expect(Math.min(...strict.clients.map((c) => c.length))).toBeGreaterThanOrEqual(200);
    const labels = new Uint8Array(30).map((_, i) => i % 3);
    const crowded = new DirichletPartitioner(0.1).partition(labels, 10, 0); // default min: floor(30 / 10) = 3
    expect(crowded.clients.every((c) => c.length === 3)).toBe(true);
  });
});

describe('bad arguments throw, naming the argument', () => {
  const all = partitioners.map(([, make]) => make());

  it('clients: a positive integer, not above the samples', () => {
    for (const p of all) {
      expect(() => p.partition(pool, 12_000, 0)).toThrow('clients (12000) exceeds samples (6000)');
      expect(() => p.partition(pool, 0, 0)).toThrow('clients must be a positive integer, got 0');
      expect(() => p.partition(pool, 2.5, 0)).toThrow('clients must be a positive integer, got 2.5');
      expect(() => p.partition(pool, Number.NaN, 0)).toThrow(/clients must be a positive integer/);
    }
  });

  it('seed: a non-negative safe integer', () => {
    for (const p of all) {
      expect(() => p.partition(pool, 5, 0.5)).toThrow(/seed must be a non-negative safe integer, got 0.5/);
      expect(() => p.partition(pool, 5, -3)).toThrow(/seed/);
      expect(() => p.partition(pool, 5, '1' as unknown as number)).toThrow(/seed/);
    }
  });

  it('labels and classes: integers in [0, classes)', () => {
    for (const p of all) {
      expect(() => p.partition([0, 1, 10], 1, 0, 10)).toThrow('labels[2] must be an integer in [0, 10), got 10');
      expect(() => p.partition([0, -1], 1, 0)).toThrow(/labels\[1\]/);
      expect(() => p.partition([0, 1], 1, 0, 0)).toThrow(/classes must be a positive integer, got 0/);
    }
  });

  it('alpha: a finite number > 0', () => {
    expect(() => new DirichletPartitioner(-1)).toThrow('alpha must be a finite number > 0, got -1');
    expect(() => new DirichletPartitioner(0)).toThrow(/alpha.*got 0/);
    expect(() => new DirichletPartitioner(Number.POSITIVE_INFINITY)).toThrow(/alpha.*Infinity/);
    expect(() => new DirichletPartitioner(Number.NaN)).toThrow(/alpha.*NaN/);
  });

  it('dirichlet options: minSamplesPerClient and maxAttempts', () => {
    expect(() => new DirichletPartitioner(1, { minSamplesPerClient: -1 })).toThrow(/minSamplesPerClient/);
    expect(() => new DirichletPartitioner(1, { maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => new DirichletPartitioner(1, { minSamplesPerClient: 700 }).partition(pool, 10, 0)).toThrow(
      'minSamplesPerClient (700) x clients (10) = 7000 exceeds samples (6000)',
    );
  });

  it('shardsPerClient: a positive integer, with shards not above the samples', () => {
    expect(() => new ShardPartitioner(0)).toThrow('shardsPerClient must be a positive integer, got 0');
    expect(() => new ShardPartitioner(1.5)).toThrow(/shardsPerClient.*1.5/);
    expect(() => new ShardPartitioner(2_000).partition(pool, 5, 0)).toThrow(
      'shards (clients 5 x shardsPerClient 2000 = 10000) exceed samples (6000)',
    );
  });
});
