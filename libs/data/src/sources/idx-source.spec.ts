import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { MNIST_TASK } from '../task/task';
import { dataProblems } from './data-problems';
import { DataError, type ReadOptions } from './dataset-source';
import { cyclicLabels, dataErrorOf, dividedBy255, patternBytes, put, scratchFolders, testTask } from './fixtures.testing';
import { encodeIdx, encodeIdxImages, encodeIdxLabels, hex32, isGzip, parseIdxHeader } from './idx-format';
import { idxSource, locateIdxFiles, readIdxSync } from './idx-source';

const folders = scratchFolders('idx');
afterAll(() => folders.removeAll());

const PIXELS = 28 * 28;
const labelled: ReadOptions = { task: MNIST_TASK, labelled: true };
const unlabelled: ReadOptions = { task: MNIST_TASK, labelled: false };

/** A folder with `count` 28x28 digits as `train-images-idx3-ubyte` + `train-labels-idx1-ubyte` (gzip optional). */
function mnistLikeFolder(count = 10, gzip = false): { dir: string; images: string; labels: string; pixels: Uint8Array; digits: Uint8Array } {
  const dir = folders.make();
  const pixels = patternBytes(count, PIXELS);
  const digits = cyclicLabels(count, 10);
  const pack = (bytes: Buffer) => (gzip ? gzipSync(bytes) : bytes);
  const suffix = gzip ? '.gz' : '';
  const images = put(dir, `train-images-idx3-ubyte${suffix}`, pack(encodeIdxImages(pixels, count, [28, 28])));
  const labels = put(dir, `train-labels-idx1-ubyte${suffix}`, pack(encodeIdxLabels(digits)));
  return { dir, images, labels, pixels, digits };
}

