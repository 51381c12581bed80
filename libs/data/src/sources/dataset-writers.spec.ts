import { scratchFolders } from './fixtures.testing';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import type { Task } from '../task/task';
import { csvSource } from './csv-source';
import { DataError, type DatasetSource } from './dataset-source';
import { formatFloat32, rawAsBytes, writeDataset, type DatasetToWrite } from './dataset-writers';
import { featureTask, imageTask, patternPixels, readOptions, specOf, writeFixture } from './image-fixtures.testing';
import { idxSource } from './idx-source';
import { imageFolderSource } from './image-folder-source';
import { npySource } from './npy-source';

const folders = scratchFolders('writers');
afterAll(() => folders.removeAll());

/** A labelled (or unlabelled) set of `count` inputs with pattern pixels and labels cycling through the classes. */
function dataset(task: Task, count: number, labelled = true): Omit<DatasetToWrite, 'raw'> & { raw: Uint8Array } {
  const size = task.input.shape.reduce((a, b) => a * b, 1);
  const raw = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) raw.set(patternPixels(size, 1, 1, i), i * size);
  const labels = labelled ? Uint8Array.from({ length: count }, (_, i) => (i * 2) % task.classes.length) : null;
  return { raw, count, inputShape: [...task.input.shape], labels, task };
}

/** The inputs (and labels) in the order a labelled folder reads them: by class, then by input order. */
function groupedByClass(data: DatasetToWrite): { values: number[]; labels: number[] } {
  const size = data.raw.length / data.count;
  const order = Array.from({ length: data.count }, (_, i) => i).sort((a, b) => data.labels![a] - data.labels![b] || a - b);
  return { values: order.flatMap((i) => [...data.raw.subarray(i * size, (i + 1) * size)]), labels: order.map((i) => data.labels![i]) };
}

async function readBack(source: DatasetSource, dir: string, data: DatasetToWrite) {
  return source.read(specOf(source.format, dir), readOptions(data.task, { labelled: data.labels !== null }));
}

/** A minimal NPY v1 decoder: the header dict's fields and the data bytes. */
function decodeNpy(bytes: Uint8Array): { descr: string; fortran: boolean; shape: number[]; dataOffset: number; data: Uint8Array } {
  expect([...bytes.subarray(0, 8)]).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLength = bytes[8] | (bytes[9] << 8);
  const header = Buffer.from(bytes.subarray(10, 10 + headerLength)).toString('latin1');
  expect(header.endsWith('\n')).toBe(true);
  const descr = /'descr': '([^']+)'/.exec(header)![1];
  const fortran = /'fortran_order': (True|False)/.exec(header)![1] === 'True';
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const dataOffset = 10 + headerLength;
  return { descr, fortran, shape, dataOffset, data: bytes.subarray(dataOffset) };
}

/** A minimal IDX decoder for unsigned bytes: the dimensions and the data. */
function decodeIdx(bytes: Uint8Array): { type: number; dimensions: number[]; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  expect(view.getUint16(0)).toBe(0);
  const rank = bytes[3];
  const dimensions = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  return { type: bytes[2], dimensions, data: bytes.subarray(4 + 4 * rank) };
}

/** Every file under `dir`, relative, sorted. */
function listFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as { name: string; parentPath: string; isFile(): boolean }[])
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

const awkwardFloats = Float32Array.from([0.1, 1 / 3, -123456.789, 1e-30, 3.4e38, -0, 255.5, 1.17549435e-38, 16777217, 2 / 3]);

