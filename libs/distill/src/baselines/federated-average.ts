import type { NamedWeights } from '@fedkd/engine';

/** One client's reply in a FedAvg round: its locally trained weights and how many samples trained them. */
export interface ClientWeightUpdate {
  weights: NamedWeights;
  /** n_k: the client's sample count (its weight in the average). A positive integer. */
  samples: number;
}

/**
 * The FedAvg server step (McMahan et al. 2017, server learning rate 1):
 * w = sum_k (n_k / n) w_k with n = sum_k n_k, tensor by tensor and element by element.
 * Accumulates in float64 and rounds once to float32, so the result is the sample-weighted mean of
 * the given float32 values to within one float32 rounding. Every update must have the same tensor
 * names and shapes, in the same order (the order of getModelWeights / a decoded blob).
 */
export function federatedAverage(updates: readonly ClientWeightUpdate[]): NamedWeights {
  if (!updates || updates.length === 0) throw new RangeError('federatedAverage: no client updates');
  updates.forEach((u, k) => {
    if (!Number.isInteger(u.samples) || u.samples <= 0) {
      throw new RangeError(`federatedAverage: updates[${k}].samples must be a positive integer, got ${u.samples}`);
    }
  });
  const reference = updates[0].weights;
  updates.forEach((u, k) => checkSameLayout(reference, u.weights, k));
  const total = updates.reduce((sum, u) => sum + u.samples, 0);

  return reference.map((tensor, t) => {
    const acc = new Float64Array(tensor.values.length);
    for (const { weights, samples } of updates) {
      const values = weights[t].values;
      for (let i = 0; i < acc.length; i++) acc[i] += samples * values[i];
    }
    const values = new Float32Array(acc.length);
    for (let i = 0; i < acc.length; i++) values[i] = acc[i] / total;
    return { name: tensor.name, shape: [...tensor.shape], values };
  });
}

function checkSameLayout(reference: NamedWeights, weights: NamedWeights, k: number): void {
  if (weights.length !== reference.length) {
    throw new RangeError(`federatedAverage: updates[${k}] has ${weights.length} tensors, updates[0] has ${reference.length}`);
  }
  weights.forEach((w, t) => {
    const r = reference[t];
    const sameShape = w.shape.length === r.shape.length && w.shape.every((d, i) => d === r.shape[i]);
    if (w.name !== r.name || !sameShape || w.values.length !== r.values.length) {
      throw new RangeError(
        `federatedAverage: updates[${k}] tensor #${t} is '${w.name}' [${w.shape.join(', ')}] (${w.values.length} values), ` +
          `updates[0] has '${r.name}' [${r.shape.join(', ')}] (${r.values.length} values)`,
      );
    }
  });
}
