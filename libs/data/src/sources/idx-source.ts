import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { taskInputSize, type Task } from '../task/task';
import { dataProblems, describeFsError, emptyRead, failedRead, finishRead, finishRecords, reportNull } from './data-problems';
import type { DataProblems, DatasetSource, DatasetSpec, LoadedData, ReadOptions } from './dataset-source';
import {
  describeIdxSize,
  hex32,
  idxExpectedBytes,
  idxLabelsNameFor,
  idxMagic,
  idxTypeOf,
  isIdxImagesName,
  isIdxLabelsName,
  maybeGunzip,
  parseIdxHeader,
  readIdxMagic,
  type IdxHeader,
} from './idx-format';

/**
 * The IDX reader (`idx:PATH`): the format of the original MNIST files.
 *
 * Path conventions:
 * - PATH is a folder holding one images file (a name containing `images` and ending in `-ubyte`,
 *   `-ubyte.gz`, `.idx` or `.idx.gz`, e.g. `train-images-idx3-ubyte` or `images.idx`) and, for a
 *   labelled read, one labels file (a name containing `labels`, same endings). If the folder holds
 *   several labels files, the one named like the images file (`images` -> `labels`) is taken;
 *   several images files are an error (name the file instead).
 * - Or PATH is the images file itself; for a labelled read the labels file is the one beside it
 *   whose name is the images file's with `images` replaced by `labels` and `idx3`/`idx4` by
 *   `idx1` (`train-images-idx3-ubyte` -> `train-labels-idx1-ubyte`), with or without `.gz`.
 * - Unlabelled reads (proxy data) need only the images file.
 *
 * Contents: images are uint8 (magic 0x00000803: count x rows x cols, for a task [rows, cols, 1];
 * 0x00000804: count x H x W x C; 0x00000802: count x F, for a task [F]) or float32 (0x00000d0N);
 * labels are uint8 (0x00000801), each a class index of the task. Any file may be gzip-compressed
 * (recognised by its content, not its name). Raw values (pixels 0..255) are scaled as the task says.
 *
 * Memory: the file's bytes (decompressed) and one Float32Array of the inputs; no per-value JS arrays.
 */
export const idxSource: DatasetSource = {
  format: 'idx',
  async read(spec: DatasetSpec, options: ReadOptions): Promise<LoadedData> {
    return readIdxSync(spec.path, options);
  },
};

/** One opened IDX file: its header and its values' bytes (a view on the file's buffer, no copy). */
export interface IdxData {
  file: string;
  header: IdxHeader;
  data: Uint8Array;
  /** Usable records: the header's count, or fewer when the file is truncated (collect mode). */
  count: number;
}

export type IdxRole = 'images' | 'labels';

/** The files an IDX spec path stands for. */
export type IdxLocation = { ok: true; images: string; labels: string | null } | { ok: false; reason: string };

const IDX_NAME_RULE = "ending in -ubyte, -ubyte.gz, .idx or .idx.gz";

/** The IDX reader, synchronous (the embedded `mnist-full` set uses it too). */
export function readIdxSync(path: string, options: ReadOptions): LoadedData {
  const problems = options.problems ?? dataProblems('throw');
  const { task, labelled } = options;
  const located = locateIdxFiles(path, labelled);
  if (!located.ok) return failedRead(problems, path, located.reason, { task, labelled }, [path]);
  const files = located.labels ? [located.images, located.labels] : [located.images];
  const images = openIdx(located.images, 'images', problems);
  if (!images) return emptyRead({ task, labelled }, files);
  const misfit = imageDimsProblem(images.header.dims.slice(1), task);
  if (misfit) return failedRead(problems, images.file, misfit, { task, labelled }, files);
  if (!located.labels) return idxRecords(images, null, null, task, problems);
  const labels = openIdx(located.labels, 'labels', problems);
  if (!labels) return emptyRead({ task, labelled }, files);
  return idxRecords(images, labels, null, task, problems);
}

/** The images file (and, for a labelled read, the labels file) that `path` stands for; see the header comment. */
export function locateIdxFiles(path: string, labelled: boolean): IdxLocation {
  const stats = statOrNull(path);
  if (!stats) return { ok: false, reason: 'not found' };
  return stats.isDirectory() ? locateInFolder(path, labelled) : locateBesideImages(path, labelled);
}

