import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, type CsvError, type Info } from 'csv-parse';
import { taskInputSize, type Task } from '../task/task';
import { DataError, type DataProblems, type DatasetSource, type DatasetSpec, type LoadedData, type ReadOptions } from './dataset-source';
import { dataProblems, describeFsError, emptyRead, finishRead } from './data-problems';

/** The file a CSV data set's folder holds. */
export const CSV_FOLDER_FILE = 'data.csv';

/** The label column's name when `ReadOptions.labelColumn` does not name another. */
export const DEFAULT_LABEL_COLUMN = 'label';

/**
 * Reads a CSV data set (format `csv`). PATH is a `.csv` file, or a folder holding `data.csv`.
 *
 * - The first row is a header naming every column; names must not repeat.
 * - Labelled reads: the label column is `labelColumn` (default `label`) and must be present; every
 *   other column is a numeric feature, in header order.
 * - Unlabelled reads (proxy data): labels are not read; a column named like the label column, if
 *   present, is ignored (it is not taken as a feature), so a labelled file can serve as proxy data.
 * - The number of feature columns must be the task's input size: F for an `[F]` task, or H*W*C for
 *   an `[H, W, C]` task (the row holds the values row-major, channels last).
 * - A label cell equal to one of the task's class names is that class; otherwise an integer in
 *   [0, classes) is a class index.
 * - Feature cells are decimal numbers (`12`, `-0.5`, `1e-3`; blanks around them allowed); empty
 *   cells, `NaN`, infinities and anything else are errors.
 * - Fields may be quoted (`"1,5"` is one field); a UTF-8 byte-order mark and empty lines are
 *   skipped; line numbers in messages are 1-based file lines (the header is line 1; a record whose
 *   quoted field spans lines is named by its last line).
 *
 * Problems (a cell that is not a number, a row with another number of columns than the header, an
 * unknown label, a missing label column, a repeated header name, no rows at all) go to the
 * `problems` sink as `file:line[:column]: problem`; in collect mode a bad row is skipped and the
 * file is read on. The file is parsed as a stream: the text is never held whole in memory.
 */
export const csvSource: DatasetSource = {
  format: 'csv',
  read: readCsv,
};

/** Reads a CSV data set: see {@link csvSource} for the rules. */
export async function readCsv(spec: DatasetSpec, options: ReadOptions): Promise<LoadedData> {
  const problems = options.problems ?? dataProblems('throw');
  const file = await resolveCsvFile(spec.path, problems);
  if (file === null) return emptyRead(options, []);
  return new CsvReader(file, options, problems).read();
}

/** `path` itself, or `path/data.csv` when `path` is a folder; null (after a report) when neither is readable. */
async function resolveCsvFile(path: string, problems: DataProblems): Promise<string | null> {
  try {
    const stats = await stat(path);
    if (!stats.isDirectory()) return path;
    const inner = join(path, CSV_FOLDER_FILE);
    const innerStats = await stat(inner).catch(() => null);
    if (innerStats?.isFile()) return inner;
    problems.report(path, `is a folder without ${CSV_FOLDER_FILE} (a CSV data set is a .csv file, or a folder holding ${CSV_FOLDER_FILE})`);
  } catch (error) {
    problems.report(path, `cannot be read: ${describeFsError(error)}`);
  }
  return null;
}


/** The columns a header maps to: where the label is (or -1) and which columns are features, in order. */
interface CsvLayout {
  header: string[];
  labelIndex: number;
  featureIndices: number[];
}

/** One CSV record as csv-parse gives it with `info: true`. */
interface CsvRecord {
  record: string[];
  info: Info;
}

class CsvReader {
  private readonly task: Task;
  private readonly size: number;
  private readonly labelColumn: string;
  private readonly classIndex: Map<string, number>;
  private rows: GrowingRows | null = null;
  private layout: CsvLayout | null = null;
  private headerBytes = 0;
  private dataRecords = 0;
  /** Problems csv-parse skipped past (collect mode), reported in line order. */
  private readonly skipped: { line: number; what: string }[] = [];

