import { selectInputs } from '@fedkd/engine';

/**
 * An in-memory labelled set of model inputs (images `[H, W, C]` or feature vectors `[F]`), stored
 * row-major one after the other (`values[i * size .. (i + 1) * size)` is input i, channels last),
 * already scaled as the task says (for the embedded digits: pixel / 255, in [0, 1]).
 */
export interface Dataset {
  /** count * (values per input) floats. */
  values: Float32Array;
  /** count class ids in [0, classes). */
  labels: Uint8Array;
  count: number;
  /** [height, width, channels] or [features]; [28, 28, 1] for MNIST. */
  inputShape: number[];
  /** Number of classes; 10 for MNIST. */
  classes: number;
}


/**
 * A new Dataset holding copies of the images and labels at `indices` (in that order; an index
 * may repeat). The source is not modified and the result shares no memory with it.
 */
export function subset(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const { values, count } = selectInputs(dataset, indices);
  const labels = Uint8Array.from({ length: count }, (_, k) => dataset.labels[indices[k]]);
  return { values, labels, count, inputShape: [...dataset.inputShape], classes: dataset.classes };
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
