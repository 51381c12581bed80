import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_RUNS, HUGE_WORDS, mutatedBytes, outcomeAsync, withUint32 } from '../../../engine/src/fuzz-inputs.testing';
import { dataProblems } from './data-problems';
import { DataError } from './dataset-source';
import { cyclicLabels, patternBytes, put, scratchFolders, testTask } from './fixtures.testing';
import { encodeIdxImages, encodeIdxLabels, parseIdxHeader } from './idx-format';
import { writeImageFixture, patternPixels } from './image-fixtures.testing';
import { encodeNpy, parseNpyHeader } from './npy-format';
import { readData } from './read-data';
import { parseDatasetSpec } from './dataset-spec';

/**
 * The data readers (IDX, NPY, CSV, image folders) under fuzzing, on real files in a temporary
 * folder: whatever a file holds, a read in `throw` mode returns or throws DataError naming the
 * file, a read in `collect` mode (`fedkd task check`) returns its list of problems and never
 * throws, and a header that declares 2^31 records (or more) is refused without allocating them.
 */

const SHAPE = [4, 4, 1];
const COUNT = 6;
const CLASSES = 3;
const task = testTask(SHAPE, CLASSES);
const RUNS = Math.round(FUZZ_RUNS / 3); // each run writes and reads real files
const scratch = scratchFolders('fuzz-readers');
afterAll(() => scratch.removeAll());

const isDataError = (error: unknown) => error instanceof DataError;

/** Reads `spec` in both modes: throw mode fails only with DataError, collect mode not at all. */
async function readBothWays(spec: string): Promise<void> {
  await outcomeAsync(() => readData(spec, { task, labelled: true }), isDataError);
  const problems = dataProblems('collect');
  await readData(spec, { task, labelled: true, problems });
}

const pixels = patternBytes(COUNT, 16);
const labels = cyclicLabels(COUNT, CLASSES);
const idxImages = new Uint8Array(encodeIdxImages(pixels, COUNT, SHAPE));
const idxLabels = new Uint8Array(encodeIdxLabels(labels));
const npyInputs = new Uint8Array(encodeNpy(pixels, [COUNT, 4, 4, 1], '|u1'));
const npyLabels = new Uint8Array(encodeNpy(Array.from(labels), [COUNT], '<i8'));
const csvText = new TextEncoder().encode(
  ['label,' + Array.from({ length: 16 }, (_, k) => `p${k}`).join(','), ...Array.from({ length: COUNT }, (_, r) => [`c${labels[r]}`, ...pixels.subarray(r * 16, (r + 1) * 16)].join(','))].join('\n') + '\n',
);