function locateInFolder(folder: string, labelled: boolean): IdxLocation {
  let entries: string[];
  try {
    entries = readdirSync(folder);
  } catch (error) {
    return { ok: false, reason: `cannot be read: ${describeFsError(error)}` };
  }
  const names = entries.filter((name) => statOrNull(join(folder, name))?.isFile()).sort();
  const images = names.filter(isIdxImagesName);
  if (images.length === 0) return { ok: false, reason: `no IDX images file in this folder (a name containing 'images', ${IDX_NAME_RULE})` };
  if (images.length > 1) return { ok: false, reason: `${images.length} IDX images files in this folder (${images.join(', ')}): name one of them instead` };
  const imagesFile = join(folder, images[0]);
  if (!labelled) return { ok: true, images: imagesFile, labels: null };
  const labels = names.filter(isIdxLabelsName);
  if (labels.length === 0) {
    return { ok: false, reason: `no IDX labels file in this folder (a name containing 'labels', ${IDX_NAME_RULE}), needed for a labelled read` };
  }
  if (labels.length === 1) return { ok: true, images: imagesFile, labels: join(folder, labels[0]) };
  const paired = pairedLabelsNames(images[0]).find((name) => labels.includes(name));
  if (paired) return { ok: true, images: imagesFile, labels: join(folder, paired) };
  return { ok: false, reason: `${labels.length} IDX labels files in this folder (${labels.join(', ')}) and none is named like ${images[0]}` };
}

function locateBesideImages(imagesFile: string, labelled: boolean): IdxLocation {
  if (!labelled) return { ok: true, images: imagesFile, labels: null };
  const candidates = pairedLabelsNames(basename(imagesFile)).map((name) => join(dirname(imagesFile), name));
  if (candidates.length === 0) {
    return { ok: false, reason: "no labels file for a labelled read: the images file's name does not contain 'images' (name the folder holding one images and one labels file instead)" };
  }
  const found = candidates.find((candidate) => statOrNull(candidate)?.isFile());
  if (found) return { ok: true, images: imagesFile, labels: found };
  return { ok: false, reason: `labels file not found: looked for ${candidates.join(' and ')}` };
}

/** Labels names for an images name: the name with `images` -> `labels` (`idx3` -> `idx1`), then the same with or without `.gz`. */
function pairedLabelsNames(imagesName: string): string[] {
  const name = idxLabelsNameFor(imagesName);
  if (!name) return [];
  return [name, /\.gz$/i.test(name) ? name.replace(/\.gz$/i, '') : `${name}.gz`];
}

function statOrNull(path: string): ReturnType<typeof statSync> | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/**
 * Reads, decompresses and checks one IDX file in its role: the magic number, the size (truncated
 * or trailing bytes) and, for images, that there is at least one record. Reports problems; null
 * when the file cannot be used at all.
 */
export function openIdx(file: string, role: IdxRole, problems: DataProblems): IdxData | null {
  const bytes = readBytes(file, problems);
  if (!bytes) return null;
  const magicProblem = roleMagicProblem(bytes, role);
  if (magicProblem) return reportNull(problems, file, magicProblem);
  const parsed = parseIdxHeader(bytes);
  if (!parsed.ok) return reportNull(problems, file, parsed.reason);
  const { header } = parsed;
  const count = usableRecords(file, header, bytes.length, problems);
  if (role === 'images' && count === 0) {
    return reportNull(problems, file, header.dims[0] === 0 ? 'empty data set: 0 images' : 'empty data set: no complete image');
  }
  return { file, header, data: bytes.subarray(header.headerBytes), count };
}

function readBytes(file: string, problems: DataProblems): Buffer | null {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (error) {
    return reportNull(problems, file, `cannot be read: ${describeFsError(error)}`);
  }
  const unzipped = maybeGunzip(raw);
  return unzipped.ok ? unzipped.bytes : reportNull(problems, file, unzipped.reason);
}

const IMAGES_EXPECTED =
  `${hex32(idxMagic('uint8', 3))} (uint8 images, count x rows x cols; also ${hex32(idxMagic('uint8', 4))} for count x H x W x C, ` +
  `${hex32(idxMagic('uint8', 2))} for count x features, ${hex32(idxMagic('float32', 2))}-${hex32(idxMagic('float32', 4)).slice(-2)} for float32)`;
const LABELS_MAGIC = idxMagic('uint8', 1);

function roleMagicProblem(bytes: Uint8Array, role: IdxRole): string | null {
  const magic = readIdxMagic(bytes);
  if (magic === null) return `truncated: expected at least 4 bytes (the magic number), got ${bytes.length}`;
  if (role === 'labels') {
    if (magic === LABELS_MAGIC) return null;
    return `wrong magic number: expected ${hex32(LABELS_MAGIC)} (uint8 labels, count), got ${hex32(magic)}${looksLike(magic)}`;
  }
  const dimensions = magic & 0xff;
  if (idxTypeOf(magic) && dimensions >= 2 && dimensions <= 4) return null;
  return `wrong magic number: expected ${IMAGES_EXPECTED}, got ${hex32(magic)}${looksLike(magic)}`;
}

