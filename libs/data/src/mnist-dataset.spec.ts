import { createRequire } from 'module';
import { describe, expect, it } from 'vitest';
import { classCounts, subset } from './dataset';
import { MNIST_CLASSES, MNIST_PIXELS, loadMnist } from './mnist-dataset';

/** Per-digit counts as the `mnist` package itself reports them. */
function packageCounts(): number[] {
  const entry = require.resolve('mnist');
  const mnist = createRequire(entry)(entry) as Record<number, { length: number; get(i: number): number[] }>;
  return Array.from({ length: 10 }, (_, d) => mnist[d].length);
}

describe('loadMnist: the embedded digits', () => {
  const data = loadMnist();

  it('holds all 10,000 digits of the package as 28x28x1 images', () => {
    expect(data.count).toBe(10_000);
    expect(data.inputShape).toEqual([28, 28, 1]);
    expect(data.classes).toBe(10);
    expect(data.values).toBeInstanceOf(Float32Array);
    expect(data.values.length).toBe(10_000 * MNIST_PIXELS);
    expect(data.labels).toBeInstanceOf(Uint8Array);
    expect(data.labels.length).toBe(10_000);
  });

  it('has pixel values in [0, 1] that are real images, not blanks', () => {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (const v of data.values) {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    const mean = sum / data.values.length;
    expect(mean).toBeGreaterThan(0.1); // MNIST's mean intensity is about 0.13
    expect(mean).toBeLessThan(0.17);
    for (const i of [0, 4_321, 9_999]) {
      const image = data.values.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS);
      expect(image.filter((v) => v > 0.5).length).toBeGreaterThan(30); // ink on every digit
    }
  });

  it('has every class, with the per-class counts of the package (not 1,000 each)', () => {
    const counts = classCounts(data.labels, MNIST_CLASSES);
    expect(counts).toEqual(packageCounts());
    expect(counts).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
  });

  it('copies each digit exactly as the package returns it (within float32 rounding)', () => {
    const entry = require.resolve('mnist');
    const mnist = createRequire(entry)(entry) as Record<number, { length: number; get(i: number): number[] }>;
    const firstFive = [0, 1, 2, 3, 4].reduce((a, d) => a + mnist[d].length, 0);
    const expected = mnist[5].get(7);
    const row = firstFive + 7;
    expect(data.labels[row]).toBe(5);
    expect(Array.from(data.values.subarray(row * MNIST_PIXELS, (row + 1) * MNIST_PIXELS))).toEqual(
      expected.map((v) => Math.fround(v)),
    );
  });

  it('is loaded once per process: later calls return the same object', () => {
    expect(loadMnist()).toBe(data);
  });
});

describe('subset', () => {
  const data = loadMnist();

  it('copies the chosen samples in the given order', () => {
    const picked = subset(data, [9_999, 0, 5_000]);
    expect(picked.count).toBe(3);
    expect(picked.inputShape).toEqual([28, 28, 1]);
    expect(picked.classes).toBe(10);
    expect(Array.from(picked.labels)).toEqual([data.labels[9_999], data.labels[0], data.labels[5_000]]);
    expect(picked.values.subarray(0, MNIST_PIXELS)).toEqual(
      data.values.subarray(9_999 * MNIST_PIXELS, 10_000 * MNIST_PIXELS),
    );
    expect(picked.values.subarray(2 * MNIST_PIXELS)).toEqual(
      data.values.subarray(5_000 * MNIST_PIXELS, 5_001 * MNIST_PIXELS),
    );
  });

  it('shares no memory with the source', () => {
    const picked = subset(data, Int32Array.of(3));
    const before = data.values[3 * MNIST_PIXELS + 400];
    picked.values[400] = 0.5;
    picked.labels[0] = 9;
    picked.inputShape[0] = 1;
    expect(data.values[3 * MNIST_PIXELS + 400]).toBe(before);
    expect(data.labels[3]).toBe(0);
    expect(data.inputShape).toEqual([28, 28, 1]);
  });

  it('rejects an index outside the dataset, naming it', () => {
    expect(() => subset(data, [0, 10_000])).toThrow(/indices\[1\].*10000/);
    expect(() => subset(data, [-1])).toThrow(/indices\[0\]/);
    expect(() => subset(data, [1.5])).toThrow(/indices\[0\]/);
  });
});
