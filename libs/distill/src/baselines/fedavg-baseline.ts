import {
  SeededRng,
  buildModel,
  decodeWeights,
  encodeWeights,
  getModelWeights,
  setModelWeights,
  type ModelSpec,
  type NamedWeights,
  type WeightDtype,
} from '@fedkd/engine';
import { evaluateAccuracy } from '../training/evaluate';
import { trainStudent } from '../training/student-trainer';
import { checkInputsFitSpec, checkPositiveInteger, crossEntropy, deriveSeed, secondsSince } from './baseline-common';
import { federatedAverage, type ClientWeightUpdate } from './federated-average';
import type { LabelledSet } from './labelled-set';

export interface FedAvgOptions {
  /** The shared architecture (the fedkd student's, for a like-for-like comparison). */
  spec: ModelSpec;
  /** Each client's private partition; every client takes part in every round. */
  clients: readonly LabelledSet[];
  test: LabelledSet;
  rounds: number;
  /** Passes over its own data each client makes per round (E in the paper). */
  localEpochs: number;
  /** Local minibatch size (B in the paper); default 128, as the student trainer. */
  batchSize?: number;
  /** Local Adam learning rate; default 1e-3, as the student trainer. */
  learningRate?: number;
  /** Initial weights (`buildModel(spec, seed)`) and every client's shuffling derive from this. */
  seed: number;
  /** Share of the clients sampled each round (C in the paper; default 1: all, in order). */
  fraction?: number;
  /** Element type of the weight blobs on the wire, both ways; default float32 (exact). */
  weightDtype?: WeightDtype;
  onRound?: (round: FedAvgRound) => void;
}

export interface FedAvgRound {
  /** 1-based. */
  round: number;
  /** The averaged (global) model on the test split after this round. */
  testAccuracy: number;
  /** The clients sampled this round (all of them, in order, with fraction 1). */
  participants: number[];
  /** Byte length of the weight blob each participant uploaded this round (index = position in `participants`). */
  bytesUploadedPerClient: number[];
  /** Byte length of the global-model blob each client downloaded at the start of this round. */
  bytesDownloadedPerClient: number[];
  /** Each client's mean training loss over its last local epoch. */
  clientTrainLoss: number[];
  /** Wall-clock seconds of the round (all clients' local training, in sequence, plus aggregation and evaluation). */
  seconds: number;
}

export interface FedAvgResult {
  rounds: FedAvgRound[];
  /** The initial global model's test accuracy (before round 1). */
  initialAccuracy: number;
  finalAccuracy: number;
  /** The final global weights (float32, as the server holds them). */
  weights: NamedWeights;
  /** Trainable parameters of the model: what each blob carries. */
  parameters: number;
  weightDtype: WeightDtype;
  /** Sample counts n_k, the averaging weights (n_k / n). */
  clientSamples: number[];
  totalBytesUploaded: number;
  totalBytesDownloaded: number;
  seconds: number;
}

/**
 * FedAvg (McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from
 * Decentralized Data"), the weight-sharing reference of DESIGN.md, simulated in one process over
 * the same clients and rounds as a fedkd run, with full participation (C = 1) unless `fraction`
 * samples C x K clients a round (seeded by `deriveSeed(seed, 'fedavg/round:r/sample')`).
 *
 * Each round: the server encodes the global weights as a weight blob (encodeWeights); every client
 * decodes it, loads it, trains `localEpochs` epochs of cross-entropy on its own data, and encodes its
 * weights as a blob; the server decodes each reply and sets the global weights to
 * sum_k (n_k / n) w_k (federatedAverage). The blobs really are encoded and decoded, so the byte
 * counts are what would cross the wire (and float16 loses what float16 loses).
 *
 * Local optimiser: the shared student trainer, i.e. Adam (default lr 1e-3, batch 128) with a fresh
 * optimiser state for every client in every round, rather than the paper's plain SGD. Adam's moments
 * never leave a client and the server step is the paper's (plain weighted averaging), so this is
 * FedAvg with a local Adam solver; it keeps the baseline comparable with fedkd, whose teachers and
 * student are trained by the same trainer with the same hyperparameters.
 *
 * Deterministic from `seed`: the initial weights are `buildModel(spec, seed)` and client k's
 * shuffling in round r is seeded by `deriveSeed(seed, 'fedavg/round:r/client:k')`.
 * Every tensor made here is disposed before returning.
 */
