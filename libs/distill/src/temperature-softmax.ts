import * as tf from '@tensorflow/tfjs';

/**
 * Throws unless `temperature` is a finite number > 0. Every temperature in fedkd passes through
 * here so that a bad config fails with one clear message instead of a NaN loss ten rounds later.
 */
export function assertTemperature(temperature: number, what = 'temperature'): void {
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0) {
    throw new RangeError(`${what} must be a finite number > 0, got ${String(temperature)}`);
  }
}

/**
 * softmax(logits / T) row by row. Stable for any finite logits: the kernel subtracts each row's
 * maximum before exponentiating on every tfjs backend (cpu, wasm, webgl, node).
 * T > 1 softens the distribution (Hinton et al. 2015), T < 1 sharpens it.
 */
export function softmaxWithTemperature(logits: tf.Tensor2D, temperature: number): tf.Tensor2D {
  assertTemperature(temperature);
  assertRank2(logits, 'softmaxWithTemperature: logits');
  return tf.tidy(() => tf.softmax(tf.div(logits, temperature)) as tf.Tensor2D);
}

/**
 * log softmax(logits / T): computed as shifted - logSumExp(shifted), so it is finite wherever the
 * logits are, even where softmax itself underflows to 0. Losses use this instead of log(softmax).
 */
export function logSoftmaxWithTemperature(logits: tf.Tensor2D, temperature: number): tf.Tensor2D {
  assertTemperature(temperature);
  assertRank2(logits, 'logSoftmaxWithTemperature: logits');
  return tf.tidy(() => tf.logSoftmax(tf.div(logits, temperature)) as tf.Tensor2D);
}

/**
 * Plain-JS softmax(logits / T) over the rows of a row-major [n x classes] matrix, for code that
 * holds predictions as Float32Arrays (clients before sending, aggregation, codecs).
 * Accumulates in float64; subtracts each row's maximum first, so it never overflows.
 */
export function softmaxRows(logits: Float32Array, classes: number, temperature = 1): Float32Array {
  assertTemperature(temperature);
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`softmaxRows: classes must be a positive integer, got ${classes}`);
  }
  if (logits.length % classes !== 0) {
    throw new RangeError(`softmaxRows: length ${logits.length} is not a multiple of classes ${classes}`);
  }
  const out = new Float32Array(logits.length);
  const exps = new Float64Array(classes);
  for (let row = 0; row < logits.length; row += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) {
      const v = logits[row + c];
      if (!Number.isFinite(v)) throw new RangeError(`softmaxRows: logit at index ${row + c} is ${v}`);
      if (v > max) max = v;
    }
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      exps[c] = Math.exp((logits[row + c] - max) / temperature);
      sum += exps[c];
    }
    for (let c = 0; c < classes; c++) out[row + c] = exps[c] / sum;
  }
  return out;
}

function assertRank2(t: tf.Tensor, what: string): void {
  if (t.rank !== 2) throw new RangeError(`${what} must be rank 2 [batch, classes], got shape [${t.shape.join(', ')}]`);
}
