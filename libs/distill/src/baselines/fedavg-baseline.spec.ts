import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeWeights, initBackend, readWeightHeader, type MlpSpec } from '@fedkd/engine';
import { createPartitioner, splitEmbedded, subset, type Dataset } from '@fedkd/data';
import { runFedAvg, type FedAvgOptions, type FedAvgRound } from './fedavg-baseline';

const SMALL_MLP: MlpSpec = { kind: 'mlp', inputShape: [28, 28, 1], hidden: [64], classes: 10 };
// 784*64 + 64 + 64*10 + 10
const SMALL_MLP_PARAMS = 50_890;

describe('FedAvg baseline', () => {
  let clients: Dataset[];
  let test: Dataset;
  let options: FedAvgOptions;

  beforeAll(async () => {
    await initBackend();
    const split = splitEmbedded(0);
    // The split's order is seeded-random, so the first 2,700 of the pool are a random sample of it.
    const pool = subset(split.privatePool.dataset, Array.from({ length: 2700 }, (_, i) => i));
    const partition = createPartitioner({ name: 'iid' }).partition(pool.labels, 3, 0);
    clients = partition.clients.map((indices) => subset(pool, indices));
    test = split.test.dataset;
    // Batch 32 (not the trainer's 128): 1 local epoch of 900 samples is then 29 steps, enough to pass 0.8 in 3 rounds.
    options = { spec: SMALL_MLP, clients, test, rounds: 3, localEpochs: 1, batchSize: 32, seed: 7 };
  });

  it('learns over the rounds, with real blob sizes and no tensor leak', async () => {
    expect(clients.map((c) => c.count)).toEqual([900, 900, 900]);
    const before = tf.memory().numTensors;
    const tensorsAfterRound: number[] = [];
    const seen: FedAvgRound[] = [];
    const result = await runFedAvg({
      ...options,
      onRound: (r) => {
        seen.push(r);
        tensorsAfterRound.push(tf.memory().numTensors);
      },
    });

    expect(seen).toEqual(result.rounds);
    expect(result.rounds.map((r) => r.round)).toEqual([1, 2, 3]);
    const accuracy = result.rounds.map((r) => r.testAccuracy);
    expect(accuracy[2]).toBeGreaterThan(accuracy[0]);
    expect(accuracy[2]).toBeGreaterThan(0.8);
    expect(result.initialAccuracy).toBeLessThan(0.3);
    expect(result.finalAccuracy).toBe(accuracy[2]);

    // Bytes: the encoded blob, i.e. 4 bytes per parameter plus the prefix and JSON header.
    const blob = encodeWeights(SMALL_MLP, result.weights);
    const { bodyOffset } = readWeightHeader(blob);
    expect(result.parameters).toBe(SMALL_MLP_PARAMS);
    expect(blob.byteLength).toBe(4 * SMALL_MLP_PARAMS + bodyOffset);
    for (const r of result.rounds) {
      expect(r.bytesUploadedPerClient).toEqual([blob.byteLength, blob.byteLength, blob.byteLength]);
      expect(r.bytesDownloadedPerClient).toEqual([blob.byteLength, blob.byteLength, blob.byteLength]);
      expect(r.clientTrainLoss).toHaveLength(3);
      expect(r.seconds).toBeGreaterThan(0);
    }
    expect(result.totalBytesUploaded).toBe(3 * 3 * blob.byteLength);
    expect(result.clientSamples).toEqual([900, 900, 900]);

    // No tensor outlives a round, nor the run.
    expect(new Set(tensorsAfterRound).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is reproducible from its seed, and another seed gives another run', async () => {
    const short = { ...options, rounds: 1 };
    const [a, b, c] = [await runFedAvg(short), await runFedAvg(short), await runFedAvg({ ...short, seed: 8 })];
    expect(b.weights).toEqual(a.weights);
    expect(b.rounds.map((r) => r.testAccuracy)).toEqual(a.rounds.map((r) => r.testAccuracy));
    expect(c.weights[0].values).not.toEqual(a.weights[0].values);
  });

  it('sends float16 blobs of 2 bytes per parameter plus the header, at about the same accuracy', async () => {
    const short = { ...options, rounds: 1 };
    const [full, half] = [await runFedAvg(short), await runFedAvg({ ...short, weightDtype: 'float16' })];
    const blob = encodeWeights(SMALL_MLP, half.weights, { dtype: 'float16' });
    expect(blob.byteLength).toBe(2 * SMALL_MLP_PARAMS + readWeightHeader(blob).bodyOffset);
    expect(half.weightDtype).toBe('float16');
    expect(half.rounds[0].bytesUploadedPerClient).toEqual([blob.byteLength, blob.byteLength, blob.byteLength]);
    expect(half.rounds[0].bytesDownloadedPerClient).toEqual([blob.byteLength, blob.byteLength, blob.byteLength]);
    expect(full.rounds[0].bytesUploadedPerClient[0]).toBe(4 * SMALL_MLP_PARAMS + readWeightHeader(encodeWeights(SMALL_MLP, full.weights)).bodyOffset);
    // float16 rounding of the weights (relative error ~5e-4) barely moves the accuracy.
    expect(Math.abs(half.finalAccuracy - full.finalAccuracy)).toBeLessThan(0.02);
  });

  it('rejects bad arguments naming them', async () => {
    await expect(runFedAvg({ ...options, rounds: 0 })).rejects.toThrow(/rounds/);
    await expect(runFedAvg({ ...options, localEpochs: 1.5 })).rejects.toThrow(/localEpochs/);
    await expect(runFedAvg({ ...options, clients: [] })).rejects.toThrow(/clients/);
    await expect(runFedAvg({ ...options, weightDtype: 'int8' as never })).rejects.toThrow(/weightDtype/);
    const wrongShape = { ...clients[0], inputShape: [14, 56, 1] as [number, number, number] };
    await expect(runFedAvg({ ...options, clients: [clients[1], wrongShape] })).rejects.toThrow(/clients\[1\]/);
  });
});