describe('writeDataset: csv', () => {
  it('writes data.csv with header f0..fN,label and reads back the same bytes and labels', async () => {
    const dir = folders.make();
    const data = dataset(imageTask(3, 2, 1), 7);
    expect(await writeDataset('csv', dir, data)).toEqual([join(dir, 'data.csv')]);
    const text = readFileSync(join(dir, 'data.csv'), 'utf8');
    expect(text.split('\n')[0]).toBe('f0,f1,f2,f3,f4,f5,label');
    expect(text.split('\n')[1]).toBe(`${Array.from(data.raw.subarray(0, 6)).join(',')},cat`);
    const loaded = await readBack(csvSource, dir, data);
    expect([...loaded.inputs.values]).toEqual([...data.raw]);
    expect([...loaded.labels!]).toEqual([...data.labels!]);
  });

  it('writes float32 values as decimal text that reads back as exactly the same float32', async () => {
    const dir = folders.make();
    const task = featureTask(5);
    await writeDataset('csv', dir, { raw: awkwardFloats, count: 2, inputShape: [5], labels: Uint8Array.from([2, 1]), task });
    const loaded = await csvSource.read(specOf('csv', dir), readOptions(task));
    expect([...loaded.inputs.values]).toEqual([...awkwardFloats]);
    expect(readFileSync(join(dir, 'data.csv'), 'utf8').split('\n')[1]).toBe('0.1,0.33333334,-123456.79,1e-30,3.4e+38,c');
  });

  it('formats a float32 with the fewest digits that round-trip', () => {
    expect(formatFloat32(Math.fround(0.1))).toBe('0.1');
    expect(formatFloat32(Math.fround(16777217))).toBe('16777216');
    for (const v of awkwardFloats) expect(Math.fround(Number(formatFloat32(v)))).toBe(v);
  });

  it('writes no label column for an unlabelled set, and quotes class names with commas', async () => {
    const unlabelled = folders.make();
    const data = dataset(featureTask(2), 3, false);
    await writeDataset('csv', unlabelled, data);
    expect(readFileSync(join(unlabelled, 'data.csv'), 'utf8').split('\n')[0]).toBe('f0,f1');
    const loaded = await readBack(csvSource, unlabelled, data);
    expect(loaded.labels).toBeNull();
    expect([...loaded.inputs.values]).toEqual([...data.raw]);

    const quoted = folders.make();
    const task = featureTask(2, ['a, b', 'say "hi"']);
    const named = dataset(task, 2);
    await writeDataset('csv', quoted, named);
    expect([...(await readBack(csvSource, quoted, named)).labels!]).toEqual([...named.labels!]);
  });
});

describe('writeDataset: image-folder', () => {
  it('writes labelled greyscale PNGs as <class>/<padded index>.png, a folder for every class, read back grouped by class', async () => {
    const dir = folders.make();
    const data = dataset(imageTask(5, 4, 1, ['cat', 'dog', 'fox', 'owl']), 11);
    const files = await writeDataset('image-folder', dir, data);
    expect(files).toHaveLength(11);
    expect(files[0]).toBe(join(dir, 'cat', '00.png'));
    expect(files[1]).toBe(join(dir, 'fox', '01.png'));
    expect(readdirSync(dir).sort()).toEqual(['cat', 'dog', 'fox', 'owl']);
    const meta = await sharp(files[0]).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([4, 5, 1]);
    const loaded = await readBack(imageFolderSource, dir, data);
    const expected = groupedByClass(data);
    expect([...loaded.inputs.values]).toEqual(expected.values);
    expect([...loaded.labels!]).toEqual(expected.labels);
  });

  it('writes an unlabelled RGB set as <padded index>.png, read back in input order', async () => {
    const dir = folders.make();
    const data = dataset(imageTask(3, 3, 3), 12, false);
    const files = await writeDataset('image-folder', dir, data);
    expect(listFiles(dir)).toEqual(Array.from({ length: 12 }, (_, i) => `${String(i).padStart(2, '0')}.png`));
    expect(files.map((f) => relative(dir, f))).toEqual(listFiles(dir));
    expect((await sharp(files[0]).metadata()).channels).toBe(3);
    const loaded = await readBack(imageFolderSource, dir, data);
    expect(loaded.labels).toBeNull();
    expect([...loaded.inputs.values]).toEqual([...data.raw]);
  });

  it('writes RGBA PNGs for a C = 4 task', async () => {
    const dir = folders.make();
    const data = dataset(imageTask(2, 3, 4), 3);
    await writeDataset('image-folder', dir, data);
    const loaded = await readBack(imageFolderSource, dir, data);
    expect([...loaded.inputs.values]).toEqual(groupedByClass(data).values);
  });

  it('accepts byte-valued float raw values', async () => {
    const dir = folders.make();
    const data = dataset(imageTask(2, 2, 1), 2, false);
    await writeDataset('image-folder', dir, { ...data, raw: Float32Array.from(data.raw) });
    expect([...(await readBack(imageFolderSource, dir, data)).inputs.values]).toEqual([...data.raw]);
  });

  it('refuses values that are not bytes, an [F] task, and a class name that cannot be a folder, before creating anything', async () => {
    const data = dataset(imageTask(2, 2, 1), 1, false);
    const out = join(folders.make(), 'out');
    await expect(writeDataset('image-folder', out, { ...data, raw: Float32Array.from([0.5, 1, 2, 3]) })).rejects.toThrow(`${out}: PNG holds bytes, but some raw values are not integers in 0..255`);
    expect(existsSync(out)).toBe(false);
    await expect(writeDataset('image-folder', folders.make(), dataset(featureTask(4), 1))).rejects.toThrow("an image folder holds [H, W, C] images with C = 1, 3 or 4; the task's input shape is [4]");
    await expect(writeDataset('image-folder', folders.make(), dataset(imageTask(2, 2, 1, ['a/b', 'c']), 1))).rejects.toThrow("class 'a/b' cannot be a folder name");
  });
});