  constructor(
    private readonly file: string,
    private readonly options: ReadOptions,
    private readonly problems: DataProblems,
  ) {
    this.task = options.task;
    this.size = taskInputSize(options.task);
    this.labelColumn = options.labelColumn ?? DEFAULT_LABEL_COLUMN;
    this.classIndex = new Map(options.task.classes.map((name, i) => [name, i]));
  }

  async read(): Promise<LoadedData> {
    const fileSize = (await stat(this.file)).size;
    const source = createReadStream(this.file, { highWaterMark: 1 << 20 });
    const parser = parse({
      info: true,
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      skip_records_with_error: this.problems.mode === 'collect',
      on_skip: (error) => this.onSkip(error),
    });
    source.on('error', (error) => parser.destroy(error));
    source.pipe(parser);
    try {
      for await (const item of parser as AsyncIterable<CsvRecord>) {
        this.flushSkipped(item.info.lines);
        if (!this.layout) {
          this.layout = this.readHeader(item.record);
          if (!this.layout) return emptyRead(this.options, [this.file]);
          this.headerBytes = item.info.bytes;
          continue;
        }
        this.dataRecords++;
        this.rows ??= new GrowingRows(this.size, this.options.labelled, estimateRows(fileSize, this.headerBytes, item.info.bytes));
        this.readRow(item.record, item.info.lines, this.layout, this.rows);
      }
    } catch (error) {
      if (error instanceof DataError) throw error;
      this.problems.report(this.where((error as CsvError).lines), parserMessage(error));
    } finally {
      source.destroy();
    }
    this.flushSkipped(Infinity);
    return this.finish();
  }

  private finish(): LoadedData {
    if (!this.layout) {
      this.problems.report(this.file, 'is empty: a header row naming the columns is required');
      return emptyRead(this.options, [this.file]);
    }
    if (this.dataRecords === 0) {
      this.problems.report(this.file, 'holds no data rows (only the header)');
      return emptyRead(this.options, [this.file]);
    }
    const rows = this.rows ?? new GrowingRows(this.size, this.options.labelled, 0);
    const { values, labels } = rows.take();
    return finishRead(values, rows.count, labels, this.task, [this.file]);
  }

  /** Validates the header row; null (after a report) when the file cannot be read with it. */
  private readHeader(record: string[]): CsvLayout | null {
    const header = record.map((name) => name.trim());
    const seen = new Map<string, number>();
    for (let i = 0; i < header.length; i++) {
      const first = seen.get(header[i]);
      if (first !== undefined) {
        this.problems.report(this.where(1), `header name '${header[i]}' repeats: columns ${first + 1} and ${i + 1}`);
        return null;
      }
      seen.set(header[i], i);
    }
    const labelIndex = header.indexOf(this.labelColumn);
    if (this.options.labelled && labelIndex < 0) {
      this.problems.report(this.where(1), `no label column '${this.labelColumn}' in the header (${header.join(', ')})`);
      return null;
    }
    const featureIndices = header.map((_, i) => i).filter((i) => i !== labelIndex);
    if (featureIndices.length !== this.size) {
      const besides = labelIndex >= 0 ? ` besides '${this.labelColumn}'` : '';
      const shape = `[${this.task.input.shape.join(', ')}]`;
      this.problems.report(this.file, `the header has ${featureIndices.length} feature columns${besides}, the task's input shape ${shape} needs ${this.size}`);
      return null;
    }
    return { header, labelIndex, featureIndices };
  }

  /** Parses one data row into the next slot of `rows`; a bad row is reported and not kept. */
  private readRow(record: string[], line: number, layout: CsvLayout, rows: GrowingRows): void {
    if (record.length !== layout.header.length) {
      this.problems.report(this.where(line), `${record.length} column${record.length === 1 ? '' : 's'}, the header has ${layout.header.length}`);
      return;
    }
    const slot = rows.next();
    const { featureIndices } = layout;
    for (let k = 0; k < featureIndices.length; k++) {
      const column = featureIndices[k];
      const value = parseNumberCell(record[column]);
      if (value === null) {
        this.problems.report(this.where(line, column), `${quoteCell(record[column])} is not a number (column '${layout.header[column]}')`);
        return;
      }
      slot.values[k] = value;
    }
    if (this.options.labelled) {
      const label = this.parseLabel(record[layout.labelIndex]);
      if (label === null) {
        const classes = this.task.classes;
        this.problems.report(this.where(line), `label ${quoteCell(record[layout.labelIndex])} is not among the task's classes (${listNames(classes)}) nor an index in [0, ${classes.length})`);
        return;
      }
      slot.setLabel(label);
    }
    rows.commit();
  }

