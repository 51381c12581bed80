import { mkdir, open, readdir, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { taskInputSize, type Task } from '../task/task';
import { CSV_FOLDER_FILE, DEFAULT_LABEL_COLUMN } from './csv-source';
import { DataError, type DatasetFormat } from './dataset-source';
import { encodeIdx } from './idx-format';
import { encodeNpy } from './npy-format';

/** The formats `fedkd data export` writes (every readable format but `embedded`). */
export type WritableFormat = Exclude<DatasetFormat, 'embedded'>;
export const WRITABLE_FORMATS: readonly WritableFormat[] = ['idx', 'npy', 'csv', 'image-folder'];

/** What a writer writes: RAW values (before the task's scaling), `count` inputs of `inputShape`, row-major, channels last. */
export interface DatasetToWrite {
  raw: Float32Array | Uint8Array;
  count: number;
  /** Must be the task's input shape. */
  inputShape: number[];
  /** Class indices, or null for an unlabelled set (proxy data). */
  labels: Uint8Array | null;
  task: Task;
}

/** File names the writers use, which the readers find by default. */
export const WRITTEN_FILES = {
  npyInputs: 'inputs.npy',
  npyLabels: 'labels.npy',
  idxLabels: 'labels-idx1-ubyte',
  csv: CSV_FOLDER_FILE,
} as const;

/** The IDX inputs file for a shape: `images-idx3-ubyte` ([H, W, 1]), `images-idx4-ubyte` ([H, W, C > 1]), `images-idx2-ubyte` ([F]). */
export function idxInputsFileName(inputShape: readonly number[]): string {
  return `images-idx${idxDimensions(inputShape).length + 1}-ubyte`;
}

/** Images written at once by the image-folder writer. */
const PNG_WRITE_CONCURRENCY = 4;

/** CSV rows formatted per write. */
const CSV_ROWS_PER_CHUNK = 512;

/**
 * Writes a data set into `dir` (created if missing; it must be empty) so that the reader of
 * `format` reads back the same raw values and labels, and returns the files written.
 *
 * Values are written as bytes (uint8) when every raw value is an integer in 0..255, else as
 * float32: npy `<f4`, CSV decimal text that reads back as the same float32; IDX and PNG hold bytes
 * only and refuse float values. Layouts:
 * - `image-folder`: labelled `dir/<class name>/<index>.png` (a folder for every class), unlabelled
 *   `dir/<index>.png`; the index is the input's position, zero-padded so that name order is input
 *   order; PNG greyscale, RGB or RGBA for C = 1, 3, 4; only for `[H, W, C]` tasks. A labelled set
 *   reads back grouped by class (classes in task order, each in input order).
 * - `csv`: `dir/data.csv`, header `f0,f1,...,f{F-1},label` (the label as the class name; no label
 *   column when unlabelled); an image's features are its flattened pixels (row-major, channels last).
 * - `npy`: `dir/inputs.npy` (shape [N, ...inputShape]) and, when labelled, `dir/labels.npy`
 *   (uint8 `|u1`, shape [N]).
 * - `idx`: `dir/images-idx3-ubyte` for [H, W, 1] (dimensions N, H, W), `images-idx4-ubyte` for
 *   [H, W, C > 1] (N, H, W, C), `images-idx2-ubyte` for [F] (N, F), and, when labelled,
 *   `dir/labels-idx1-ubyte`.
 */
export async function writeDataset(format: WritableFormat, dir: string, data: DatasetToWrite): Promise<string[]> {
  if (!WRITABLE_FORMATS.includes(format)) throw new DataError(`${dir}: cannot write format '${String(format)}' (writable: ${WRITABLE_FORMATS.join(', ')})`);
  checkDatasetToWrite(data);
  const bytes = rawAsBytes(data.raw);
  checkFormatFits(format, dir, data, bytes);
  await prepareEmptyDir(dir);
  switch (format) {
    case 'image-folder':
      return writeImageFolder(dir, data, bytes!);
    case 'csv':
      return [await writeCsv(dir, data, bytes)];
    case 'npy':
      return writeNpy(dir, data, bytes);
    case 'idx':
      return writeIdx(dir, data, bytes!);
  }
}

function checkDatasetToWrite(data: DatasetToWrite): void {
  const { raw, count, inputShape, labels, task } = data;
  if (inputShape.length !== task.input.shape.length || inputShape.some((d, i) => d !== task.input.shape[i])) {
    throw new DataError(`the input shape [${inputShape.join(', ')}] is not the task's [${task.input.shape.join(', ')}]`);
  }
  const size = inputShape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(count) || count < 0 || raw.length !== count * size) {
    throw new DataError(`${raw.length} raw values are not ${count} inputs of [${inputShape.join(', ')}]`);
  }
  for (let i = 0; i < raw.length; i++) {
    if (!Number.isFinite(raw[i])) throw new DataError(`raw value ${raw[i]} at ${i} is not a finite number`);
  }
  if (labels) {
    if (labels.length !== count) throw new DataError(`${labels.length} labels for ${count} inputs`);
    const bad = labels.findIndex((label) => label >= task.classes.length);
    if (bad >= 0) throw new DataError(`label ${labels[bad]} at ${bad} is not a class index in [0, ${task.classes.length})`);
  }
}