describe('writeDataset: npy', () => {
  it('writes uint8 inputs.npy [N, H, W, C] and labels.npy [N] with 64-byte aligned headers', async () => {
    const dir = folders.make();
    const data = dataset(imageTask(4, 3, 2), 5);
    expect(await writeDataset('npy', dir, data)).toEqual([join(dir, 'inputs.npy'), join(dir, 'labels.npy')]);
    const inputs = decodeNpy(readFileSync(join(dir, 'inputs.npy')));
    expect(inputs).toMatchObject({ descr: '|u1', fortran: false, shape: [5, 4, 3, 2] });
    expect(inputs.dataOffset % 64).toBe(0);
    expect([...inputs.data]).toEqual([...data.raw]);
    const labels = decodeNpy(readFileSync(join(dir, 'labels.npy')));
    expect(labels).toMatchObject({ descr: '|u1', shape: [5] });
    expect([...labels.data]).toEqual([...data.labels!]);
  });

  it('writes float32 as <f4 little-endian, and only inputs.npy when unlabelled', async () => {
    const dir = folders.make();
    const files = await writeDataset('npy', dir, { raw: awkwardFloats, count: 5, inputShape: [2], labels: null, task: featureTask(2) });
    expect(files).toEqual([join(dir, 'inputs.npy')]);
    const inputs = decodeNpy(readFileSync(join(dir, 'inputs.npy')));
    expect(inputs).toMatchObject({ descr: '<f4', shape: [5, 2] });
    const view = new DataView(inputs.data.buffer, inputs.data.byteOffset, inputs.data.byteLength);
    expect(Array.from({ length: 10 }, (_, i) => view.getFloat32(i * 4, true))).toEqual([...awkwardFloats]);
  });
});

