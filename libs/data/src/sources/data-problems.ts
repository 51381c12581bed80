import { scaleInputs, type Task } from '../task/task';
import { DataError, type DataProblems, type LoadedData, type ReadOptions } from './dataset-source';

/** Most problems a `collect` sink keeps (the count of the rest is still reported). */
export const MAX_LISTED_PROBLEMS = 100;

/**
 * A problem sink. `throw` (loading for real): the first problem throws a DataError
 * `where: what`. `collect` (`fedkd task check`): every problem is kept (the first 100 verbatim,
 * then a count), and the reader skips what is bad and goes on.
 */
export function dataProblems(mode: 'throw' | 'collect' = 'throw'): DataProblems {
  const list: string[] = [];
  let dropped = 0;
  return {
    mode,
    report(where: string, what: string): void {
      const line = `${where}: ${what}`;
      if (mode === 'throw') throw new DataError(line);
      if (list.length < MAX_LISTED_PROBLEMS) list.push(line);
      else dropped++;
    },
    get list(): readonly string[] {
      return dropped ? [...list, `... and ${dropped} more problems`] : list;
    },
  };
}

/**
 * The last step of every reader: raw values [count, ...task shape] -> the task's scaled inputs,
 * with the raw range recorded first. `values` is scaled in place.
 */
export function finishRead(values: Float32Array, count: number, labels: Uint8Array | null, task: Task, files: string[]): LoadedData {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const rawRange = values.length ? { min, max } : { min: NaN, max: NaN };
  scaleInputs(values, task);
  return { inputs: { values, count, inputShape: [...task.input.shape] }, labels, rawRange, files };
}

/** An empty result (raw range NaN), for a collect-mode read that could not go on. */
export function emptyRead(options: Pick<ReadOptions, 'task' | 'labelled'>, files: string[]): LoadedData {
  return finishRead(new Float32Array(0), 0, options.labelled ? new Uint8Array(0) : null, options.task, files);
}

/** Reports a problem that makes the whole read unusable and returns the empty result (in throw mode, throws). */
export function failedRead(problems: DataProblems, where: string, what: string, options: Pick<ReadOptions, 'task' | 'labelled'>, files: string[]): LoadedData {
  problems.report(where, what);
  return emptyRead(options, files);
}

/**
 * The end of a record-by-record read: `count` of `total` records were usable (the rest were
 * reported and skipped), their values and labels at the front of the arrays. None usable is an
 * "empty data set" problem naming `file`.
 */
export function finishRecords(
  read: { values: Float32Array; labels: Uint8Array | null; count: number; total: number; size: number; unit: string },
  where: { file: string; files: string[]; problems: DataProblems },
  options: Pick<ReadOptions, 'task' | 'labelled'>,
): LoadedData {
  const { count, total, size } = read;
  if (count === 0) return failedRead(where.problems, where.file, `empty data set: none of the ${total} ${read.unit} is usable`, options, where.files);
  const values = count < total ? read.values.slice(0, count * size) : read.values;
  const labels = read.labels && count < total ? read.labels.slice(0, count) : read.labels;
  return finishRead(values, count, labels, options.task, where.files);
}

/** A file-system error as a short reason: `no such file or folder`, else its code (EACCES, EISDIR, ...). */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or folder';
  return code ?? (error as Error).message;
}

/** Reports a problem and gives null (in throw mode, throws): for readers that return null for "skip". */
export function reportNull(problems: DataProblems, where: string, what: string): null {
  problems.report(where, what);
  return null;
}
