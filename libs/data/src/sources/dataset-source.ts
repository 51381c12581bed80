import type { InputSet } from '@fedkd/engine';
import type { Dataset } from '../dataset';
import type { Task } from '../task/task';

/**
 * The DatasetSource seam (DESIGN.md): a spec (`FORMAT:PATH`, a path whose format is inferred, or
 * an embedded name) + the task -> a labelled or unlabelled data set, with errors that name the
 * file and the problem. One implementation per format, chosen by name.
 */
export type DatasetFormat = 'idx' | 'npy' | 'csv' | 'image-folder' | 'embedded';
export const DATASET_FORMATS: readonly DatasetFormat[] = ['idx', 'npy', 'csv', 'image-folder', 'embedded'];

/** The embedded data sets, by name (`embedded:mnist`, `embedded:mnist-full`). */
export type EmbeddedDatasetName = 'mnist' | 'mnist-full';
export const EMBEDDED_DATASETS: readonly EmbeddedDatasetName[] = ['mnist', 'mnist-full'];

/** Which part of an embedded data set's seeded split a party reads. */
export type EmbeddedPart = 'private' | 'proxy' | 'test';

/** A parsed data spec. */
export interface DatasetSpec {
  format: DatasetFormat;
  /** File or folder (for `embedded`: the data set's name). */
  path: string;
  /** The spec as the user wrote it, for messages. */
  text: string;
}

/** Where problems go: `throw` stops at the first (loading for real); `collect` lists them all and skips what is bad (`fedkd task check`). */
export interface DataProblems {
  readonly mode: 'throw' | 'collect';
  /** `where`: file, or file:line[:column], or a path inside a folder; `what`: the problem. */
  report(where: string, what: string): void;
  readonly list: readonly string[];
}

export interface ReadOptions {
  task: Task;
  /** false: the unlabelled forms (proxy data): labels are neither required nor read. */
  labelled: boolean;
  /** CSV: the column that holds the label (default `label`); ignored by other formats. */
  labelColumn?: string;
  /** Embedded sets: which part of the split, and the split's seed. */
  embedded?: { part: EmbeddedPart; seed: number };
  problems?: DataProblems;
  /** Progress of long reads (decoding an image folder): items done of total. */
  onProgress?: (done: number, total: number) => void;
}

/** What a source read: inputs already scaled by the task, labels (null when unlabelled), and what `task check` prints. */
export interface LoadedData {
  inputs: InputSet;
  labels: Uint8Array | null;
  /** Smallest and largest raw value before scaling (NaN for an empty set). */
  rawRange: { min: number; max: number };
  /** The files that were read (for messages and reports). */
  files: string[];
}

export interface DatasetSource {
  readonly format: DatasetFormat;
  read(spec: DatasetSpec, options: ReadOptions): Promise<LoadedData>;
}

/** A data set that cannot be used: the message names the file (and line, column or entry) and what was expected. */
export class DataError extends Error {
  override readonly name = 'DataError';
}

/** The labelled result as a Dataset (throws if the source read it unlabelled). */
export function toDataset(loaded: LoadedData, task: Task): Dataset {
  if (!loaded.labels) throw new DataError(`${loaded.files[0] ?? 'data set'}: has no labels`);
  return { values: loaded.inputs.values, labels: loaded.labels, count: loaded.inputs.count, inputShape: [...loaded.inputs.inputShape], classes: task.classes.length };
}