describe('data specs under fuzzing', () => {
  it('parseDatasetSpec returns a spec or throws DataError for any text', () => {
    const text = fc.oneof(fc.string({ maxLength: 60 }), fc.tuple(fc.constantFrom('idx', 'npy', 'csv', 'image-folder', 'embedded', 'IDX', 'x-y'), fc.string({ maxLength: 30 })).map(([f, p]) => `${f}:${p}`));
    fc.assert(
      fc.property(text, (t) => {
        try {
          parseDatasetSpec(t);
        } catch (error) {
          if (!isDataError(error)) throw error;
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});

describe('the IDX reader under fuzzing', () => {
  it('reads the valid files the mutations start from', async () => {
    const dir = scratch.make();
    put(dir, 'train-images-idx3-ubyte', idxImages);
    put(dir, 'train-labels-idx1-ubyte', idxLabels);
    expect((await readData(`idx:${dir}`, { task, labelled: true })).inputs.count).toBe(COUNT);
  });

  it('reads mutated images and labels files, plain or gzip, or refuses them with DataError', async () => {
    const dir = scratch.make();
    await fc.assert(
      fc.asyncProperty(mutatedBytes(idxImages), mutatedBytes(idxLabels), fc.boolean(), async (images, labelBytes, gzip) => {
        put(dir, 'train-images-idx3-ubyte', gzip ? gzipSync(images) : images);
        put(dir, 'train-labels-idx1-ubyte', labelBytes);
        await readBothWays(`idx:${dir}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses mutated gzip streams with DataError', async () => {
    const dir = scratch.make();
    put(dir, 'train-labels-idx1-ubyte', idxLabels);
    await fc.assert(
      fc.asyncProperty(mutatedBytes(new Uint8Array(gzipSync(idxImages))), async (gz) => {
        put(dir, 'train-images-idx3-ubyte', gz);
        await readBothWays(`idx:${dir}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws on arbitrary header bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => void parseIdxHeader(bytes)), { numRuns: FUZZ_RUNS });
  });

  it.each([...HUGE_WORDS, 2 ** 31])('refuses %d declared images or labels without allocating them', async (declared) => {
    const dir = scratch.make();
    put(dir, 'train-images-idx3-ubyte', withUint32(idxImages, 4, declared, false));
    put(dir, 'train-labels-idx1-ubyte', withUint32(idxLabels, 4, declared, false));
    const before = process.memoryUsage().arrayBuffers;
    await expect(readData(`idx:${dir}`, { task, labelled: true })).rejects.toThrow(DataError);
    const problems = dataProblems('collect');
    await readData(`idx:${dir}`, { task, labelled: true, problems });
    expect(problems.list.join('\n')).toMatch(/truncated/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });
});

describe('the NPY reader under fuzzing', () => {
  it('reads the valid files the mutations start from', async () => {
    const dir = scratch.make();
    put(dir, 'inputs.npy', npyInputs);
    put(dir, 'labels.npy', npyLabels);
    expect((await readData(`npy:${dir}`, { task, labelled: true })).inputs.count).toBe(COUNT);
  });

  it('reads mutated inputs and labels files or refuses them with DataError', async () => {
    const dir = scratch.make();
    await fc.assert(
      fc.asyncProperty(mutatedBytes(npyInputs), mutatedBytes(npyLabels), async (inputs, labelBytes) => {
        put(dir, 'inputs.npy', inputs);
        put(dir, 'labels.npy', labelBytes);
        await readBothWays(`npy:${dir}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('reads headers with an arbitrary dict text or refuses them with DataError', async () => {
    const dir = scratch.make();
    put(dir, 'labels.npy', npyLabels);
    const dictText = fc.oneof(
      fc.string({ maxLength: 120 }),
      fc.tuple(fc.constantFrom('<f4', '|u1', '>f8', '<i8', '|b1', '<f2', "'"), fc.boolean(), fc.array(fc.oneof(fc.nat(), fc.constantFrom(2 ** 31, 2 ** 53, 1e300), fc.string({ maxLength: 4 })), { maxLength: 5 })).map(
        ([descr, fortran, shape]) => `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}), }`,
      ),
    );
    await fc.assert(
      fc.asyncProperty(dictText, fc.uint8Array({ maxLength: 200 }), async (text, body) => {
        const header = Buffer.from(`${text}\n`, 'latin1');
        const file = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]), Buffer.from(new Uint16Array([header.length]).buffer), header, body]);
        put(dir, 'inputs.npy', file);
        await readBothWays(`npy:${dir}`);
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws on arbitrary header bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => void parseNpyHeader(bytes)), { numRuns: FUZZ_RUNS });
  });

  it.each(['2147483648', '4294967296', '9007199254740993', '9'.repeat(400)])('refuses a shape of %s rows without allocating them', async (rows) => {
    const dir = scratch.make();
    const header = Buffer.from(`{'descr': '|u1', 'fortran_order': False, 'shape': (${rows}, 4, 4, 1), }\n`, 'latin1');
    put(dir, 'inputs.npy', Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]), Buffer.from(new Uint16Array([header.length]).buffer), header, pixels]));
    put(dir, 'labels.npy', npyLabels);
    const before = process.memoryUsage().arrayBuffers;
    await expect(readData(`npy:${dir}`, { task, labelled: true })).rejects.toThrow(/truncated/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it.each(HUGE_WORDS)('refuses an NPY 2.0 header length of %d with DataError', async (length) => {
    const dir = scratch.make();
    const v2 = new Uint8Array(encodeNpy(pixels, [COUNT, 4, 4, 1], '|u1', { version: 2 }));
    put(dir, 'inputs.npy', withUint32(v2, 8, length));
    put(dir, 'labels.npy', npyLabels);
    await expect(readData(`npy:${dir}`, { task, labelled: true })).rejects.toThrow(DataError);
  });
});

describe('the CSV reader under fuzzing', () => {
  it('reads the valid file the mutations start from', async () => {
    const dir = scratch.make();
    put(dir, 'data.csv', csvText);
    expect((await readData(`csv:${dir}`, { task: testTask([16], CLASSES), labelled: true })).inputs.count).toBe(COUNT);
  });

  it('reads mutated or arbitrary text or refuses it with DataError', async () => {
    const dir = scratch.make();
    const csvTask = testTask([16], CLASSES);
    const content = fc.oneof(mutatedBytes(csvText), fc.string({ maxLength: 300 }).map((s) => new TextEncoder().encode(s)), fc.uint8Array({ maxLength: 300 }));
    await fc.assert(
      fc.asyncProperty(content, async (bytes) => {
        put(dir, 'data.csv', bytes);
        await outcomeAsync(() => readData(`csv:${dir}`, { task: csvTask, labelled: true }), isDataError);
        await readData(`csv:${dir}`, { task: csvTask, labelled: true, problems: dataProblems('collect') });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('the image folder reader under fuzzing', () => {
  let png: Uint8Array;
  beforeAll(async () => {
    const dir = scratch.make();
    const { readFileSync } = await import('node:fs');
    png = new Uint8Array(readFileSync(await writeImageFixture(`${dir}/x.png`, patternPixels(4, 4, 1), 4, 4, 1)));
  });

  it('decodes mutated PNG files or refuses them with DataError', async () => {
    const dir = scratch.make();
    put(dir, 'c1/ok.png', png);
    await fc.assert(
      fc.asyncProperty(mutatedBytes(png), async (bytes) => {
        put(dir, 'c0/fuzzed.png', bytes);
        await readBothWays(`image-folder:${dir}`);
      }),
      { numRuns: Math.round(FUZZ_RUNS / 8) }, // sharp decodes in its thread pool: a few ms per image
    );
  });

  it('refuses a PNG declaring 2^31 - 1 x 2^31 - 1 pixels with DataError, without decoding it', async () => {
    const dir = scratch.make();
    // IHDR's width and height (big-endian, at bytes 16 and 20), CRC recomputed.
    const huge = withUint32(withUint32(png, 16, 0x7fffffff, false), 20, 0x7fffffff, false);
    new DataView(huge.buffer).setUint32(29, crc32(huge.subarray(12, 29)), false);
    put(dir, 'c0/huge.png', huge);
    const before = process.memoryUsage().rss;
    await expect(readData(`image-folder:${dir}`, { task, labelled: true })).rejects.toThrow(DataError);
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024);
  });
});

/** CRC-32 (PNG chunks). */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
