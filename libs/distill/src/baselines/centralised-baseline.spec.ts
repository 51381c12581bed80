import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type MlpSpec } from '@fedkd/engine';
import { createPartitioner, splitEmbedded, subset, type Dataset } from '@fedkd/data';
import type { EpochProgress } from '../training/student-trainer';
import { trainCentralised } from './centralised-baseline';
import { trainLocalOnly } from './local-only-baseline';

const SMALL_MLP: MlpSpec = { kind: 'mlp', inputShape: [28, 28, 1], hidden: [64], classes: 10 };

describe('centralised and local-only baselines', () => {
  let pool: Dataset;
  let test: Dataset;

  beforeAll(async () => {
    await initBackend();
    const split = splitEmbedded(0);
    pool = split.privatePool.dataset;
    test = split.test.dataset;
  });

  it('centralised training on the whole pool beats every client trained alone on a dirichlet(0.3) partition', async () => {
    const { clients: parts, histograms } = createPartitioner({ name: 'dirichlet', alpha: 0.3 }).partition(pool.labels, 3, 0);
    const clients = parts.map((indices) => subset(pool, indices));
    // The partition is skewed: some client lacks (nearly) whole classes.
    expect(Math.min(...histograms.flat())).toBeLessThan(20);

    const before = tf.memory().numTensors;
    const seen: EpochProgress[] = [];
    const central = await trainCentralised({ spec: SMALL_MLP, train: pool, test, epochs: 3, seed: 1, onEpoch: (p) => seen.push(p) });
    const local = await trainLocalOnly({ spec: SMALL_MLP, clients, test, epochs: 3, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);

    expect(seen.map((p) => p.epoch)).toEqual([1, 2, 3]);
    expect(central).toMatchObject({ epochs: 3, trainSamples: 6000 });
    expect(central.seconds).toBeGreaterThan(0);
    expect(central.testAccuracy).toBeGreaterThan(0.85);
    expect(local.clients.map((c) => c.samples)).toEqual(clients.map((c) => c.count));
    for (const client of local.clients) expect(central.testAccuracy).toBeGreaterThan(client.testAccuracy);
    expect(local.meanAccuracy).toBeCloseTo(local.clients.reduce((s, c) => s + c.testAccuracy, 0) / 3, 12);
  });

  it('is reproducible from its seed', async () => {
    const small = subset(pool, Array.from({ length: 1000 }, (_, i) => i));
    const run = () => trainCentralised({ spec: SMALL_MLP, train: small, test, epochs: 1, seed: 3 });
    expect((await run()).testAccuracy).toBe((await run()).testAccuracy);
  });

  it('rejects bad arguments naming them', async () => {
    await expect(trainCentralised({ spec: SMALL_MLP, train: pool, test, epochs: 0, seed: 1 })).rejects.toThrow(/epochs/);
    await expect(trainLocalOnly({ spec: SMALL_MLP, clients: [], test, epochs: 1, seed: 1 })).rejects.toThrow(/clients/);
    const wrong = { ...test, inputShape: [28, 14, 2] as [number, number, number] };
    await expect(trainCentralised({ spec: SMALL_MLP, train: pool, test: wrong, epochs: 1, seed: 1 })).rejects.toThrow(/test/);
  });
});
