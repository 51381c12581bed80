import { inputSize, SeededRng, type InputSet, type ModelSpec } from '@fedkd/engine';
import { createLoss, type DistillationLoss } from '../losses';

/** Plain cross-entropy on hard labels: the loss every baseline trains with. */
export function crossEntropy(): DistillationLoss {
  return createLoss({ name: 'response', temperature: 1, alpha: 1 });
}

/** A seed for one purpose of a run (e.g. `fedavg/round:2/client:1`), derived from the run's seed. */
export function deriveSeed(seed: number, purpose: string): number {
  return new SeededRng(seed).fork(purpose).nextUint32();
}

/** Throws naming `what` if the inputs do not fit the spec's input shape or the set is empty. */
export function checkInputsFitSpec(set: InputSet, spec: ModelSpec, what: string): void {
  if (!set || !(set.count >= 1)) throw new RangeError(`${what} has no samples`);
  if (set.inputShape.join(',') !== spec.inputShape.join(',')) {
    throw new RangeError(`${what} holds inputs of [${set.inputShape.join(', ')}] but the model takes [${spec.inputShape.join(', ')}]`);
  }
  if (set.values.length !== set.count * inputSize(set)) {
    throw new RangeError(`${what} holds ${set.values.length} floats for ${set.count} inputs of [${set.inputShape.join(', ')}]`);
  }
}

export function checkPositiveInteger(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
}

export function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}