export async function runFedAvg(options: FedAvgOptions): Promise<FedAvgResult> {
  const { spec, clients, test, rounds, localEpochs, seed } = options;
  const weightDtype = options.weightDtype ?? 'float32';
  checkPositiveInteger(rounds, 'rounds');
  checkPositiveInteger(localEpochs, 'localEpochs');
  const fraction = options.fraction ?? 1;
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`fraction must be in (0, 1], got ${fraction}`);
  if (weightDtype !== 'float32' && weightDtype !== 'float16') {
    throw new RangeError(`weightDtype must be 'float32' or 'float16', got ${String(weightDtype)}`);
  }
  if (!clients || clients.length === 0) throw new RangeError('clients must be a non-empty array');
  clients.forEach((c, k) => checkInputsFitSpec(c, spec, `clients[${k}]`));
  checkInputsFitSpec(test, spec, 'test');

  const started = performance.now();
  const model = buildModel(spec, seed);
  const loss = crossEntropy();
  const history: FedAvgRound[] = [];
  try {
    const parameters = model.countParams();
    const initialAccuracy = evaluateAccuracy(model, test, test.labels);
    let global: NamedWeights = getModelWeights(model);

    for (let round = 1; round <= rounds; round++) {
      const roundStart = performance.now();
      // Server -> clients: one broadcast blob of the global weights.
      const broadcast = encodeWeights(spec, global, { dtype: weightDtype });
      const updates: ClientWeightUpdate[] = [];
      const bytesUploadedPerClient: number[] = [];
      const bytesDownloadedPerClient: number[] = [];
      const clientTrainLoss: number[] = [];
      const participants = sampleClients(clients.length, fraction, seed, round);

      for (const k of participants) {
        const data = clients[k];
        // Client k: start from the global model it received.
        setModelWeights(model, decodeWeights(broadcast).weights);
        bytesDownloadedPerClient.push(broadcast.byteLength);
        const report = await trainStudent(
          model,
          { inputs: data, hardLabels: data.labels },
          {
            loss,
            epochs: localEpochs,
            seed: deriveSeed(seed, `fedavg/round:${round}/client:${k}`),
            batchSize: options.batchSize,
            learningRate: options.learningRate,
          },
        );
        clientTrainLoss.push(report.history[report.history.length - 1].trainLoss);
        const upload = encodeWeights(spec, getModelWeights(model), { dtype: weightDtype });
        bytesUploadedPerClient.push(upload.byteLength);
        // Server: decode (and verify) the reply.
        updates.push({ weights: decodeWeights(upload).weights, samples: data.count });
      }

      global = federatedAverage(updates);
      setModelWeights(model, global);
      const record: FedAvgRound = {
        round,
        testAccuracy: evaluateAccuracy(model, test, test.labels),
        participants,
        bytesUploadedPerClient,
        bytesDownloadedPerClient,
        clientTrainLoss,
        seconds: secondsSince(roundStart),
      };
      history.push(record);
      options.onRound?.(record);
    }

    const sum = (pick: (r: FedAvgRound) => number[]) =>
      history.reduce((total, r) => total + pick(r).reduce((a, b) => a + b, 0), 0);
    return {
      rounds: history,
      initialAccuracy,
      finalAccuracy: history[history.length - 1].testAccuracy,
      weights: global,
      parameters,
      weightDtype,
      clientSamples: clients.map((c) => c.count),
      totalBytesUploaded: sum((r) => r.bytesUploadedPerClient),
      totalBytesDownloaded: sum((r) => r.bytesDownloadedPerClient),
      seconds: secondsSince(started),
    };
  } finally {
    model.dispose();
    loss.dispose();
  }
}

/** The clients of round `round`: all of them in order, or a seeded sample of ceil(fraction x K). */
function sampleClients(count: number, fraction: number, seed: number, round: number): number[] {
  if (fraction >= 1) return Array.from({ length: count }, (_, k) => k);
  const take = Math.max(1, Math.ceil(fraction * count));
  return new SeededRng(deriveSeed(seed, `fedavg/round:${round}/sample`)).permutation(count).slice(0, take).sort((a, b) => a - b);
}
