import { SeededRng } from '@fedkd/engine';

/**
 * Test fixtures: n x classes soft predictions, row-major, like a teacher's
 * softmax(logits / temperature) with logits ~ N(0, logitScale^2). Deterministic in `seed`.
 */
export function softPredictions(
  n: number,
  classes: number,
  seed: number,
  { logitScale = 3, temperature = 1 }: { logitScale?: number; temperature?: number } = {},
): Float32Array {
  const rng = new SeededRng(seed);
  const out = new Float32Array(n * classes);
  const logits = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      logits[c] = rng.normal(0, logitScale) / temperature;
      if (logits[c] > max) max = logits[c];
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[c] - max);
    for (let c = 0; c < classes; c++) out[i * classes + c] = Math.exp(logits[c] - max) / sum;
  }
  return out;
}

/** The same bytes at an odd byteOffset inside a larger Buffer, as socket.io may deliver them. */
export function unalignedBuffer(bytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.alloc(1), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]).subarray(1);
}

/** Largest |a[k] - b[k]|. */
export function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let k = 0; k < a.length; k++) max = Math.max(max, Math.abs(a[k] - b[k]));
  return max;
}

/** Largest |sum of a row - 1|, summed in float64. */
export function maxRowSumError(p: Float32Array, classes: number): number {
  let max = 0;
  for (let i = 0; i < p.length / classes; i++) {
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += p[i * classes + c];
    max = Math.max(max, Math.abs(sum - 1));
  }
  return max;
}
