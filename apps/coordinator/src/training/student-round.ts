import { blobSha256, buildModel, selectImages, decodeWeights, encodeWeights, getModelWeights, setModelWeights, type ModelSpec } from '@fedkd/engine';
import { materialiseProxy, splitEmbedded } from '@fedkd/data';
import type { ProxySpec } from '@fedkd/protocol';
import { createLoss, evaluateAccuracy, trainStudent, type EpochProgress, type LossSpec } from '@fedkd/distill';

/** Everything the student needs for one round; plain data, so it can cross into a worker thread. */
export interface StudentJob {
  round: number;
  splitSeed: number;
  /** The round's proxy inputs (materialised here, in the worker) and the positions trained on. */
  proxy: ProxySpec;
  rows: number[];
  /** Aggregated soft predictions [rows.length x classes] at `temperature`. */
  targets: Float32Array;
  loss: LossSpec;
  spec: ModelSpec;
  /** The last published student: training continues from it (null for the first round). */
  previousBlob: Uint8Array | null;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

export interface StudentResult {
  blob: Uint8Array;
  sha256: string;
  testAccuracy: number;
  epochs: number;
  trainSeconds: number;
}

/** Trains the round's student on the aggregated targets and evaluates it on the held-out test split. */
export async function trainStudentForRound(job: StudentJob, onEpoch?: (p: EpochProgress) => void): Promise<StudentResult> {
  const started = Date.now();
  const split = splitEmbedded(job.splitSeed);
  const proxy = selectImages(materialiseProxy(job.proxy), job.rows);
  const test = split.test.dataset;
  const student = buildModel(job.spec, job.seed);
  const loss = createLoss(job.loss);
  try {
    if (job.previousBlob) setModelWeights(student, decodeWeights(job.previousBlob).weights);
    const report = await trainStudent(
      student,
      { inputs: proxy, softLabels: job.targets },
      { loss, epochs: job.epochs, batchSize: job.batchSize, learningRate: job.learningRate, seed: job.seed + job.round, onEpoch },
    );
    const blob = encodeWeights(job.spec, getModelWeights(student));
    return {
      blob,
      sha256: blobSha256(blob),
      testAccuracy: evaluateAccuracy(student, test, test.labels),
      epochs: report.history.length,
      trainSeconds: (Date.now() - started) / 1000,
    };
  } finally {
    loss.dispose();
    student.dispose();
  }
}
