import type * as tf from '@tensorflow/tfjs';
import { buildModel, type ModelSpec } from '@fedkd/engine';
import { createPartitioner, splitEmbedded, subset, type Dataset, type PartitionerSpec } from '@fedkd/data';
import { createLoss, evaluateAccuracy, trainStudent, type EpochProgress } from '@fedkd/distill';

export interface LocalTeacherConfig {
  /** Which of the federation's clients this is (0-based) and how many there are. */
  clientIndex: number;
  clients: number;
  partition: PartitionerSpec;
  /** The federation's seed: every client derives the same split and partition from it. */
  seed: number;
  model: ModelSpec;
  epochs: number;
}

/**
 * This client's private data: its share of the embedded private pool, recomputed locally from the
 * federation's seed (nothing about it is received or sent).
 */
export function loadPrivatePartition(config: LocalTeacherConfig): Dataset {
  if (!Number.isInteger(config.clientIndex) || config.clientIndex < 0 || config.clientIndex >= config.clients) {
    throw new RangeError(`client index must be in [0, ${config.clients}), got ${config.clientIndex}`);
  }
  const pool = splitEmbedded(config.seed).privatePool.dataset;
  const { clients } = createPartitioner(config.partition).partition(pool.labels, config.clients, config.seed);
  return subset(pool, clients[config.clientIndex]);
}

/** Trains this client's teacher on its private data with cross-entropy on its own labels. */
export async function trainLocalTeacher(
  config: LocalTeacherConfig,
  data: Dataset,
  onEpoch?: (p: EpochProgress) => void,
): Promise<tf.LayersModel> {
  const teacher = buildModel(config.model, config.seed + 1000 + config.clientIndex);
  await trainStudent(
    teacher,
    { inputs: data, hardLabels: data.labels },
    { loss: createLoss({ name: 'response', temperature: 1, alpha: 1 }), epochs: config.epochs, seed: config.seed, onEpoch },
  );
  return teacher;
}

/** Local-only reference: the teacher alone on the embedded test split. */
export function localOnlyAccuracy(teacher: tf.LayersModel, seed: number): number {
  const test = splitEmbedded(seed).test.dataset;
  return evaluateAccuracy(teacher, test, test.labels);
}
