import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { taskInputSize, type Task } from '../task/task';
import type { DataProblems, DatasetSource, DatasetSpec, LoadedData, ReadOptions } from './dataset-source';
import { dataProblems, describeFsError, emptyRead, finishRead } from './data-problems';

/** File name endings (any case) read as images. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

/** Images decoded at once. */
export const IMAGE_DECODE_CONCURRENCY = 4;

/** `onProgress` is called after every this many images (and once at the end). */
export const IMAGE_PROGRESS_EVERY = 250;

/**
 * Reads a folder of images (format `image-folder`) for an `[H, W, C]` task.
 *
 * Layout: labelled, PATH holds one sub-folder per class, named exactly as the task's classes; the
 * images of a class are the files inside its folder (sub-folders included). A sub-folder the task
 * does not name is an error; a class without a folder, or with an empty one, is not (a client may
 * lack classes); image files lying directly in PATH are ignored. Unlabelled (proxy data), PATH is
 * a folder of images; sub-folders, if any, are read too and their names ignored. Images are the
 * files ending in `.png`, `.jpg` or `.jpeg` (any case); other files, and hidden files and folders
 * (names starting with `.`), are ignored. Order: classes in the task's order, then files by their
 * path inside the class folder (plain code-point order, so the same on every machine).
 *
 * Conversion of every image to the task's `[H, W, C]`:
 * - C = 1: any alpha is flattened onto black, then the image becomes greyscale (luminance, sharp's
 *   `greyscale()`);
 * - C = 3: sRGB; any alpha is flattened onto black; a greyscale image has its grey copied to R, G, B;
 * - C = 4: sRGB with alpha; an image without alpha gets an opaque one (255);
 * - then, when its size is not H x W, it is resized to exactly W x H with sharp's `fit: 'fill'`
 *   (stretched to fill, aspect ratio not kept, nothing cropped; default lanczos3 kernel); an image
 *   of the right size is not resampled;
 * - 16-bit images are reduced to 8 bits; EXIF orientation is not applied (pixels are used as
 *   stored);
 * - the 8-bit values 0..255 are the raw values: the task's scaling turns them into inputs.
 * An `[F]` (feature-vector) task cannot read images, nor can a task with C other than 1, 3 or 4.
 *
 * Problems (a folder the task does not name, an image that cannot be decoded, no images at all)
 * go to the `problems` sink naming the path; in collect mode a bad image is skipped. The result's
 * `files` is the folder itself (not every image's path).
 */
export const imageFolderSource: DatasetSource = {
  format: 'image-folder',
  read: readImageFolder,
};

/** One image to read, with its label (-1 when unlabelled). */
interface ListedImage {
  path: string;
  label: number;
}

/** Reads an image folder: see {@link imageFolderSource} for the layout and the conversion rule. */
export async function readImageFolder(spec: DatasetSpec, options: ReadOptions): Promise<LoadedData> {
  const problems = options.problems ?? dataProblems('throw');
  const root = spec.path;
  if (!checkImageTask(root, options.task, problems) || !(await checkFolder(root, problems))) return emptyRead(options, [root]);
  const images = options.labelled ? await listClassFolders(root, options.task, problems) : await listImages(root, -1, problems);
  if (images.length === 0) {
    problems.report(root, await describeNoImages(root, options));
    return emptyRead(options, [root]);
  }
  return decodeImages(root, images, options, problems);
}

/** Whether the task's inputs are images this reader can produce; reports why not. */
function checkImageTask(root: string, task: Task, problems: DataProblems): boolean {
  const shape = task.input.shape;
  if (shape.length !== 3) {
    problems.report(root, `an image folder cannot feed a task whose inputs are feature vectors (input shape [${shape.join(', ')}]); images need an [H, W, C] task (use csv, npy or idx for features)`);
    return false;
  }
  if (![1, 3, 4].includes(shape[2])) {
    problems.report(root, `images have 1, 3 or 4 channels, the task's input shape [${shape.join(', ')}] asks for ${shape[2]}`);
    return false;
  }
  return true;
}

async function checkFolder(root: string, problems: DataProblems): Promise<boolean> {
  try {
    if ((await stat(root)).isDirectory()) return true;
    problems.report(root, 'is not a folder (an image folder holds one sub-folder per class, or the images themselves for proxy data)');
  } catch (error) {
    problems.report(root, `cannot be read: ${describeFsError(error)}`);
  }
  return false;
}


/** The labelled listing: every class folder's images, classes in task order; unknown folders are reported. */
async function listClassFolders(root: string, task: Task, problems: DataProblems): Promise<ListedImage[]> {
  const classIndex = new Map(task.classes.map((name, i) => [name, i]));
  const folders = new Map<number, string>();
  for (const entry of await visibleEntries(root, problems)) {
    if (!(await isFolder(root, entry))) continue;
    const label = classIndex.get(entry.name);
    if (label === undefined) {
      problems.report(join(root, entry.name), `folder '${entry.name}' is not one of the task's classes (${listNames(task.classes)})`);
      continue;
    }
    folders.set(label, join(root, entry.name));
  }
  const images: ListedImage[] = [];
  for (let label = 0; label < task.classes.length; label++) {
    const folder = folders.get(label);
    if (folder !== undefined) images.push(...(await listImages(folder, label, problems)));
  }
  return images;
}

/** Every image under `folder` (sub-folders included), sorted by path inside it. */
async function listImages(folder: string, label: number, problems: DataProblems): Promise<ListedImage[]> {
  const relative: string[] = [];
  await collectImagePaths(folder, '', relative, problems);
  relative.sort(compareCodePoints);
  return relative.map((path) => ({ path: join(folder, path), label }));
}

