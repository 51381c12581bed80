import { buildModel, type ModelSpec } from '@fedkd/engine';
import { evaluateAccuracy } from '../training/evaluate';
import { trainStudent, type EpochProgress } from '../training/student-trainer';
import { checkInputsFitSpec, checkPositiveInteger, crossEntropy, deriveSeed, secondsSince } from './baseline-common';
import type { LabelledSet } from './labelled-set';

export interface CentralisedOptions {
  /** The student architecture. */
  spec: ModelSpec;
  /** The whole private pool (every client's data in one place). */
  train: LabelledSet;
  test: LabelledSet;
  epochs: number;
  seed: number;
  /** Default 128, as the student trainer. */
  batchSize?: number;
  /** Adam's learning rate; default 1e-3, as the student trainer. */
  learningRate?: number;
  onEpoch?: (progress: EpochProgress) => void;
}

export interface CentralisedResult {
  testAccuracy: number;
  epochs: number;
  trainSamples: number;
  seconds: number;
}

/**
 * The upper-bound reference of DESIGN.md: the student architecture trained with cross-entropy on
 * the whole private pool, as if all clients pooled their data. Same trainer (Adam, seeded
 * shuffling) and initial weights (`buildModel(spec, seed)`) as the other baselines.
 */
export async function trainCentralised(options: CentralisedOptions): Promise<CentralisedResult> {
  const { spec, train, test, epochs, seed } = options;
  checkPositiveInteger(epochs, 'epochs');
  checkInputsFitSpec(train, spec, 'train');
  checkInputsFitSpec(test, spec, 'test');
  const started = performance.now();
  const model = buildModel(spec, seed);
  const loss = crossEntropy();
  try {
    await trainStudent(
      model,
      { inputs: train, hardLabels: train.labels },
      {
        loss,
        epochs,
        seed: deriveSeed(seed, 'centralised'),
        batchSize: options.batchSize,
        learningRate: options.learningRate,
        onEpoch: options.onEpoch,
      },
    );
    const testAccuracy = evaluateAccuracy(model, test, test.labels);
    return { testAccuracy, epochs, trainSamples: train.count, seconds: secondsSince(started) };
  } finally {
    model.dispose();
    loss.dispose();
  }
}