/** Refuses, before anything is written, what `format` cannot hold. */
function checkFormatFits(format: WritableFormat, dir: string, data: DatasetToWrite, bytes: Uint8Array | null): void {
  if (format === 'image-folder') {
    const shape = data.task.input.shape;
    if (shape.length !== 3 || ![1, 3, 4].includes(shape[2])) {
      throw new DataError(`${dir}: an image folder holds [H, W, C] images with C = 1, 3 or 4; the task's input shape is [${shape.join(', ')}]`);
    }
    if (!bytes) throw new DataError(`${dir}: PNG holds bytes, but some raw values are not integers in 0..255 (write npy or csv instead)`);
    const unsafe = data.labels ? data.task.classes.find((name) => !isSafeFolderName(name)) : undefined;
    if (unsafe !== undefined) throw new DataError(`${dir}: class '${unsafe}' cannot be a folder name (no '/', '\\', control characters, leading '.')`);
  }
  if (format === 'idx' && !bytes) {
    throw new DataError(`${dir}: IDX is written as unsigned bytes, but some raw values are not integers in 0..255 (write npy or csv instead)`);
  }
}

/** Creates `dir`, or checks it is empty: a writer never mixes its files with older ones. */
async function prepareEmptyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir);
  if (entries.length) throw new DataError(`${dir}: is not empty (${entries.length} entries); data sets are written into a new or empty folder`);
}

/** The raw values as bytes when every one is an integer in 0..255; null when some is not. */
export function rawAsBytes(raw: Float32Array | Uint8Array): Uint8Array | null {
  if (raw instanceof Uint8Array) return raw;
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i];
    if (!(v >= 0 && v <= 255 && Number.isInteger(v))) return null;
  }
  return Uint8Array.from(raw);
}

// ---------------------------------------------------------------------------------- image folder

async function writeImageFolder(dir: string, data: DatasetToWrite, bytes: Uint8Array): Promise<string[]> {
  const { task, labels, count } = data;
  const shape = task.input.shape;
  if (labels) for (const name of task.classes) await mkdir(join(dir, name), { recursive: true });
  const digits = String(Math.max(0, count - 1)).length;
  const pathOf = (i: number): string => {
    const name = `${String(i).padStart(digits, '0')}.png`;
    return labels ? join(dir, task.classes[labels[i]], name) : join(dir, name);
  };
  const [height, width, channels] = shape;
  const size = height * width * channels;
  const files = Array.from({ length: count }, (_, i) => pathOf(i));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await writePng(files[i], bytes.subarray(i * size, (i + 1) * size), width, height, channels as 1 | 3 | 4);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PNG_WRITE_CONCURRENCY, count) }, worker));
  return files;
}

/** A class name usable as one visible folder name on every system. */
function isSafeFolderName(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return name.length > 0 && !name.startsWith('.') && !/[/\\\u0000-\u001f]/.test(name);
}

