import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { taskInputSize, type Task } from '../task/task';
import { dataProblems, describeFsError, emptyRead, failedRead, finishRecords, reportNull } from './data-problems';
import type { DataProblems, DatasetSource, DatasetSpec, LoadedData, ReadOptions } from './dataset-source';
import { dimsFitShape } from './idx-source';
import { formatNpyShape, npyDtypeName, npyGetter, parseNpyDtype, parseNpyHeader, readNpyValues, type NpyDtype, type NpyHeader } from './npy-format';

/**
 * The NPY reader (`npy:PATH`): arrays saved with numpy's `np.save`.
 *
 * Path conventions:
 * - PATH is a folder holding `inputs.npy` and, for a labelled read, `labels.npy`.
 * - Or PATH is the inputs file `DIR/NAME.npy`; for a labelled read the labels are
 *   `DIR/NAME-labels.npy` if that file exists, else `DIR/labels.npy`.
 * - Unlabelled reads (proxy data) need only the inputs.
 *
 * Contents: inputs of shape (N, ...task shape) — or (N, H, W) for a task [H, W, 1] — with dtype
 * uint8 (`|u1`), float32 (`<f4`) or float64 (`<f8`); labels of shape (N,) or (N, 1), one class
 * index per row, of an integer dtype (`|u1`, `|i1`, `<u2`, `<i2`, `<u4`, `<i4`, `<u8`, `<i8`:
 * numpy's default int64 included) or a float dtype holding integers. Big-endian dtypes (`>f4`)
 * are converted. Arrays must be in C (row-major) order. Raw values are scaled as the task says.
 *
 * Memory: the file's bytes and one Float32Array of the inputs; no per-value JS arrays.
 */
export const npySource: DatasetSource = {
  format: 'npy',
  async read(spec: DatasetSpec, options: ReadOptions): Promise<LoadedData> {
    return readNpySync(spec.path, options);
  },
};

/** Names the folder form uses. */
export const NPY_INPUTS_FILE = 'inputs.npy';
export const NPY_LABELS_FILE = 'labels.npy';

export type NpyRole = 'inputs' | 'labels';
export type NpyLocation = { ok: true; inputs: string; labels: string | null } | { ok: false; reason: string };

/** One opened NPY file: its header, dtype and values' bytes (a view on the file's buffer). */
interface NpyData {
  file: string;
  header: NpyHeader;
  dtype: NpyDtype;
  data: Uint8Array;
  /** Usable rows: shape[0], or fewer when the file is truncated (collect mode). */
  count: number;
}

const SUPPORTED_DTYPES: Record<NpyRole, string> = {
  inputs: '|u1, <f4, <f8',
  labels: '|u1, |i1, <u2, <i2, <u4, <i4, <u8, <i8, <f4, <f8',
};

/** The NPY reader, synchronous. */
export function readNpySync(path: string, options: ReadOptions): LoadedData {
  const problems = options.problems ?? dataProblems('throw');
  const { task, labelled } = options;
  const located = locateNpyFiles(path, labelled);
  if (!located.ok) return failedRead(problems, path, located.reason, { task, labelled }, [path]);
  const files = located.labels ? [located.inputs, located.labels] : [located.inputs];
  const inputs = openNpy(located.inputs, 'inputs', task, problems);
  if (!inputs) return emptyRead({ task, labelled }, files);
  if (!located.labels) return npyRows(inputs, null, task, problems);
  const labels = openNpy(located.labels, 'labels', task, problems);
  if (!labels) return emptyRead({ task, labelled }, files);
  return npyRows(inputs, labels, task, problems);
}

/** The inputs file (and, for a labelled read, the labels file) that `path` stands for; see the header comment. */
export function locateNpyFiles(path: string, labelled: boolean): NpyLocation {
  const stats = statOrNull(path);
  if (!stats) return { ok: false, reason: 'not found' };
  if (stats.isDirectory()) {
    const inputs = join(path, NPY_INPUTS_FILE);
    if (!statOrNull(inputs)?.isFile()) return { ok: false, reason: `no ${NPY_INPUTS_FILE} in this folder` };
    if (!labelled) return { ok: true, inputs, labels: null };
    const labels = join(path, NPY_LABELS_FILE);
    return statOrNull(labels)?.isFile() ? { ok: true, inputs, labels } : { ok: false, reason: `labels file not found: looked for ${labels}` };
  }
  if (!labelled) return { ok: true, inputs: path, labels: null };
  const candidates = npyLabelsCandidates(path);
  const labels = candidates.find((candidate) => statOrNull(candidate)?.isFile());
  return labels ? { ok: true, inputs: path, labels } : { ok: false, reason: `labels file not found: looked for ${candidates.join(' and ')}` };
}

/** `DIR/NAME.npy` -> `DIR/NAME-labels.npy`, then `DIR/labels.npy`. */
function npyLabelsCandidates(inputsFile: string): string[] {
  const folder = dirname(inputsFile);
  const stem = basename(inputsFile).replace(/\.npy$/i, '');
  return [join(folder, `${stem}-labels.npy`), join(folder, NPY_LABELS_FILE)];
}

function statOrNull(path: string): ReturnType<typeof statSync> | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/**
 * Reads one NPY file and checks it in its role: header, dtype, C order, shape (against the task
 * for inputs), size, and for inputs that there is at least one row. Reports problems; null when
 * the file cannot be used at all.
 */
