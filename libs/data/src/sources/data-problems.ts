import { scaleInputs, type Task } from '../task/task';
import { DataError, type DataProblems, type LoadedData } from './dataset-source';

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
