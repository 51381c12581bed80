import { scratchFolders } from './fixtures.testing';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import type { Task } from '../task/task';
import { dataProblems } from './data-problems';
import type { ReadOptions } from './dataset-source';
import { imageFolderSource } from './image-folder-source';
import { featureTask, imageTask, patternPixels, readOptions, specOf, writeFixture, writeImageFixture } from './image-fixtures.testing';

const folders = scratchFolders('images');
afterAll(() => folders.removeAll());

function read(path: string, task: Task, extra: Partial<ReadOptions> = {}) {
  return imageFolderSource.read(specOf('image-folder', path), readOptions(task, extra));
}

const grey4 = imageTask(4, 4, 1);

/** The raw bytes sharp itself gives for `path` through a pipeline (the reference for conversions). */
async function sharpBytes(image: Sharp): Promise<number[]> {
  return [...(await image.raw({ depth: 'uchar' }).toBuffer())];
}

describe('imageFolderSource: labelled folders', () => {
  it('reads one sub-folder per class, classes in task order and files by name, labels from the folder', async () => {
    const dir = folders.make();
    const a = patternPixels(4, 4, 1, 1);
    const b = patternPixels(4, 4, 1, 2);
    const c = patternPixels(4, 4, 1, 3);
    await writeImageFixture(join(dir, 'fox', 'b.png'), b, 4, 4, 1);
    await writeImageFixture(join(dir, 'cat', 'z.PNG'), c, 4, 4, 1);
    await writeImageFixture(join(dir, 'fox', 'a.png'), a, 4, 4, 1);
    const loaded = await read(dir, grey4);
    expect(loaded.inputs.count).toBe(3);
    expect([...loaded.labels!]).toEqual([0, 2, 2]);
    expect([...loaded.inputs.values]).toEqual([...c, ...a, ...b]);
    expect(loaded.inputs.inputShape).toEqual([4, 4, 1]);
    expect(loaded.files).toEqual([dir]);
  });

  it('ignores other files, hidden files and folders, and images lying directly in the folder', async () => {
    const dir = folders.make();
    const pixels = patternPixels(4, 4, 1);
    await writeImageFixture(join(dir, 'dog', 'one.png'), pixels, 4, 4, 1);
    writeFixture(join(dir, 'dog', 'notes.txt'), 'not an image');
    writeFixture(join(dir, 'dog', '.hidden.png'), 'garbage');
    writeFixture(join(dir, '.git', 'x.png'), 'garbage');
    await writeImageFixture(join(dir, 'loose.png'), pixels, 4, 4, 1);
    const loaded = await read(dir, grey4);
    expect(loaded.inputs.count).toBe(1);
    expect([...loaded.labels!]).toEqual([1]);
  });

  it('accepts classes without a folder or with an empty folder (a client may lack classes)', async () => {
    const dir = folders.make();
    mkdirSync(join(dir, 'cat'));
    await writeImageFixture(join(dir, 'dog', 'x.png'), patternPixels(4, 4, 1), 4, 4, 1);
    const problems = dataProblems('collect');
    const loaded = await read(dir, grey4, { problems });
    expect(problems.list).toEqual([]);
    expect([...loaded.labels!]).toEqual([1]);
  });

  it('applies the task scaling to the 0..255 raw values and records the raw range', async () => {
    const dir = folders.make();
    await writeImageFixture(join(dir, 'cat', 'x.png'), Uint8Array.from([0, 51, 102, 255]), 2, 2, 1);
    const task: Task = { ...imageTask(2, 2, 1), input: { shape: [2, 2, 1], scaling: { type: 'divide', by: 255 } } };
    const loaded = await read(dir, task);
    expect(loaded.rawRange).toEqual({ min: 0, max: 255 });
    expect([...loaded.inputs.values]).toEqual([0, 0.2, 0.4, 1].map(Math.fround));
  });

  it('reports progress as images are decoded, ending at total of total', async () => {
    const dir = folders.make();
    for (let i = 0; i < 5; i++) await writeImageFixture(join(dir, 'cat', `${i}.png`), patternPixels(4, 4, 1, i), 4, 4, 1);
    const calls: [number, number][] = [];
    await read(dir, grey4, { onProgress: (done, total) => calls.push([done, total]) });
    expect(calls.at(-1)).toEqual([5, 5]);
  });
});

describe('imageFolderSource: unlabelled folders (proxy data)', () => {
  it('reads a flat folder of images, sub-folders too, sorted by path, without labels', async () => {
    const dir = folders.make();
    const [p0, p1, p2] = [0, 1, 2].map((seed) => patternPixels(4, 4, 1, seed));
    await writeImageFixture(join(dir, 'b.png'), p1, 4, 4, 1);
    await writeImageFixture(join(dir, 'a.png'), p0, 4, 4, 1);
    await writeImageFixture(join(dir, 'sub', 'c.png'), p2, 4, 4, 1);
    const loaded = await read(dir, grey4, { labelled: false });
    expect(loaded.labels).toBeNull();
    expect(loaded.inputs.count).toBe(3);
    expect([...loaded.inputs.values]).toEqual([...p0, ...p1, ...p2]);
  });
});

