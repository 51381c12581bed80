import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Scaling, Task } from '../task/task';
import { DataError } from './dataset-source';

/** A temporary folder under os.tmpdir() per `make()`; `removeAll()` (in afterAll) deletes them. */
export function scratchFolders(prefix: string): { make(): string; removeAll(): void } {
  const made: string[] = [];
  return {
    make(): string {
      const dir = mkdtempSync(join(tmpdir(), `fedkd-${prefix}-`));
      made.push(dir);
      return dir;
    },
    removeAll(): void {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes `bytes` to dir/name (creating folders) and returns the path. */
export function put(dir: string, name: string, bytes: Uint8Array | string): string {
  const path = join(dir, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

/** `count` records of `size` raw bytes with a pattern that covers 0..255 and differs per record. */
export function patternBytes(count: number, size: number): Uint8Array {
  return Uint8Array.from({ length: count * size }, (_, i) => (i * 31 + Math.floor(i / size) * 7) % 256);
}

/** Labels 0, 1, ..., classes - 1, 0, 1, ... */
export function cyclicLabels(count: number, classes: number): Uint8Array {
  return Uint8Array.from({ length: count }, (_, i) => i % classes);
}

/** A task of the given input shape and class count (classes named 'c0', 'c1', ...). */
export function testTask(shape: number[], classes: number, scaling: Scaling = { type: 'divide', by: 255 }): Task {
  return { name: `test-${shape.join('x')}`, input: { shape, scaling }, classes: Array.from({ length: classes }, (_, k) => `c${k}`) };
}

/** The DataError `run` throws (fails the test if it throws nothing or something else). */
export function dataErrorOf(run: () => unknown): DataError {
  try {
    run();
  } catch (error) {
    if (error instanceof DataError) return error;
    throw error;
  }
  throw new Error('expected a DataError, nothing was thrown');
}

/** Float32 values of raw bytes divided by 255 (for bytes 0..255 the same float32 as `finishRead`'s raw x (1/255)). */
export function dividedBy255(raw: ArrayLike<number>): Float32Array {
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i] / 255;
  return out;
}

/** Bit-for-bit equality of two typed arrays (fast on large arrays; NaN-safe, -0 differs from 0). */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