/** One PNG from raw bytes: greyscale (C = 1), RGB (3) or RGBA (4). */
export async function writePng(path: string, pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Promise<void> {
  const raw = { width, height, channels };
  let image = sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw });
  // A one-channel raw image is written as RGB unless it is marked greyscale.
  if (channels === 1) image = image.toColourspace('b-w');
  await image.png().toFile(path);
}

// ------------------------------------------------------------------------------------------ csv

async function writeCsv(dir: string, data: DatasetToWrite, bytes: Uint8Array | null): Promise<string> {
  const { raw, count, task, labels } = data;
  const size = taskInputSize(task);
  const format = bytes ? (v: number) => String(v) : formatFloat32;
  const values = bytes ?? raw;
  const path = join(dir, WRITTEN_FILES.csv);
  const header = Array.from({ length: size }, (_, k) => `f${k}`);
  if (labels) header.push(DEFAULT_LABEL_COLUMN);
  const classCells = task.classes.map(csvField);
  const handle = await open(path, 'w');
  try {
    await writeAll(handle, Buffer.from(`${header.join(',')}\n`));
    for (let start = 0; start < count; start += CSV_ROWS_PER_CHUNK) {
      const lines: string[] = [];
      for (let i = start; i < Math.min(count, start + CSV_ROWS_PER_CHUNK); i++) {
        const cells: string[] = new Array<string>(size);
        for (let k = 0; k < size; k++) cells[k] = format(values[i * size + k]);
        if (labels) cells.push(classCells[labels[i]]);
        lines.push(cells.join(','));
      }
      await writeAll(handle, Buffer.from(`${lines.join('\n')}\n`));
    }
  } finally {
    await handle.close();
  }
  return path;
}

/** The shortest decimal text that reads back (as a double, then rounded to float32) as the same float32. */
export function formatFloat32(value: number): string {
  const target = Math.fround(value);
  if (Object.is(target, -0)) return '-0';
  if (Number.isInteger(target) && Math.abs(target) < 1e21) return String(target);
  for (let digits = 1; digits <= 9; digits++) {
    const text = target.toPrecision(digits);
    if (Math.fround(Number(text)) === target) return String(Number(text));
  }
  return String(target);
}

/** A CSV field, quoted when it holds a comma, a quote, a line break or blanks at either end. */
function csvField(text: string): string {
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// ------------------------------------------------------------------------------------------ npy

async function writeNpy(dir: string, data: DatasetToWrite, bytes: Uint8Array | null): Promise<string[]> {
  const inputs = join(dir, WRITTEN_FILES.npyInputs);
  const shape = [data.count, ...data.inputShape];
  await writeFile(inputs, bytes ? encodeNpy(bytes, shape, '|u1') : encodeNpy(data.raw, shape, '<f4'));
  if (!data.labels) return [inputs];
  const labels = join(dir, WRITTEN_FILES.npyLabels);
  await writeFile(labels, encodeNpy(data.labels, [data.count], '|u1'));
  return [inputs, labels];
}

// ------------------------------------------------------------------------------------------ idx

async function writeIdx(dir: string, data: DatasetToWrite, bytes: Uint8Array): Promise<string[]> {
  const inputs = join(dir, idxInputsFileName(data.inputShape));
  await writeFile(inputs, encodeIdx(bytes, [data.count, ...idxDimensions(data.inputShape)], 'uint8'));
  if (!data.labels) return [inputs];
  const labels = join(dir, WRITTEN_FILES.idxLabels);
  await writeFile(labels, encodeIdx(data.labels, [data.count], 'uint8'));
  return [inputs, labels];
}

/** Per-input IDX dimensions: [H, W] for one channel, [H, W, C] for more, [F] for features. */
function idxDimensions(inputShape: readonly number[]): number[] {
  return inputShape.length === 3 && inputShape[2] === 1 ? inputShape.slice(0, 2) : [...inputShape];
}

/** Writes every byte (a single write may write fewer). */
async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, at, bytes.length - at);
    at += bytesWritten;
  }
}