describe('imageFolderSource: the conversion rule', () => {
  it('reads RGB PNGs as they are for a C = 3 task', async () => {
    const dir = folders.make();
    const pixels = patternPixels(5, 3, 3, 7);
    await writeImageFixture(join(dir, 'x.png'), pixels, 5, 3, 3);
    const loaded = await read(dir, imageTask(3, 5, 3), { labelled: false });
    expect([...loaded.inputs.values]).toEqual([...pixels]);
  });

  it('turns an RGB image into greyscale (luminance) for a C = 1 task', async () => {
    const dir = folders.make();
    const path = await writeImageFixture(join(dir, 'x.png'), Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 200, 200, 200]), 2, 2, 3);
    const loaded = await read(dir, imageTask(2, 2, 1), { labelled: false });
    expect([...loaded.inputs.values]).toEqual(await sharpBytes(sharp(path).greyscale()));
    const [red, green, blue, grey] = loaded.inputs.values;
    expect(green).toBeGreaterThan(red);
    expect(red).toBeGreaterThan(blue);
    expect(grey).toBe(200);
  });

  it('copies a greyscale image into R, G and B for a C = 3 task', async () => {
    const dir = folders.make();
    await writeImageFixture(join(dir, 'x.png'), Uint8Array.from([0, 100, 200, 255]), 2, 2, 1);
    const loaded = await read(dir, imageTask(2, 2, 3), { labelled: false });
    expect([...loaded.inputs.values]).toEqual([0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
  });

  it('flattens an RGBA image onto black for C = 3 and C = 1 tasks', async () => {
    const dir = folders.make();
    // Opaque red, half-transparent white, fully transparent green, opaque grey.
    await writeImageFixture(join(dir, 'x.png'), Uint8Array.from([255, 0, 0, 255, 255, 255, 255, 128, 0, 255, 0, 0, 90, 90, 90, 255]), 2, 2, 4);
    const rgb = await read(dir, imageTask(2, 2, 3), { labelled: false });
    expect([...rgb.inputs.values]).toEqual([255, 0, 0, 128, 128, 128, 0, 0, 0, 90, 90, 90]);
    const grey = await read(dir, imageTask(2, 2, 1), { labelled: false });
    expect([...grey.inputs.values.subarray(1)]).toEqual([128, 0, 90]);
  });

  it('keeps alpha for a C = 4 task, and adds an opaque one to an image without', async () => {
    const dir = folders.make();
    const rgba = Uint8Array.from([255, 0, 0, 255, 10, 20, 30, 128, 0, 255, 0, 0, 90, 90, 90, 255]);
    await writeImageFixture(join(dir, 'a.png'), rgba, 2, 2, 4);
    await writeImageFixture(join(dir, 'b.png'), Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), 2, 2, 3);
    const loaded = await read(dir, imageTask(2, 2, 4), { labelled: false });
    expect([...loaded.inputs.values]).toEqual([...rgba, 1, 2, 3, 255, 4, 5, 6, 255, 7, 8, 9, 255, 10, 11, 12, 255]);
  });

  it("resizes a 32x32 image to a 28x28 task by stretching (sharp's fill, lanczos3)", async () => {
    const dir = folders.make();
    const path = await writeImageFixture(join(dir, 'x.png'), patternPixels(32, 32, 1), 32, 32, 1);
    const loaded = await read(dir, imageTask(28, 28, 1), { labelled: false });
    expect(loaded.inputs.values.length).toBe(28 * 28);
    expect([...loaded.inputs.values]).toEqual(await sharpBytes(sharp(path).greyscale().resize(28, 28, { fit: 'fill', kernel: 'lanczos3' })));
  });

  it('stretches a non-square image to the task size without cropping', async () => {
    const dir = folders.make();
    // Left half black, right half white, 8 wide and 2 high; stretched to 4x4 the halves stay halves.
    const pixels = Uint8Array.from({ length: 16 }, (_, i) => (i % 8 < 4 ? 0 : 255));
    await writeImageFixture(join(dir, 'x.png'), pixels, 8, 2, 1);
    const loaded = await read(dir, imageTask(4, 4, 1), { labelled: false });
    for (let row = 0; row < 4; row++) {
      const values = [...loaded.inputs.values.subarray(row * 4, row * 4 + 4)];
      expect(values[0]).toBeLessThan(30);
      expect(values[3]).toBeGreaterThan(225);
    }
  });

  it('decodes JPEG (any-case .jpg/.jpeg) within a small tolerance', async () => {
    const dir = folders.make();
    const flat = new Uint8Array(8 * 8 * 3).fill(0).map((_, i) => [200, 100, 50][i % 3]);
    await writeImageFixture(join(dir, 'x.JPG'), flat, 8, 8, 3, 'jpeg');
    await writeImageFixture(join(dir, 'y.jpeg'), flat, 8, 8, 3, 'jpeg');
    const loaded = await read(dir, imageTask(8, 8, 3), { labelled: false });
    expect(loaded.inputs.count).toBe(2);
    const worst = loaded.inputs.values.reduce((most, v, i) => Math.max(most, Math.abs(v - flat[i % flat.length])), 0);
    expect(worst).toBeLessThanOrEqual(4);
  });
});

