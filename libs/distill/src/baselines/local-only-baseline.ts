import { buildModel, type ModelSpec } from '@fedkd/engine';
import { evaluateAccuracy } from '../training/evaluate';
import { trainStudent } from '../training/student-trainer';
import { checkInputsFitSpec, checkPositiveInteger, crossEntropy, deriveSeed, secondsSince } from './baseline-common';
import type { LabelledSet } from './labelled-set';

export interface LocalOnlyOptions {
  spec: ModelSpec;
  /** Each client's private partition. */
  clients: readonly LabelledSet[];
  test: LabelledSet;
  epochs: number;
  seed: number;
  batchSize?: number;
  learningRate?: number;
}

export interface LocalOnlyClientResult {
  client: number;
  samples: number;
  testAccuracy: number;
}

export interface LocalOnlyResult {
  clients: LocalOnlyClientResult[];
  /** Unweighted mean of the clients' test accuracies. */
  meanAccuracy: number;
  seconds: number;
}

/**
 * The local-only reference of DESIGN.md: each client trains the architecture on its own data
 * alone (no federation) and is evaluated on the shared test split. Same initial weights and
 * trainer as the centralised and FedAvg baselines.
 */
export async function trainLocalOnly(options: LocalOnlyOptions): Promise<LocalOnlyResult> {
  const { spec, clients, test, epochs, seed } = options;
  checkPositiveInteger(epochs, 'epochs');
  if (!clients || clients.length === 0) throw new RangeError('clients must be a non-empty array');
  clients.forEach((c, k) => checkInputsFitSpec(c, spec, `clients[${k}]`));
  checkInputsFitSpec(test, spec, 'test');
  const started = performance.now();
  const loss = crossEntropy();
  const results: LocalOnlyClientResult[] = [];
  try {
    for (let k = 0; k < clients.length; k++) {
      const data = clients[k];
      const model = buildModel(spec, seed);
      try {
        await trainStudent(
          model,
          { inputs: data, hardLabels: data.labels },
          { loss, epochs, seed: deriveSeed(seed, `local-only/client:${k}`), batchSize: options.batchSize, learningRate: options.learningRate },
        );
        results.push({ client: k, samples: data.count, testAccuracy: evaluateAccuracy(model, test, test.labels) });
      } finally {
        model.dispose();
      }
    }
  } finally {
    loss.dispose();
  }
  const meanAccuracy = results.reduce((s, r) => s + r.testAccuracy, 0) / results.length;
  return { clients: results, meanAccuracy, seconds: secondsSince(started) };
}
