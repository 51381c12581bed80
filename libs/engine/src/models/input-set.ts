import * as tf from '@tensorflow/tfjs';
import { concatFloat32 } from './concat-arrays';

/**
 * Model inputs as one flat Float32Array, row-major [count, ...inputShape]: images `[H, W, C]`
 * (channels last) or feature vectors `[F]`. The form every lib passes around (a data set, a proxy
 * set, a synthetic batch), converted to tensors only per batch.
 */
export interface InputSet {
  values: Float32Array;
  count: number;
  inputShape: readonly number[];
}

/** Values per input: H * W * C, or F. */
export function inputSize(set: Pick<InputSet, 'inputShape'>): number {
  return set.inputShape.reduce((a, b) => a * b, 1);
}

/** A batch tensor [indices.length, ...inputShape] gathered from `set` (one copy, no intermediate tensors). */
export function gatherInputs(set: InputSet, indices: ArrayLike<number>): tf.Tensor {
  const size = inputSize(set);
  const out = new Float32Array(indices.length * size);
  for (let i = 0; i < indices.length; i++) {
    const at = indices[i] * size;
    out.set(set.values.subarray(at, at + size), i * size);
  }
  return tf.tensor(out, [indices.length, ...set.inputShape]);
}

/** A contiguous batch tensor of rows [start, end) without copying into an index list. */
export function sliceInputs(set: InputSet, start: number, end: number): tf.Tensor {
  const size = inputSize(set);
  return tf.tensor(set.values.subarray(start * size, end * size), [end - start, ...set.inputShape]);
}

/** Logits (or any single output) of `model` on every image, computed in batches. */
export function predictAll(model: tf.LayersModel, set: InputSet, batchSize = 1000): Float32Array {
  const outputs: Float32Array[] = [];
  for (let start = 0; start < set.count; start += batchSize) {
    const end = Math.min(set.count, start + batchSize);
    // One predict call per batch of ours: LayersModel.predict would otherwise split it into batches of 32.
    const batch = tf.tidy(() => model.predict(sliceInputs(set, start, end), { batchSize: end - start }) as tf.Tensor2D);
    outputs.push(batch.dataSync() as Float32Array);
    batch.dispose();
  }
  return outputs.length ? concatFloat32(outputs) : new Float32Array(0);
}

/** A copy of the chosen inputs as a new set; an index outside the set is an error naming it. */
export function selectInputs(set: InputSet, indices: ArrayLike<number>): InputSet {
  const size = inputSize(set);
  const values = new Float32Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= set.count) throw new RangeError(`indices[${k}] must be an integer in [0, ${set.count}), got ${i}`);
    values.set(set.values.subarray(i * size, (i + 1) * size), k * size);
  }
  return { values, count: indices.length, inputShape: [...set.inputShape]  };
}

/** The sets one after another, as one new set; they must share one image shape. */
export function concatInputs(sets: readonly InputSet[]): InputSet {
  if (sets.length === 0) throw new RangeError('concatInputs needs at least one set');
  const shape = sets[0].inputShape;
  const mismatch = sets.findIndex((s) => s.inputShape.join('x') !== shape.join('x'));
  if (mismatch >= 0) throw new RangeError(`set ${mismatch} has inputs ${sets[mismatch].inputShape.join('x')}, not ${shape.join('x')}`);
  const values = concatFloat32(sets.map((s) => s.values.subarray(0, s.count * inputSize(s))));
  return { values, count: sets.reduce((n, s) => n + s.count, 0), inputShape: [...shape]  };
}