describe('imageFolderSource: problems name the path', () => {
  it('an unreadable image: its path and sharp reason', async () => {
    const dir = folders.make();
    const bad = writeFixture(join(dir, 'cat', 'x.png'), 'garbage bytes, not a PNG');
    await expect(read(dir, grey4)).rejects.toThrow(`${bad}: cannot be decoded as an image: Input file contains unsupported image format`);
  });

  it('a truncated PNG', async () => {
    const dir = folders.make();
    const whole = await sharp(Buffer.from(patternPixels(16, 16, 1)), { raw: { width: 16, height: 16, channels: 1 } }).png().toBuffer();
    const bad = writeFixture(join(dir, 'x.png'), whole.subarray(0, whole.length - 30));
    await expect(read(dir, imageTask(16, 16, 1), { labelled: false })).rejects.toThrow(`${bad}: cannot be decoded as an image: `);
  });

  it("a class folder the task does not name: the folder and the task's classes", async () => {
    const dir = folders.make();
    await writeImageFixture(join(dir, 'cat', 'x.png'), patternPixels(4, 4, 1), 4, 4, 1);
    mkdirSync(join(dir, 'wolf'));
    await expect(read(dir, grey4)).rejects.toThrow(`${join(dir, 'wolf')}: folder 'wolf' is not one of the task's classes (cat, dog, fox)`);
  });

  it('a folder with no images at all (labelled and unlabelled)', async () => {
    const dir = folders.make();
    writeFixture(join(dir, 'readme.txt'), 'hello');
    await expect(read(dir, grey4, { labelled: false })).rejects.toThrow(`${dir}: holds no images (.png, .jpg, .jpeg)`);
    mkdirSync(join(dir, 'cat'));
    await expect(read(dir, grey4)).rejects.toThrow(`${dir}: holds no images (.png, .jpg, .jpeg) in class folders (one sub-folder per class: cat, dog, fox)`);
  });

  it('a labelled read of a flat folder says the images are not in class folders', async () => {
    const dir = folders.make();
    await writeImageFixture(join(dir, 'x.png'), patternPixels(4, 4, 1), 4, 4, 1);
    await expect(read(dir, grey4)).rejects.toThrow('1 images lie directly in the folder, but labelled images go in their class');
  });

  it('an [F] task cannot read an image folder', async () => {
    const dir = folders.make();
    await writeImageFixture(join(dir, 'cat', 'x.png'), patternPixels(4, 4, 1), 4, 4, 1);
    await expect(read(dir, featureTask(16))).rejects.toThrow(`${dir}: an image folder cannot feed a task whose inputs are feature vectors (input shape [16])`);
  });

  it('a task asking for 2 channels', async () => {
    const dir = folders.make();
    await expect(read(dir, imageTask(4, 4, 2))).rejects.toThrow(`${dir}: images have 1, 3 or 4 channels, the task's input shape [4, 4, 2] asks for 2`);
  });

  it('a folder that does not exist', async () => {
    const dir = join(folders.make(), 'missing');
    await expect(read(dir, grey4)).rejects.toThrow(`${dir}: cannot be read: no such file or folder`);
  });

  it('collect mode lists every bad image and unknown folder, and keeps the good images in order', async () => {
    const dir = folders.make();
    const good = [0, 1, 2].map((seed) => patternPixels(4, 4, 1, seed));
    await writeImageFixture(join(dir, 'cat', '0.png'), good[0], 4, 4, 1);
    const bad1 = writeFixture(join(dir, 'cat', '1.png'), 'garbage');
    await writeImageFixture(join(dir, 'dog', '2.png'), good[1], 4, 4, 1);
    const bad2 = writeFixture(join(dir, 'dog', '3.jpg'), 'garbage');
    await writeImageFixture(join(dir, 'fox', '4.png'), good[2], 4, 4, 1);
    mkdirSync(join(dir, 'wolf'));
    const problems = dataProblems('collect');
    const loaded = await read(dir, grey4, { problems });
    expect(problems.list).toHaveLength(3);
    expect(problems.list[0]).toBe(`${join(dir, 'wolf')}: folder 'wolf' is not one of the task's classes (cat, dog, fox)`);
    expect([...problems.list.slice(1)].sort()).toEqual([`${bad1}: cannot be decoded as an image: Input file contains unsupported image format`, `${bad2}: cannot be decoded as an image: Input file contains unsupported image format`].sort());
    expect(loaded.inputs.count).toBe(3);
    expect([...loaded.labels!]).toEqual([0, 1, 2]);
    expect([...loaded.inputs.values]).toEqual(good.flatMap((p) => [...p]));
  });
});
