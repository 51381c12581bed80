import * as tf from '@tensorflow/tfjs';
import { concatFloat32 } from './concat-arrays';

/**
 * Images as one flat Float32Array, row-major [count, height, width, channels]: the form every lib
 * passes around (a data set, a proxy set, a synthetic batch), converted to tensors only per batch.
 */
export interface ImageSet {
  images: Float32Array;
  count: number;
  imageShape: readonly [number, number, number];
}

export function imageSize(set: ImageSet): number {
  const [h, w, c] = set.imageShape;
  return h * w * c;
}

/** A batch tensor [indices.length, h, w, c] gathered from `set` (one copy, no intermediate tensors). */
export function gatherImages(set: ImageSet, indices: ArrayLike<number>): tf.Tensor4D {
  const size = imageSize(set);
  const out = new Float32Array(indices.length * size);
  for (let i = 0; i < indices.length; i++) {
    const at = indices[i] * size;
    out.set(set.images.subarray(at, at + size), i * size);
  }
  return tf.tensor4d(out, [indices.length, ...set.imageShape]);
}

/** A contiguous batch tensor of rows [start, end) without copying into an index list. */
export function sliceImages(set: ImageSet, start: number, end: number): tf.Tensor4D {
  const size = imageSize(set);
  return tf.tensor4d(set.images.subarray(start * size, end * size), [end - start, ...set.imageShape]);
}

/** Logits (or any single output) of `model` on every image, computed in batches. */
export function predictAll(model: tf.LayersModel, set: ImageSet, batchSize = 1000): Float32Array {
  const outputs: Float32Array[] = [];
  for (let start = 0; start < set.count; start += batchSize) {
    const end = Math.min(set.count, start + batchSize);
    const batch = tf.tidy(() => model.predict(sliceImages(set, start, end)) as tf.Tensor2D);
    outputs.push(batch.dataSync() as Float32Array);
    batch.dispose();
  }
  return outputs.length ? concatFloat32(outputs) : new Float32Array(0);
}

/** A copy of the chosen images as a new set; an index outside the set is an error naming it. */
export function selectImages(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const size = imageSize(set);
  const images = new Float32Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= set.count) throw new RangeError(`indices[${k}] must be an integer in [0, ${set.count}), got ${i}`);
    images.set(set.images.subarray(i * size, (i + 1) * size), k * size);
  }
  return { images, count: indices.length, imageShape: [...set.imageShape] as [number, number, number] };
}

/** The sets one after another, as one new set; they must share one image shape. */
export function concatImages(sets: readonly ImageSet[]): ImageSet {
  if (sets.length === 0) throw new RangeError('concatImages needs at least one set');
  const shape = sets[0].imageShape;
  const mismatch = sets.findIndex((s) => s.imageShape.join('x') !== shape.join('x'));
  if (mismatch >= 0) throw new RangeError(`set ${mismatch} has images ${sets[mismatch].imageShape.join('x')}, not ${shape.join('x')}`);
  const images = concatFloat32(sets.map((s) => s.images.subarray(0, s.count * imageSize(s))));
  return { images, count: sets.reduce((n, s) => n + s.count, 0), imageShape: [...shape] as [number, number, number] };
}
