import type * as tf from '@tensorflow/tfjs';
import { buildModel, checkModelShapes, loadLayersModelFiles, toLogitsModel, type ModelSpec } from '@fedkd/engine';
import {
  createPartitioner,
  loadEmbeddedPart,
  MNIST_TASK,
  readData,
  stratifiedSplit,
  subset,
  toDataset,
  type Dataset,
  type EmbeddedDatasetName,
  type PartitionerSpec,
  type Task,
} from '@fedkd/data';
import { createLoss, evaluateAccuracy, trainStudent, type EpochProgress } from '@fedkd/distill';

export interface LocalTeacherConfig {
  /** The federation's task (default: the embedded digits' task). */
  task?: Task;
  /** This client's own data set (`FORMAT:PATH` or a path; see libs/data): when given, the embedded partition below is not used. */
  data?: string;
  /** CSV data: the column holding the label. */
  labelColumn?: string;
  /** Demos and simulation: which embedded data set's private pool to take a partition of. */
  dataset?: EmbeddedDatasetName;
  /** Which of the federation's clients this is (0-based) and how many there are (embedded partition; also seeds). */
  clientIndex: number;
  clients: number;
  partition: PartitionerSpec;
  /** The federation's seed: every client derives the same split and partition from it. */
  seed: number;
  /** The zoo architecture trained here when no teacher model file is given (and of PATE ensembles). */
  model: ModelSpec;
  epochs: number;
  /** A TF.js LayersModel (`model.json`) to use as the teacher instead of training a zoo model. */
  teacherModelPath?: string;
  /** Epochs of fine-tuning a teacher model file on the private data (0: frozen, also through the rounds). */
  fineTuneEpochs?: number;
  /** Share of the private data held out, stratified, to report the teacher's accuracy locally (0: none). */
  holdout?: number;
}

export interface PrivateData {
  /** What the teacher trains on. */
  train: Dataset;
  /** The local hold-out (never sent anywhere), or null. */
  holdout: Dataset | null;
  /** Where it came from, for the client's own log. */
  source: string;
}

/**
 * This client's private data: its own files (`data`), or its share of an embedded private pool
 * recomputed locally from the federation's seed. Nothing about it is received or sent.
 */
export async function loadPrivateData(config: LocalTeacherConfig, onProgress?: (done: number, total: number) => void): Promise<PrivateData> {
  const task = config.task ?? MNIST_TASK;
  let all: Dataset;
  let source: string;
  if (config.data) {
    all = toDataset(await readData(config.data, { task, labelled: true, labelColumn: config.labelColumn, onProgress }), task);
    source = config.data;
  } else {
    all = loadPrivatePartition(config);
    source = `embedded:${config.dataset ?? 'mnist'} partition ${config.clientIndex + 1}/${config.clients} (${config.partition.name})`;
  }
  const fraction = config.holdout ?? 0;
  if (!(fraction > 0)) return { train: all, holdout: null, source };
  if (!(fraction < 1)) throw new RangeError(`--holdout must be in [0, 1), got ${fraction}`);
  const held = Math.round(all.count * fraction);
  if (held < 1 || held >= all.count) throw new RangeError(`--holdout ${fraction} of ${all.count} samples leaves nothing to ${held < 1 ? 'hold out' : 'train on'}`);
  const [holdoutRows, trainRows] = stratifiedSplit(all.labels, [held, all.count - held], config.seed + 7 * config.clientIndex);
  return { train: subset(all, trainRows), holdout: subset(all, holdoutRows), source };
}

/** This client's share of an embedded private pool, recomputed from the federation's seed. */
export function loadPrivatePartition(config: LocalTeacherConfig): Dataset {
  if (!Number.isInteger(config.clientIndex) || config.clientIndex < 0 || config.clientIndex >= config.clients) {
    throw new RangeError(`client index must be in [0, ${config.clients}), got ${config.clientIndex}`);
  }
  const pool = loadEmbeddedPart(config.dataset ?? 'mnist', 'private', config.seed, config.task ?? MNIST_TASK);
  const { clients } = createPartitioner(config.partition).partition(pool.labels, config.clients, config.seed);
  return subset(pool, clients[config.clientIndex]);
}

export interface Teacher {
  model: tf.LayersModel;
  /** A model file with --fine-tune-epochs 0: not trained here at all, not even in the rounds' digest and revisit. */
  frozen: boolean;
  description: string;
}

/**
 * The teacher: the user's model.json (shapes checked against the task, a final softmax removed so
 * that it gives logits, fine-tuned if asked), or a zoo model trained here on the private data.
 */
export async function prepareTeacher(config: LocalTeacherConfig, data: Dataset, onEpoch?: (p: EpochProgress) => void): Promise<Teacher> {
  const task = config.task ?? MNIST_TASK;
  if (!config.teacherModelPath) {
    return { model: await trainLocalTeacher(config, data, onEpoch), frozen: false, description: `${config.model.kind} trained here for ${config.epochs} epochs` };
  }
  const loaded = await loadLayersModelFiles(config.teacherModelPath);
  const { model, removedSoftmax } = toLogitsModel(loaded);
  if (model !== loaded) loaded.dispose();
  try {
    checkModelShapes(model, { inputShape: task.input.shape, classes: task.classes.length }, `teacher ${config.teacherModelPath}`);
  } catch (error) {
    model.dispose();
    throw error;
  }
  const epochs = config.fineTuneEpochs ?? 0;
  if (epochs > 0) await fitOnLabels(model, data, epochs, config.seed, onEpoch);
  const description = `${config.teacherModelPath} (${model.countParams()} parameters${removedSoftmax ? ', final softmax removed for logits' : ''}, ${epochs > 0 ? `fine-tuned ${epochs} epochs` : 'frozen'})`;
  return { model, frozen: epochs === 0, description };
}

/** Trains a zoo teacher on the private data with cross-entropy on its own labels. */
export async function trainLocalTeacher(config: LocalTeacherConfig, data: Dataset, onEpoch?: (p: EpochProgress) => void): Promise<tf.LayersModel> {
  const teacher = buildModel(config.model, config.seed + 1000 + config.clientIndex);
  await fitOnLabels(teacher, data, config.epochs, config.seed, onEpoch);
  return teacher;
}

async function fitOnLabels(model: tf.LayersModel, data: Dataset, epochs: number, seed: number, onEpoch?: (p: EpochProgress) => void): Promise<void> {
  const loss = createLoss({ name: 'response', temperature: 1, alpha: 1 });
  try {
    await trainStudent(model, { inputs: data, hardLabels: data.labels }, { loss, epochs, seed, onEpoch });
  } finally {
    loss.dispose();
  }
}

/** Local-only reference for embedded demos: the teacher alone on the embedded test split. */
export function localOnlyAccuracy(teacher: tf.LayersModel, config: LocalTeacherConfig): number {
  const test = loadEmbeddedPart(config.dataset ?? 'mnist', 'test', config.seed, config.task ?? MNIST_TASK);
  return evaluateAccuracy(teacher, test, test.labels);
}
