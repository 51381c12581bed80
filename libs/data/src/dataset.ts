import { selectImages } from '@fedkd/engine';

/**
 * An in-memory labelled image set: images are stored row-major, one image after the other
 * (`images[i * pixels .. (i + 1) * pixels)` is image i, in height x width x channels order),
 * with values in [0, 1].
 */
export interface Dataset {
  /** count * height * width * channels floats in [0, 1]. */
  images: Float32Array;
  /** count class ids in [0, classes). */
  labels: Uint8Array;
  count: number;
  /** [height, width, channels]; [28, 28, 1] for MNIST. */
  imageShape: [number, number, number];
  /** Number of classes; 10 for MNIST. */
  classes: number;
}

/** Floats per image: height * width * channels. */
export function pixelsPerImage(dataset: Pick<Dataset, 'imageShape'>): number {
  const [h, w, c] = dataset.imageShape;
  return h * w * c;
}

/**
 * A new Dataset holding copies of the images and labels at `indices` (in that order; an index
 * may repeat). The source is not modified and the result shares no memory with it.
 */
export function subset(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const { images, count } = selectImages(dataset, indices);
  const labels = Uint8Array.from({ length: count }, (_, k) => dataset.labels[indices[k]]);
  return { images, labels, count, imageShape: [...dataset.imageShape], classes: dataset.classes };
}

/** How many of `labels` (restricted to `indices` if given) fall in each of `classes` classes. */
export function classCounts(labels: ArrayLike<number>, classes: number, indices?: ArrayLike<number>): number[] {
  const counts = new Array<number>(classes).fill(0);
  const n = indices ? indices.length : labels.length;
  for (let k = 0; k < n; k++) {
    const label = labels[indices ? indices[k] : k];
    if (!(label >= 0 && label < classes)) throw new RangeError(`label ${label} is outside [0, ${classes})`);
    counts[label]++;
  }
  return counts;
}

/** Sample indices grouped by label (labels must lie in [0, classes)), each group in ascending order. */
export function indicesByClass(labels: ArrayLike<number>, classes: number): Int32Array[] {
  const counts = classCounts(labels, classes);
  const groups = counts.map((count) => new Int32Array(count));
  const filled = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) groups[labels[i]][filled[labels[i]]++] = i;
  return groups;
}