function openNpy(file: string, role: NpyRole, task: Task, problems: DataProblems): NpyData | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    return reportNull(problems, file, `cannot be read: ${describeFsError(error)}`);
  }
  const parsed = parseNpyHeader(bytes);
  if (!parsed.ok) return reportNull(problems, file, parsed.reason);
  const { header } = parsed;
  const dtype = supportedDtype(header.descr, role);
  if (!dtype) return reportNull(problems, file, `unsupported dtype '${header.descr}' for ${role} (supported: ${SUPPORTED_DTYPES[role]}, in either byte order)`);
  if (header.fortranOrder && header.shape.filter((d) => d > 1).length > 1) {
    return reportNull(problems, file, 'fortran_order is True: C (row-major) order is required (save np.ascontiguousarray(array))');
  }
  const shapeProblem = role === 'inputs' ? inputsShapeProblem(header.shape, task) : labelsShapeProblem(header.shape);
  if (shapeProblem) return reportNull(problems, file, shapeProblem);
  const count = usableRows(file, header, dtype, bytes.length, problems);
  if (role === 'inputs' && count === 0) {
    return reportNull(problems, file, header.shape[0] === 0 ? `empty data set: 0 inputs (array shape ${formatNpyShape(header.shape)})` : 'empty data set: no complete row');
  }
  return { file, header, dtype, data: bytes.subarray(header.dataOffset), count };
}

function supportedDtype(descr: string, role: NpyRole): NpyDtype | null {
  const dtype = parseNpyDtype(descr);
  if (!dtype) return null;
  if (role === 'labels') return dtype;
  return (dtype.kind === 'u' && dtype.bytes === 1) || dtype.kind === 'f' ? dtype : null;
}

function inputsShapeProblem(shape: readonly number[], task: Task): string | null {
  if (shape.length >= 1 && dimsFitShape(shape.slice(1), task.input.shape)) return null;
  const taskShape = task.input.shape;
  const trimmed = taskShape.length > 1 && taskShape[taskShape.length - 1] === 1 ? ` or ${formatNpyShape(['N', ...taskShape.slice(0, -1)])}` : '';
  const expected = `${formatNpyShape(['N', ...taskShape])}${trimmed}`;
  return `array shape ${formatNpyShape(shape)} does not fit the task's input shape [${taskShape.join(', ')}]: expected ${expected}`;
}

function labelsShapeProblem(shape: readonly number[]): string | null {
  if (shape.length === 1 || (shape.length === 2 && shape[1] === 1)) return null;
  return `labels array shape ${formatNpyShape(shape)} must be (N,) or (N, 1): one class index per row (one-hot labels are not read)`;
}

/** Rows the file holds completely; reports a truncated file or bytes after the data. */
function usableRows(file: string, header: NpyHeader, dtype: NpyDtype, size: number, problems: DataProblems): number {
  const rows = header.shape[0];
  const rowBytes = header.shape.slice(1).reduce((a, b) => a * b, 1) * dtype.bytes;
  const expected = header.dataOffset + rows * rowBytes;
  const described = `${header.shape.join(' x ')} x ${dtype.bytes}-byte ${npyDtypeName(dtype)} values + ${header.dataOffset}-byte header`;
  if (size === expected) return rows;
  if (size > expected) {
    problems.report(file, `expected ${expected} bytes (${described}), got ${size}: ${size - expected} bytes after the data`);
    return rows;
  }
  problems.report(file, `truncated: expected ${expected} bytes (${described}), got ${size}`);
  return rowBytes === 0 ? rows : Math.floor((size - header.dataOffset) / rowBytes);
}

/**
 * The rows of opened NPY files as the task's inputs: labels checked to be class indices, float
 * inputs checked to be finite, bad rows reported and skipped, the rest scaled by `finishRead`.
 */
function npyRows(inputs: NpyData, labels: NpyData | null, task: Task, problems: DataProblems): LoadedData {
  const files = labels ? [inputs.file, labels.file] : [inputs.file];
  if (labels && labels.count !== inputs.count) {
    problems.report(labels.file, `has ${labels.count} labels but ${inputs.file} has ${inputs.count} inputs`);
  }
  const total = labels ? Math.min(inputs.count, labels.count) : inputs.count;
  const size = taskInputSize(task);
  const classes = task.classes.length;
  const labelAt = labels ? npyGetter(labels.dtype, labels.data) : null;
  const checkFinite = inputs.dtype.kind === 'f';
  let values = new Float32Array(total * size);
  let kept = labels ? new Uint8Array(total) : null;
  let count = 0;
  for (let row = 0; row < total; row++) {
    if (labels && labelAt && kept) {
      const label = labelAt(row);
      const problem = labelProblem(label, classes);
      if (problem) {
        problems.report(labels.file, `row ${row}: ${problem}`);
        continue;
      }
      kept[count] = label;
    }
    readNpyValues(inputs.dtype, inputs.data, row * size, size, values, count * size);
    const bad = checkFinite ? firstNonFinite(values, count * size, size) : -1;
    if (bad >= 0) {
      problems.report(inputs.file, `row ${row}: value ${bad} of the row is NaN or infinite${inputs.dtype.bytes === 8 ? ' (or beyond float32 range)' : ''}`);
      continue;
    }
    count++;
  }
  return finishRecords({ values, labels: kept, count, total, size, unit: 'rows' }, { file: inputs.file, files, problems }, { task, labelled: labels !== null });
}

function labelProblem(label: number, classes: number): string | null {
  if (Number.isInteger(label) && label >= 0 && label < classes) return null;
  if (!Number.isInteger(label)) return `label ${label} is not an integer class index`;
  return `label ${label} is not a class (the task has ${classes} classes, 0..${classes - 1})`;
}

function firstNonFinite(values: Float32Array, offset: number, size: number): number {
  for (let p = 0; p < size; p++) if (!Number.isFinite(values[offset + p])) return p;
  return -1;
}

