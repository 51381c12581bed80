import type * as tf from '@tensorflow/tfjs';
import { predictAll, type InputSet } from '@fedkd/engine';
import { softmaxRows } from '../temperature-softmax';

/** softmax(logits / T) of `model` on every input: what a teacher shares about a proxy set. */
export function softPredictions(model: tf.LayersModel, inputs: InputSet, temperature: number): Float32Array {
  const logits = predictAll(model, inputs);
  return softmaxRows(logits, logits.length / inputs.count, temperature);
}

/** Fraction of rows whose argmax equals the label. */
export function argmaxAccuracy(scores: Float32Array, labels: ArrayLike<number>, classes: number): number {
  if (scores.length !== labels.length * classes) {
    throw new RangeError(`scores hold ${scores.length / classes} rows for ${labels.length} labels`);
  }
  let correct = 0;
  for (let row = 0; row < labels.length; row++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores[row * classes + c] > scores[row * classes + best]) best = c;
    if (best === labels[row]) correct++;
  }
  return correct / labels.length;
}

/** Test accuracy of a logits model on a labelled image set. */
export function evaluateAccuracy(model: tf.LayersModel, inputs: InputSet, labels: ArrayLike<number>): number {
  const logits = predictAll(model, inputs);
  return argmaxAccuracy(logits, labels, logits.length / inputs.count);
}
