import { expect } from 'vitest';

/** |actual - expected| <= rel * |expected| (exact equality for 0 and infinities). */
export function expectRelativelyClose(actual: number, expected: number, rel: number, what = ''): void {
  if (!Number.isFinite(expected) || expected === 0) {
    expect(actual, what).toBe(expected);
    return;
  }
  const error = Math.abs(actual - expected) / Math.abs(expected);
  expect(error, `${what}: ${actual} vs ${expected} (relative error ${error})`).toBeLessThanOrEqual(rel);
}

/** A small deterministic uniform generator in [0, 1) (mulberry32) for randomised checks. */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