  /** A class name, or else an integer class index; null when neither. */
  private parseLabel(cell: string): number | null {
    const text = cell.trim();
    const named = this.classIndex.get(text);
    if (named !== undefined) return named;
    if (!/^\d+$/.test(text)) return null;
    const index = Number(text);
    return index < this.task.classes.length ? index : null;
  }

  private onSkip(error: CsvError | undefined): undefined {
    if (error) this.skipped.push({ line: typeof error.lines === 'number' ? error.lines : 0, what: parserMessage(error) });
    return undefined;
  }

  /** Reports the parser's skipped records that lie before `line`, so problems come in file order. */
  private flushSkipped(line: number): void {
    while (this.skipped.length && this.skipped[0].line <= line) {
      const next = this.skipped.shift()!;
      this.problems.report(this.where(next.line), next.what);
    }
  }

  /** `file:line[:column]`, with `column` 0-based here and 1-based in the text. */
  private where(line?: unknown, column?: number): string {
    if (typeof line !== 'number' || !(line > 0)) return this.file;
    return column === undefined ? `${this.file}:${line}` : `${this.file}:${line}:${column + 1}`;
  }
}

/**
 * The rows read so far: one Float32Array of row-major values (and labels), reserved once from an
 * estimate and doubled when the estimate was short.
 */
class GrowingRows {
  count = 0;
  private values: Float32Array;
  private labels: Uint8Array | null;
  private capacity: number;

  constructor(
    private readonly size: number,
    labelled: boolean,
    initialRows: number,
  ) {
    this.capacity = Math.max(16, initialRows);
    this.values = new Float32Array(this.capacity * size);
    this.labels = labelled ? new Uint8Array(this.capacity) : null;
  }

  /** The slot after the last kept row (kept only after `commit`). */
  next(): { values: Float32Array; setLabel(label: number): void } {
    if (this.count === this.capacity) this.grow();
    const at = this.count;
    return {
      values: this.values.subarray(at * this.size, (at + 1) * this.size),
      setLabel: (label: number) => {
        if (this.labels) this.labels[at] = label;
      },
    };
  }

  commit(): void {
    this.count++;
  }

  /** The kept rows, exactly `count` of them. */
  take(): { values: Float32Array; labels: Uint8Array | null } {
    const exact = this.count === this.capacity;
    return {
      values: exact ? this.values : this.values.slice(0, this.count * this.size),
      labels: this.labels && (exact ? this.labels : this.labels.slice(0, this.count)),
    };
  }

  private grow(): void {
    this.capacity *= 2;
    const values = new Float32Array(this.capacity * this.size);
    values.set(this.values);
    this.values = values;
    if (this.labels) {
      const labels = new Uint8Array(this.capacity);
      labels.set(this.labels);
      this.labels = labels;
    }
  }
}

/** Rows a file probably holds, from the size of its first data row (with 5% to spare). */
function estimateRows(fileSize: number, headerBytes: number, bytesAfterFirstRow: number): number {
  const rowBytes = Math.max(1, bytesAfterFirstRow - headerBytes);
  return Math.ceil(((fileSize - headerBytes) / rowBytes) * 1.05) + 1;
}

const DECIMAL = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** A decimal number cell as a finite number; null for anything else (empty, NaN, Infinity, hex, text). */
export function parseNumberCell(cell: string): number | null {
  if (!DECIMAL.test(cell)) return null;
  const value = Number(cell);
  return Number.isFinite(value) ? value : null;
}

function quoteCell(cell: string): string {
  return `'${cell.length > 40 ? `${cell.slice(0, 37)}...` : cell}'`;
}

function listNames(names: readonly string[]): string {
  return names.length > 20 ? `${names.slice(0, 20).join(', ')}, ... ${names.length - 20} more` : names.join(', ');
}

/** A csv-parse error (an unclosed quote, a stray quote) as a problem. */
function parserMessage(error: unknown): string {
  return `not valid CSV: ${(error as Error).message}`;
}