function looksLike(magic: number): string {
  if (magic === LABELS_MAGIC) return ' (a labels file?)';
  if (magic === idxMagic('uint8', 3) || magic === idxMagic('uint8', 4)) return ' (an images file?)';
  return '';
}

/** Records the file holds completely; reports a truncated file or bytes after the last record. */
function usableRecords(file: string, header: IdxHeader, size: number, problems: DataProblems): number {
  const expected = idxExpectedBytes(header);
  if (size === expected) return header.dims[0];
  if (size > expected) {
    problems.report(file, `expected ${expected} bytes (${describeIdxSize(header)}), got ${size}: ${size - expected} bytes after the last record`);
    return header.dims[0];
  }
  problems.report(file, `truncated: expected ${expected} bytes (${describeIdxSize(header)}), got ${size}`);
  const recordBytes = (header.dims.slice(1).reduce((a, b) => a * b, 1) || 1) * header.itemBytes;
  return Math.floor((size - header.headerBytes) / recordBytes);
}

/** Why image dims (after the count) do not fit the task's input shape, or null when they do. */
export function imageDimsProblem(dims: readonly number[], task: Task): string | null {
  if (dimsFitShape(dims, task.input.shape)) return null;
  const shape = task.input.shape;
  const accepted = shape[shape.length - 1] === 1 && shape.length > 1 ? `${shape.join(' x ')} or ${shape.slice(0, -1).join(' x ')}` : shape.join(' x ');
  return `image dims ${dims.join(' x ')} do not fit the task's input shape [${shape.join(', ')}] (expected ${accepted} per image)`;
}

/** Dims equal the shape, or the shape without its trailing 1 (`[28, 28]` for `[28, 28, 1]`). */
export function dimsFitShape(dims: readonly number[], shape: readonly number[]): boolean {
  const same = (a: readonly number[]) => a.length === dims.length && a.every((d, k) => d === dims[k]);
  return same(shape) || (shape.length > 1 && shape[shape.length - 1] === 1 && same(shape.slice(0, -1)));
}

/**
 * The records of opened IDX files (all of them, or the ones at `indices`, in that order) as the
 * task's inputs: labels checked against the task's classes, float values checked to be finite,
 * bad records reported and skipped, the rest scaled by `finishRead`. The images' dims must fit the
 * task (see `imageDimsProblem`).
 */
export function idxRecords(images: IdxData, labels: IdxData | null, indices: ArrayLike<number> | null, task: Task, problems: DataProblems): LoadedData {
  const files = labels ? [images.file, labels.file] : [images.file];
  const available = labels ? Math.min(images.count, countCheckedLabels(images, labels, problems)) : images.count;
  const total = indices ? indices.length : available;
  const size = taskInputSize(task);
  const classes = task.classes.length;
  let values = new Float32Array(total * size);
  let kept = labels ? new Uint8Array(total) : null;
  const fill = recordFiller(images, size);
  let count = 0;
  for (let k = 0; k < total; k++) {
    const record = indices ? indices[k] : k;
    if (!(record >= 0 && record < available)) throw new RangeError(`record ${record} is outside the ${available} records of ${images.file}`);
    if (labels && kept) {
      const label = labels.data[record];
      if (label >= classes) {
        problems.report(labels.file, `record ${record}: label ${label} is not a class (the task has ${classes} classes, 0..${classes - 1})`);
        continue;
      }
      kept[count] = label;
    }
    const bad = fill(record, values, count * size);
    if (bad >= 0) {
      problems.report(images.file, `record ${record}: value ${bad} of the image is NaN or infinite`);
      continue;
    }
    count++;
  }
  return finishRecords({ values, labels: kept, count, total, size, unit: 'records' }, { file: images.file, files, problems }, { task, labelled: labels !== null });
}

/** The labels' count; reports it when it differs from the images' count. */
function countCheckedLabels(images: IdxData, labels: IdxData, problems: DataProblems): number {
  if (labels.count !== images.count) {
    problems.report(labels.file, `has ${labels.count} labels but ${images.file} has ${images.count} images`);
  }
  return labels.count;
}

/** Copies record r's `size` values to out[offset..]; returns -1, or the index of a non-finite value. */
type RecordFiller = (record: number, out: Float32Array, offset: number) => number;

function recordFiller(images: IdxData, size: number): RecordFiller {
  const data = images.data;
  if (images.header.type === 'uint8') {
    return (record, out, offset) => {
      out.set(data.subarray(record * size, (record + 1) * size), offset);
      return -1;
    };
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return (record, out, offset) => {
    const start = record * size * 4;
    for (let p = 0; p < size; p++) {
      const v = view.getFloat32(start + 4 * p, false);
      if (!Number.isFinite(v)) return p;
      out[offset + p] = v;
    }
    return -1;
  };
}