async function collectImagePaths(root: string, prefix: string, out: string[], problems: DataProblems): Promise<void> {
  const here = prefix ? join(root, prefix) : root;
  for (const entry of await visibleEntries(here, problems)) {
    const relative = prefix ? join(prefix, entry.name) : entry.name;
    if (await isFolder(here, entry)) await collectImagePaths(root, relative, out, problems);
    else if (isImageName(entry.name)) out.push(relative);
  }
}

/** Entries not starting with `.`; none (after a report) when the folder cannot be listed. */
async function visibleEntries(folder: string, problems: DataProblems): Promise<Dirent[]> {
  try {
    const entries = await readdir(folder, { withFileTypes: true });
    return entries.filter((entry) => !entry.name.startsWith('.'));
  } catch (error) {
    problems.report(folder, `cannot be listed: ${describeFsError(error)}`);
    return [];
  }
}

/** A folder, or a symbolic link to one. */
async function isFolder(parent: string, entry: Dirent): Promise<boolean> {
  if (entry.isDirectory()) return true;
  if (!entry.isSymbolicLink()) return false;
  return (await stat(join(parent, entry.name)).catch(() => null))?.isDirectory() ?? false;
}

/** Whether a file name ends in one of {@link IMAGE_EXTENSIONS} (any case). */
export function isImageName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ending) => lower.endsWith(ending));
}

function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Why a folder yielded no image, with a hint at the layout that was expected. */
async function describeNoImages(root: string, options: ReadOptions): Promise<string> {
  const extensions = IMAGE_EXTENSIONS.join(', ');
  if (!options.labelled) return `holds no images (${extensions})`;
  const loose = (await visibleEntries(root, dataProblems('collect'))).filter((entry) => entry.isFile() && isImageName(entry.name)).length;
  const hint = loose ? `; ${loose} images lie directly in the folder, but labelled images go in their class's sub-folder` : '';
  return `holds no images (${extensions}) in class folders (one sub-folder per class: ${listNames(options.task.classes)})${hint}`;
}

/**
 * Decodes the listed images, {@link IMAGE_DECODE_CONCURRENCY} at a time, straight into one
 * Float32Array; in collect mode the images that failed are left out at the end.
 */
async function decodeImages(root: string, images: ListedImage[], options: ReadOptions, problems: DataProblems): Promise<LoadedData> {
  const task = options.task;
  const size = taskInputSize(task);
  const total = images.length;
  const values = new Float32Array(total * size);
  const decoded = new Uint8Array(total);
  let nextIndex = 0;
  let done = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && nextIndex < total) {
      const index = nextIndex++;
      try {
        await decodeImageInto(images[index].path, task, values, index * size);
        decoded[index] = 1;
      } catch (error) {
        reportDecodeError(images[index].path, error, problems, () => (failed = true));
      }
      done++;
      if (options.onProgress && (done % IMAGE_PROGRESS_EVERY === 0 || done === total)) options.onProgress(done, total);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IMAGE_DECODE_CONCURRENCY, total) }, worker));
  const labels = options.labelled ? Uint8Array.from(images, (image) => image.label) : null;
  const kept = keepDecoded(values, labels, decoded, size);
  return finishRead(kept.values, kept.count, kept.labels, task, [root]);
}

/** Reports an image that failed; in throw mode stops the other workers first. */
function reportDecodeError(path: string, error: unknown, problems: DataProblems, stop: () => void): void {
  if (problems.mode === 'throw') stop();
  problems.report(path, `cannot be decoded as an image: ${(error as Error).message}`);
}

/**
 * Decodes one image file into `out[offset .. offset + H*W*C)` as raw values 0..255, converted to
 * the task's channels and size by the rule of {@link imageFolderSource}.
 */
export async function decodeImageInto(path: string, task: Task, out: Float32Array, offset: number): Promise<void> {
  const [height, width, channels] = task.input.shape;
  const { data, info } = await convertImage(sharp(path, { failOn: 'error' }), channels)
    .resize(width, height, { fit: 'fill' })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== channels || data.length !== width * height * channels) {
    throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, not ${width}x${height}x${channels}`);
  }
  for (let i = 0; i < data.length; i++) out[offset + i] = data[i];
}

/** The channel part of the conversion rule (sharp does not resample when the size already fits). */
function convertImage(image: Sharp, channels: number): Sharp {
  if (channels === 1) return image.flatten({ background: '#000000' }).greyscale();
  if (channels === 3) return image.flatten({ background: '#000000' }).toColourspace('srgb');
  return image.ensureAlpha(1).toColourspace('srgb');
}

/** The decoded images only (all of them unless collect mode skipped some), in listing order. */
function keepDecoded(values: Float32Array, labels: Uint8Array | null, decoded: Uint8Array, size: number): { values: Float32Array; labels: Uint8Array | null; count: number } {
  const total = decoded.length;
  let count = 0;
  for (let i = 0; i < total; i++) {
    if (!decoded[i]) continue;
    if (count !== i) {
      values.copyWithin(count * size, i * size, (i + 1) * size);
      if (labels) labels[count] = labels[i];
    }
    count++;
  }
  if (count === total) return { values, labels, count };
  return { values: values.slice(0, count * size), labels: labels && labels.slice(0, count), count };
}

function listNames(names: readonly string[]): string {
  return names.length > 20 ? `${names.slice(0, 20).join(', ')}, ... ${names.length - 20} more` : names.join(', ');
}