describe('IDX codec', () => {
  it('writes the big-endian header of the MNIST files: magic 0x00000803, then count, rows, cols', () => {
    const bytes = encodeIdxImages(new Uint8Array(2 * 3 * 4), 2, [3, 4]);
    expect([...bytes.subarray(0, 16)]).toEqual([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
    const parsed = parseIdxHeader(bytes);
    expect(parsed.ok && parsed.header).toMatchObject({ magic: 0x803, type: 'uint8', dims: [2, 3, 4], headerBytes: 16 });
    expect(hex32(0x801)).toBe('0x00000801');
  });

  it('refuses a value a uint8 file cannot hold', () => {
    expect(() => encodeIdx([0, 256], [2])).toThrow(/values\[1\] = 256 is not a uint8/);
  });
});

describe('IDX reader: round trips', () => {
  it('reads a folder of uint8 images and labels: pixels scaled by the task (raw / 255), labels as written', () => {
    const { dir, images, labels, pixels, digits } = mnistLikeFolder(10);
    const loaded = readIdxSync(dir, labelled);
    expect(loaded.inputs.count).toBe(10);
    expect(loaded.inputs.inputShape).toEqual([28, 28, 1]);
    expect(loaded.inputs.values).toEqual(dividedBy255(pixels));
    expect(loaded.labels).toEqual(digits);
    expect(loaded.rawRange).toEqual({ min: 0, max: 255 });
    expect(loaded.files).toEqual([images, labels]);
  });

  it('reads gzip files (recognised by their magic bytes, whatever their name)', () => {
    const gz = mnistLikeFolder(10, true);
    expect(isGzip(readFileSync(gz.images))).toBe(true);
    expect(readIdxSync(gz.dir, labelled).inputs.values).toEqual(dividedBy255(gz.pixels));

    const dir = folders.make();
    put(dir, 'images.idx', gzipSync(encodeIdxImages(gz.pixels, 10, [28, 28])));
    put(dir, 'labels.idx', encodeIdxLabels(gz.digits));
    const loaded = readIdxSync(dir, labelled);
    expect(loaded.inputs.values).toEqual(dividedBy255(gz.pixels));
    expect(loaded.labels).toEqual(gz.digits);
  });

  it('takes an images file as PATH and finds its labels beside it (images -> labels, idx3 -> idx1, with or without .gz)', async () => {
    const { images, labels, digits } = mnistLikeFolder(10);
    const loaded = await idxSource.read({ format: 'idx', path: images, text: `idx:${images}` }, labelled);
    expect(loaded.labels).toEqual(digits);
    expect(loaded.files).toEqual([images, labels]);

    const gz = mnistLikeFolder(10, true);
    writeFileSync(gz.labels.replace(/\.gz$/, ''), readFileSync(gz.labels));
    expect(locateIdxFiles(gz.images, true)).toEqual({ ok: true, images: gz.images, labels: gz.labels });
  });

  it('needs only the images file for an unlabelled read, and returns labels null', () => {
    const dir = folders.make();
    const pixels = patternBytes(3, PIXELS);
    const images = put(dir, 't10k-images-idx3-ubyte', encodeIdxImages(pixels, 3, [28, 28]));
    for (const path of [dir, images]) {
      const loaded = readIdxSync(path, unlabelled);
      expect(loaded.labels).toBeNull();
      expect(loaded.inputs.values).toEqual(dividedBy255(pixels));
    }
  });

  it('reads count x H x W x C images (0x00000804) for a colour task, and count x F (0x00000802) for a feature task', () => {
    const dir = folders.make();
    const colour = patternBytes(4, 5 * 6 * 3);
    put(dir, 'colour/images-idx4-ubyte', encodeIdxImages(colour, 4, [5, 6, 3]));
    put(dir, 'colour/labels-idx1-ubyte', encodeIdxLabels([0, 1, 2, 0]));
    const rgb = readIdxSync(join(dir, 'colour'), { task: testTask([5, 6, 3], 3), labelled: true });
    expect(rgb.inputs.values).toEqual(dividedBy255(colour));
    expect(rgb.inputs.inputShape).toEqual([5, 6, 3]);

    const features = patternBytes(6, 8);
    put(dir, 'features/images-idx2-ubyte', encodeIdx(features, [6, 8]));
    const flat = readIdxSync(join(dir, 'features'), { task: testTask([8], 2, { type: 'none' }), labelled: false });
    expect(flat.inputs.values).toEqual(Float32Array.from(features));
  });

  it('reads float32 images (0x00000d03) as they are written, and applies a standardising task', () => {
    const dir = folders.make();
    const floats = Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => i / 7 - 0.5);
    put(dir, 'images.idx', encodeIdx(floats, [2, 2, 3], 'float32'));
    put(dir, 'labels.idx', encodeIdxLabels([1, 0]));
    const plain = readIdxSync(dir, { task: testTask([2, 3, 1], 2, { type: 'none' }), labelled: true });
    expect(plain.inputs.values).toEqual(floats);
    const standardised = readIdxSync(dir, { task: testTask([2, 3, 1], 2, { type: 'standardise', mean: [1], std: [2] }), labelled: true });
    expect(standardised.inputs.values).toEqual(Float32Array.from(floats, (v) => (v - 1) * 0.5));
    expect(standardised.rawRange.min).toBeCloseTo(-0.5, 6);
  });
});

describe('IDX reader: bad input, each named with its file', () => {
  it('a wrong magic number says expected and got in hex (a labels file given as images)', () => {
    const { dir, labels } = mnistLikeFolder(3);
    const error = dataErrorOf(() => readIdxSync(labels, unlabelled));
    expect(error.message).toMatch(/wrong magic number: expected 0x00000803 \(uint8 images, count x rows x cols.*\), got 0x00000801 \(a labels file\?\)/);
    expect(error.message.startsWith(`${labels}: `)).toBe(true);

    const swapped = folders.make();
    put(swapped, 'x-images-idx3-ubyte', readFileSync(join(dir, 'train-images-idx3-ubyte')));
    const fake = put(swapped, 'x-labels-idx1-ubyte', readFileSync(join(dir, 'train-images-idx3-ubyte')));
    expect(dataErrorOf(() => readIdxSync(swapped, labelled)).message).toBe(
      `${fake}: wrong magic number: expected 0x00000801 (uint8 labels, count), got 0x00000803 (an images file?)`,
    );
  });

  it('a truncated file says how many bytes the header implies and how many there are', () => {
    const { images, labels } = mnistLikeFolder(10);
    writeFileSync(images, readFileSync(images).subarray(0, 7000));
    const error = dataErrorOf(() => readIdxSync(images, labelled));
    expect(error.message).toBe(`${images}: truncated: expected 7856 bytes (10 x 28 x 28 + 16-byte header), got 7000`);
    writeFileSync(images, encodeIdxImages(patternBytes(10, PIXELS), 10, [28, 28]));
    writeFileSync(labels, readFileSync(labels).subarray(0, 6));
    expect(dataErrorOf(() => readIdxSync(images, labelled)).message).toBe(`${labels}: truncated: expected at least 8 bytes of header (1 dimension), got 6`);
  });

  it('a truncated gzip stream is named as such', () => {
    const { images } = mnistLikeFolder(10, true);
    writeFileSync(images, readFileSync(images).subarray(0, 200));
    expect(dataErrorOf(() => readIdxSync(images, unlabelled)).message).toMatch(new RegExp(`^${escape(images)}: truncated gzip data`));
  });

  it('bytes after the last record are reported', () => {
    const dir = folders.make();
    const images = put(dir, 'images.idx', Buffer.concat([encodeIdxImages(patternBytes(2, PIXELS), 2, [28, 28]), Buffer.alloc(5)]));
    expect(dataErrorOf(() => readIdxSync(images, unlabelled)).message).toBe(`${images}: expected 1584 bytes (2 x 28 x 28 + 16-byte header), got 1589: 5 bytes after the last record`);
  });

  it("images whose dims do not fit the task's input shape name both", () => {
    const dir = folders.make();
    const images = put(dir, 'images-idx3-ubyte', encodeIdxImages(patternBytes(2, 32 * 32), 2, [32, 32]));
    expect(dataErrorOf(() => readIdxSync(images, unlabelled)).message).toBe(
      `${images}: image dims 32 x 32 do not fit the task's input shape [28, 28, 1] (expected 28 x 28 x 1 or 28 x 28 per image)`,
    );
  });

  it('a labels count that differs from the images count names both counts and both files', () => {
    const dir = folders.make();
    const images = put(dir, 'images-idx3-ubyte', encodeIdxImages(patternBytes(10, PIXELS), 10, [28, 28]));
    const labels = put(dir, 'labels-idx1-ubyte', encodeIdxLabels(cyclicLabels(9, 10)));
    expect(dataErrorOf(() => readIdxSync(dir, labelled)).message).toBe(`${labels}: has 9 labels but ${images} has 10 images`);
  });

  it('a label that is not a class names the file, the record, the value and the class count', () => {
    const dir = folders.make();
    put(dir, 'images-idx3-ubyte', encodeIdxImages(patternBytes(5, PIXELS), 5, [28, 28]));
    const labels = put(dir, 'labels-idx1-ubyte', encodeIdxLabels([0, 1, 2, 12, 4]));
    expect(dataErrorOf(() => readIdxSync(dir, labelled)).message).toBe(`${labels}: record 3: label 12 is not a class (the task has 10 classes, 0..9)`);
  });

  it('an empty data set (0 images) is an error', () => {
    const dir = folders.make();
    const images = put(dir, 'images-idx3-ubyte', encodeIdxImages([], 0, [28, 28]));
    expect(dataErrorOf(() => readIdxSync(images, unlabelled)).message).toBe(`${images}: empty data set: 0 images`);
  });

  it('a missing labels file for a labelled read says where it was looked for', () => {
    const dir = folders.make();
    const images = put(dir, 'train-images-idx3-ubyte', encodeIdxImages(patternBytes(2, PIXELS), 2, [28, 28]));
    expect(dataErrorOf(() => readIdxSync(images, labelled)).message).toBe(
      `${images}: labels file not found: looked for ${join(dir, 'train-labels-idx1-ubyte')} and ${join(dir, 'train-labels-idx1-ubyte.gz')}`,
    );
    expect(dataErrorOf(() => readIdxSync(dir, labelled)).message).toMatch(new RegExp(`^${escape(dir)}: no IDX labels file in this folder \\(a name containing 'labels'`));
    const unnamed = put(dir, 'digits.idx', encodeIdxImages(patternBytes(2, PIXELS), 2, [28, 28]));
    expect(dataErrorOf(() => readIdxSync(unnamed, labelled)).message).toMatch(/does not contain 'images'/);
  });

  it('a missing path, a folder without images and a folder with two images files are errors naming the path', () => {
    const dir = folders.make();
    expect(dataErrorOf(() => readIdxSync(join(dir, 'nothing'), labelled)).message).toBe(`${join(dir, 'nothing')}: not found`);
    expect(dataErrorOf(() => readIdxSync(dir, labelled)).message).toMatch(new RegExp(`^${escape(dir)}: no IDX images file in this folder`));
    put(dir, 'train-images-idx3-ubyte', encodeIdxImages(patternBytes(1, PIXELS), 1, [28, 28]));
    put(dir, 't10k-images-idx3-ubyte', encodeIdxImages(patternBytes(1, PIXELS), 1, [28, 28]));
    expect(dataErrorOf(() => readIdxSync(dir, labelled)).message).toBe(`${dir}: 2 IDX images files in this folder (t10k-images-idx3-ubyte, train-images-idx3-ubyte): name one of them instead`);
  });

  it('a NaN in a float32 file names the record', () => {
    const dir = folders.make();
    const floats = new Float32Array(3 * 4);
    floats[2 * 4 + 1] = NaN;
    const images = put(dir, 'images.idx', encodeIdx(floats, [3, 2, 2], 'float32'));
    expect(dataErrorOf(() => readIdxSync(images, { task: testTask([2, 2, 1], 2), labelled: false })).message).toBe(`${images}: record 2: value 1 of the image is NaN or infinite`);
  });

  it('throws DataError instances', () => {
    expect(() => readIdxSync('/no/such/idx', labelled)).toThrow(DataError);
  });
});

describe('IDX reader: collect mode (task check)', () => {
  it('lists every problem of one read and keeps the good records', () => {
    const dir = folders.make();
    const pixels = patternBytes(8, PIXELS);
    const images = put(dir, 'images-idx3-ubyte', encodeIdxImages(pixels, 8, [28, 28]));
    const labels = put(dir, 'labels-idx1-ubyte', encodeIdxLabels([0, 11, 2, 3, 200, 5, 6]));
    const problems = dataProblems('collect');
    const loaded = readIdxSync(dir, { ...labelled, problems });
    expect(problems.list).toEqual([
      `${labels}: has 7 labels but ${images} has 8 images`,
      `${labels}: record 1: label 11 is not a class (the task has 10 classes, 0..9)`,
      `${labels}: record 4: label 200 is not a class (the task has 10 classes, 0..9)`,
    ]);
    expect(loaded.inputs.count).toBe(5);
    expect([...(loaded.labels ?? [])]).toEqual([0, 2, 3, 5, 6]);
    const kept = [0, 2, 3, 5, 6].flatMap((r) => [...pixels.subarray(r * PIXELS, (r + 1) * PIXELS)]);
    expect(loaded.inputs.values).toEqual(dividedBy255(kept));
  });

  it('keeps the complete records of a truncated file', () => {
    const dir = folders.make();
    const pixels = patternBytes(4, PIXELS);
    const images = put(dir, 'images-idx3-ubyte', encodeIdxImages(pixels, 4, [28, 28]).subarray(0, 16 + 2 * PIXELS + 100));
    const problems = dataProblems('collect');
    const loaded = readIdxSync(images, { ...unlabelled, problems });
    expect(problems.list).toEqual([`${images}: truncated: expected 3152 bytes (4 x 28 x 28 + 16-byte header), got 1684`]);
    expect(loaded.inputs.count).toBe(2);
    expect(loaded.inputs.values).toEqual(dividedBy255(pixels.subarray(0, 2 * PIXELS)));
  });

  it('returns an empty set after a problem that stops the read', () => {
    const dir = folders.make();
    put(dir, 'images-idx3-ubyte', encodeIdxImages(patternBytes(2, 9), 2, [3, 3]));
    put(dir, 'labels-idx1-ubyte', encodeIdxLabels([0, 1]));
    const problems = dataProblems('collect');
    const loaded = readIdxSync(dir, { ...labelled, problems });
    expect(problems.list).toHaveLength(1);
    expect(problems.list[0]).toMatch(/image dims 3 x 3 do not fit/);
    expect(loaded.inputs.count).toBe(0);
    expect(loaded.labels).toEqual(new Uint8Array(0));
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