describe('writeDataset: idx', () => {
  it('writes images-idx3-ubyte [N, H, W] for one channel and labels-idx1-ubyte [N]', async () => {
    const dir = folders.make();
    const data = dataset(imageTask(4, 3, 1), 6);
    expect(await writeDataset('idx', dir, data)).toEqual([join(dir, 'images-idx3-ubyte'), join(dir, 'labels-idx1-ubyte')]);
    const images = decodeIdx(readFileSync(join(dir, 'images-idx3-ubyte')));
    expect(images.type).toBe(0x08);
    expect(images.dimensions).toEqual([6, 4, 3]);
    expect([...images.data]).toEqual([...data.raw]);
    const labels = decodeIdx(readFileSync(join(dir, 'labels-idx1-ubyte')));
    expect(labels.dimensions).toEqual([6]);
    expect([...labels.data]).toEqual([...data.labels!]);
  });

  it('writes images-idx4-ubyte [N, H, W, C] for colour, images-idx2-ubyte [N, F] for features, no labels when unlabelled', async () => {
    const colour = folders.make();
    await writeDataset('idx', colour, dataset(imageTask(2, 2, 3), 2, false));
    expect(listFiles(colour)).toEqual(['images-idx4-ubyte']);
    expect(decodeIdx(readFileSync(join(colour, 'images-idx4-ubyte'))).dimensions).toEqual([2, 2, 2, 3]);
    const features = folders.make();
    await writeDataset('idx', features, dataset(featureTask(7), 3, false));
    expect(decodeIdx(readFileSync(join(features, 'images-idx2-ubyte'))).dimensions).toEqual([3, 7]);
  });

  it('refuses float values', async () => {
    const dir = folders.make();
    await expect(writeDataset('idx', dir, { raw: awkwardFloats, count: 2, inputShape: [5], labels: null, task: featureTask(5) })).rejects.toThrow(
      `${dir}: IDX is written as unsigned bytes, but some raw values are not integers in 0..255 (write npy or csv instead)`,
    );
  });
});

describe('writeDataset: npy and idx sets read back with the npy and idx readers', () => {
  const cases: [string, 'npy' | 'idx', Omit<DatasetToWrite, 'raw'> & { raw: Uint8Array | Float32Array }][] = [
    ['npy, labelled grey images', 'npy', dataset(imageTask(4, 3, 1), 6)],
    ['npy, unlabelled float32 features', 'npy', { raw: awkwardFloats, count: 2, inputShape: [5], labels: null, task: featureTask(5) }],
    ['idx, labelled grey images', 'idx', dataset(imageTask(4, 3, 1), 6)],
    ['idx, labelled colour images', 'idx', dataset(imageTask(2, 3, 3), 4)],
    ['idx, unlabelled features', 'idx', dataset(featureTask(7), 3, false)],
  ];
  for (const [name, format, data] of cases) {
    it(name, async () => {
      const dir = folders.make();
      await writeDataset(format, dir, data);
      const loaded = await readBack(format === 'npy' ? npySource : idxSource, dir, data);
      expect(loaded.inputs.count).toBe(data.count);
      expect([...loaded.inputs.values]).toEqual([...data.raw]);
      expect(loaded.labels && [...loaded.labels]).toEqual(data.labels && [...data.labels]);
    });
  }
});

describe('writeDataset: what it refuses', () => {
  it('a folder that is not empty', async () => {
    const dir = folders.make();
    writeFixture(join(dir, 'old.png'), 'x');
    await expect(writeDataset('csv', dir, dataset(featureTask(2), 1))).rejects.toThrow(`${dir}: is not empty (1 entries)`);
  });

  it('an input shape that is not the task shape, a value count that does not fit, a label out of range, a non-finite value', async () => {
    const base = dataset(featureTask(2), 2);
    await expect(writeDataset('csv', folders.make(), { ...base, inputShape: [3] })).rejects.toThrow("the input shape [3] is not the task's [2]");
    await expect(writeDataset('csv', folders.make(), { ...base, count: 3 })).rejects.toThrow('4 raw values are not 3 inputs of [2]');
    await expect(writeDataset('csv', folders.make(), { ...base, labels: Uint8Array.from([0, 3]) })).rejects.toThrow('label 3 at 1 is not a class index in [0, 3)');
    await expect(writeDataset('npy', folders.make(), { ...base, raw: Float32Array.from([1, NaN, 2, 3]) })).rejects.toBeInstanceOf(DataError);
  });

  it('reads raw values as bytes only when every one is an integer in 0..255', () => {
    expect(rawAsBytes(Float32Array.from([0, 255, 7]))).toEqual(Uint8Array.from([0, 255, 7]));
    expect(rawAsBytes(Float32Array.from([0, 256]))).toBeNull();
    expect(rawAsBytes(Float32Array.from([0, 1.5]))).toBeNull();
    expect(rawAsBytes(Float32Array.from([-1]))).toBeNull();
  });
});
