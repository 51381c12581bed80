import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MNIST_TASK } from '../task/task';
import { dataProblems } from './data-problems';
import type { ReadOptions } from './dataset-source';
import { cyclicLabels, dataErrorOf, dividedBy255, patternBytes, put, scratchFolders, testTask } from './fixtures.testing';
import { encodeNpy, parseNpyHeader } from './npy-format';
import { npySource, readNpySync } from './npy-source';

const folders = scratchFolders('npy');
afterAll(() => folders.removeAll());

const PIXELS = 28 * 28;
const labelled: ReadOptions = { task: MNIST_TASK, labelled: true };
const unlabelled: ReadOptions = { task: MNIST_TASK, labelled: false };
const FEATURES = testTask([3], 4, { type: 'none' });

/** Written by numpy 2.4: `np.save(f, np.arange(12, dtype=np.uint8).reshape(3, 2, 2))` and `np.save(f, np.array([3, 1, 4]))` (int64). */
const NUMPY_UINT8 =
  'k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsIDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAQIDBAUGBwgJCgs=';
const NUMPY_INT64 =
  'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoDAAAAAAAAAAEAAAAAAAAABAAAAAAAAAA=';

/** A folder with inputs.npy (and labels.npy unless labels is null). */
function npyFolder(inputs: Buffer, labels: Buffer | null): string {
  const dir = folders.make();
  put(dir, 'inputs.npy', inputs);
  if (labels) put(dir, 'labels.npy', labels);
  return dir;
}

describe('NPY codec', () => {
  it('writes byte for byte what np.save writes, and reads what np.save wrote', () => {
    const numpyUint8 = Buffer.from(NUMPY_UINT8, 'base64');
    expect(encodeNpy(Array.from({ length: 12 }, (_, i) => i), [3, 2, 2], '|u1').equals(numpyUint8)).toBe(true);
    expect(encodeNpy([3, 1, 4], [3], '<i8').equals(Buffer.from(NUMPY_INT64, 'base64'))).toBe(true);
    const parsed = parseNpyHeader(numpyUint8);
    expect(parsed.ok && parsed.header).toEqual({ version: '1.0', descr: '|u1', fortranOrder: false, shape: [3, 2, 2], dataOffset: 128 });
  });

  it('aligns the data to 64 bytes in versions 1.0, 2.0 and 3.0', () => {
    for (const version of [1, 2, 3] as const) {
      const parsed = parseNpyHeader(encodeNpy([1, 2], [2], '<f4', { version }));
      expect(parsed.ok && parsed.header.version).toBe(`${version}.0`);
      expect(parsed.ok && parsed.header.dataOffset % 64).toBe(0);
    }
  });
});

describe('NPY reader: round trips', () => {
  it('reads uint8 inputs (N, 28, 28) with uint8 labels from a folder, scaled by the task', async () => {
    const pixels = patternBytes(6, PIXELS);
    const digits = cyclicLabels(6, 10);
    const dir = npyFolder(encodeNpy(pixels, [6, 28, 28], '|u1'), encodeNpy(digits, [6], '|u1'));
    const loaded = await npySource.read({ format: 'npy', path: dir, text: `npy:${dir}` }, labelled);
    expect(loaded.inputs.count).toBe(6);
    expect(loaded.inputs.inputShape).toEqual([28, 28, 1]);
    expect(loaded.inputs.values).toEqual(dividedBy255(pixels));
    expect(loaded.labels).toEqual(digits);
    expect(loaded.rawRange).toEqual({ min: 0, max: 255 });
    expect(loaded.files).toEqual([join(dir, 'inputs.npy'), join(dir, 'labels.npy')]);
  });

  it('accepts (N, 28, 28, 1) as well as (N, 28, 28) for a task [28, 28, 1]', () => {
    const pixels = patternBytes(2, PIXELS);
    const dir = npyFolder(encodeNpy(pixels, [2, 28, 28, 1], '|u1'), null);
    expect(readNpySync(dir, unlabelled).inputs.values).toEqual(dividedBy255(pixels));
  });

  it('reads float32, float64 and big-endian float inputs as they are written (versions 1.0, 2.0, 3.0)', () => {
    const values = [0.25, -1.5, 3e5, 7, 0, -0.125];
    const cases = [
      { descr: '<f4', version: 1 },
      { descr: '<f8', version: 2 },
      { descr: '>f4', version: 3 },
      { descr: '>f8', version: 1 },
    ] as const;
    for (const { descr, version } of cases) {
      const dir = npyFolder(encodeNpy(values, [2, 3], descr, { version }), encodeNpy([0, 3], [2], '|u1'));
      const loaded = readNpySync(dir, { task: FEATURES, labelled: true });
      expect(loaded.inputs.values, descr).toEqual(Float32Array.from(values));
      expect(loaded.rawRange, descr).toEqual({ min: -1.5, max: 3e5 });
    }
  });

  it('reads labels of every integer dtype, float labels holding integers, and (N, 1) labels', () => {
    const inputs = encodeNpy(patternBytes(4, 3), [4, 3], '|u1');
    const dtypes = ['|u1', '|i1', '<u2', '<i2', '<u4', '<i4', '<u8', '<i8', '>i8', '<f4', '<f8'];
    for (const descr of dtypes) {
      const dir = npyFolder(inputs, encodeNpy([3, 0, 2, 1], [4], descr));
      expect([...(readNpySync(dir, { task: FEATURES, labelled: true }).labels ?? [])], descr).toEqual([3, 0, 2, 1]);
    }
    const column = npyFolder(inputs, encodeNpy([1, 1, 0, 2], [4, 1], '<i8'));
    expect([...(readNpySync(column, { task: FEATURES, labelled: true }).labels ?? [])]).toEqual([1, 1, 0, 2]);
    const numpy = npyFolder(encodeNpy(patternBytes(3, 3), [3, 3], '|u1'), Buffer.from(NUMPY_INT64, 'base64'));
    expect([...(readNpySync(numpy, { task: testTask([3], 5), labelled: true }).labels ?? [])]).toEqual([3, 1, 4]);
  });

  it('takes an inputs file as PATH: labels are NAME-labels.npy beside it, else labels.npy', () => {
    const dir = folders.make();
    const x = put(dir, 'x.npy', encodeNpy([1, 2, 3, 4, 5, 6], [2, 3], '<f4'));
    put(dir, 'labels.npy', encodeNpy([0, 1], [2], '|u1'));
    const shared = readNpySync(x, { task: FEATURES, labelled: true });
    expect(shared.files).toEqual([x, join(dir, 'labels.npy')]);
    expect([...(shared.labels ?? [])]).toEqual([0, 1]);
    const own = put(dir, 'x-labels.npy', encodeNpy([2, 3], [2], '<i8'));
    const preferred = readNpySync(x, { task: FEATURES, labelled: true });
    expect(preferred.files).toEqual([x, own]);
    expect([...(preferred.labels ?? [])]).toEqual([2, 3]);
  });

  it('needs only the inputs for an unlabelled read, and returns labels null', () => {
    const dir = folders.make();
    const x = put(dir, 'proxy.npy', encodeNpy([1, 2, 3], [1, 3], '<f8'));
    const loaded = readNpySync(x, { task: FEATURES, labelled: false });
    expect(loaded.labels).toBeNull();
    expect(loaded.inputs.values).toEqual(Float32Array.from([1, 2, 3]));
  });

  it('applies a standardising task per channel', () => {
    const task = testTask([1, 2, 2], 2, { type: 'standardise', mean: [10, 20], std: [2, 4] });
    const dir = npyFolder(encodeNpy([10, 20, 12, 28], [1, 1, 2, 2], '<f4'), null);
    expect(readNpySync(dir, { task, labelled: false }).inputs.values).toEqual(Float32Array.from([0, 0, 1, 2]));
  });
});

describe('NPY reader: bad input, each named with its file', () => {
  it('a wrong magic number says expected and got (with a hint for .npz archives)', () => {
    const dir = npyFolder(Buffer.from('PK\u0003\u0004 this is a zip archive'), null);
    const inputs = join(dir, 'inputs.npy');
    expect(dataErrorOf(() => readNpySync(dir, unlabelled)).message).toBe(
      `${inputs}: wrong magic number: expected the NPY magic 93 4e 55 4d 50 59 (\\x93NUMPY), got 50 4b 03 04 20 74 (a zip archive: .npz files are not read, save each array with np.save)`,
    );
  });

  it('an unsupported format version is named', () => {
    const bytes = encodeNpy([1], [1, 1], '<f4');
    bytes[6] = 4;
    const dir = npyFolder(bytes, null);
    expect(dataErrorOf(() => readNpySync(dir, { task: testTask([1], 2), labelled: false })).message).toMatch(/inputs\.npy: unsupported NPY format version 4\.0 \(supported: 1\.0, 2\.0, 3\.0\)$/);
  });

  it('truncated data say the expected and the actual byte counts', () => {
    const bytes = encodeNpy(new Float32Array(10 * PIXELS), [10, 28, 28], '<f4');
    const dir = npyFolder(bytes.subarray(0, 20_000), null);
    expect(dataErrorOf(() => readNpySync(dir, unlabelled)).message).toBe(
      `${join(dir, 'inputs.npy')}: truncated: expected 31488 bytes (10 x 28 x 28 x 4-byte float32 values + 128-byte header), got 20000`,
    );
  });

  it('an unsupported dtype is named, with the supported ones', () => {
    const complex = encodeNpy([1, 2], [1, 2], '<f8');
    complex.write("'<c8'", complex.indexOf("'<f8'"), 'latin1');
    const dir = npyFolder(complex, null);
    expect(dataErrorOf(() => readNpySync(dir, { task: testTask([2], 2), labelled: false })).message).toBe(
      `${join(dir, 'inputs.npy')}: unsupported dtype '<c8' for inputs (supported: |u1, <f4, <f8, in either byte order)`,
    );
    const ints = npyFolder(encodeNpy([1, 2], [1, 2], '<i4'), null);
    expect(dataErrorOf(() => readNpySync(ints, { task: testTask([2], 2), labelled: false })).message).toMatch(/unsupported dtype '<i4' for inputs/);
  });

  it('Fortran order is refused: C order is required', () => {
    const dir = npyFolder(encodeNpy(new Float32Array(2 * PIXELS), [2, 28, 28], '<f4', { fortranOrder: true }), null);
    expect(dataErrorOf(() => readNpySync(dir, unlabelled)).message).toBe(
      `${join(dir, 'inputs.npy')}: fortran_order is True: C (row-major) order is required (save np.ascontiguousarray(array))`,
    );
  });

  it("an input shape that does not fit the task names the array's shape and the task's", () => {
    const dir = npyFolder(encodeNpy(new Uint8Array(4 * 32 * 32), [4, 32, 32], '|u1'), null);
    expect(dataErrorOf(() => readNpySync(dir, unlabelled)).message).toBe(
      `${join(dir, 'inputs.npy')}: array shape (4, 32, 32) does not fit the task's input shape [28, 28, 1]: expected (N, 28, 28, 1) or (N, 28, 28)`,
    );
  });

  it('one-hot labels are refused: one class index per row', () => {
    const dir = npyFolder(encodeNpy([1, 2, 3], [1, 3], '<f4'), encodeNpy(new Uint8Array(4), [1, 4], '|u1'));
    expect(dataErrorOf(() => readNpySync(dir, { task: FEATURES, labelled: true })).message).toBe(
      `${join(dir, 'labels.npy')}: labels array shape (1, 4) must be (N,) or (N, 1): one class index per row (one-hot labels are not read)`,
    );
  });

  it('NaN or infinite inputs name the file and the row', () => {
    for (const bad of [NaN, Infinity]) {
      const dir = npyFolder(encodeNpy([1, 2, 3, 4, 5, 6, 7, bad, 9], [3, 3], '<f4'), null);
      expect(dataErrorOf(() => readNpySync(dir, { task: FEATURES, labelled: false })).message).toBe(`${join(dir, 'inputs.npy')}: row 2: value 1 of the row is NaN or infinite`);
    }
  });

  it('a labels count that differs from the inputs count names both counts and both files', () => {
    const dir = npyFolder(encodeNpy(new Float32Array(9), [3, 3], '<f4'), encodeNpy([0, 1], [2], '<i8'));
    expect(dataErrorOf(() => readNpySync(dir, { task: FEATURES, labelled: true })).message).toBe(
      `${join(dir, 'labels.npy')}: has 2 labels but ${join(dir, 'inputs.npy')} has 3 inputs`,
    );
  });

  it('a label that is not a class names the file, the row and the value', () => {
    const inputs = encodeNpy(new Float32Array(9), [3, 3], '<f4');
    const cases: [number[], string, string][] = [
      [[0, 4, 1], '<i8', 'row 1: label 4 is not a class (the task has 4 classes, 0..3)'],
      [[0, 1, -1], '<i4', 'row 2: label -1 is not a class (the task has 4 classes, 0..3)'],
      [[2.5, 1, 0], '<f4', 'row 0: label 2.5 is not an integer class index'],
    ];
    for (const [labels, descr, problem] of cases) {
      const dir = npyFolder(inputs, encodeNpy(labels, [3], descr));
      expect(dataErrorOf(() => readNpySync(dir, { task: FEATURES, labelled: true })).message).toBe(`${join(dir, 'labels.npy')}: ${problem}`);
    }
  });

  it('an empty data set is an error', () => {
    const dir = npyFolder(encodeNpy([], [0, 28, 28], '|u1'), null);
    expect(dataErrorOf(() => readNpySync(dir, unlabelled)).message).toBe(`${join(dir, 'inputs.npy')}: empty data set: 0 inputs (array shape (0, 28, 28))`);
  });

  it('a missing labels file for a labelled read says where it was looked for', () => {
    const dir = folders.make();
    const x = put(dir, 'x.npy', encodeNpy([1, 2, 3], [1, 3], '<f4'));
    expect(dataErrorOf(() => readNpySync(x, { task: FEATURES, labelled: true })).message).toBe(
      `${x}: labels file not found: looked for ${join(dir, 'x-labels.npy')} and ${join(dir, 'labels.npy')}`,
    );
    const folder = npyFolder(encodeNpy([1, 2, 3], [1, 3], '<f4'), null);
    expect(dataErrorOf(() => readNpySync(folder, { task: FEATURES, labelled: true })).message).toBe(`${folder}: labels file not found: looked for ${join(folder, 'labels.npy')}`);
  });

  it('a missing path and a folder without inputs.npy are errors naming the path', () => {
    const dir = folders.make();
    expect(dataErrorOf(() => readNpySync(join(dir, 'x.npy'), unlabelled)).message).toBe(`${join(dir, 'x.npy')}: not found`);
    expect(dataErrorOf(() => readNpySync(dir, unlabelled)).message).toBe(`${dir}: no inputs.npy in this folder`);
  });
});

describe('NPY reader: collect mode (task check)', () => {
  it('lists every problem of one read and keeps the good rows', () => {
    const values = [0, 1, 2, 3, NaN, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
    const dir = npyFolder(encodeNpy(values, [5, 3], '<f4'), encodeNpy([0, 1, 2, 9, 3, 1], [6], '<i8'));
    const problems = dataProblems('collect');
    const loaded = readNpySync(dir, { task: FEATURES, labelled: true, problems });
    expect(problems.list).toEqual([
      `${join(dir, 'labels.npy')}: has 6 labels but ${join(dir, 'inputs.npy')} has 5 inputs`,
      `${join(dir, 'inputs.npy')}: row 1: value 1 of the row is NaN or infinite`,
      `${join(dir, 'labels.npy')}: row 3: label 9 is not a class (the task has 4 classes, 0..3)`,
    ]);
    expect(loaded.inputs.count).toBe(3);
    expect([...(loaded.labels ?? [])]).toEqual([0, 2, 3]);
    expect(loaded.inputs.values).toEqual(Float32Array.from([0, 1, 2, 6, 7, 8, 12, 13, 14]));
  });

  it('keeps the complete rows of a truncated file', () => {
    const dir = npyFolder(encodeNpy([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3], '|u1').subarray(0, 128 + 7), null);
    const problems = dataProblems('collect');
    const loaded = readNpySync(dir, { task: FEATURES, labelled: false, problems });
    expect(problems.list).toEqual([`${join(dir, 'inputs.npy')}: truncated: expected 137 bytes (3 x 3 x 1-byte uint8 values + 128-byte header), got 135`]);
    expect(loaded.inputs.values).toEqual(Float32Array.from([1, 2, 3, 4, 5, 6]));
  });
});

describe('NPY reader: memory', () => {
  it('reads float32 inputs into one Float32Array that shares nothing with the file buffer', () => {
    const dir = folders.make();
    const x = put(dir, 'x.npy', encodeNpy([1, 2, 3, 4, 5, 6], [2, 3], '<f4'));
    const loaded = readNpySync(x, { task: FEATURES, labelled: false });
    expect(loaded.inputs.values.byteOffset).toBe(0);
    expect(loaded.inputs.values.buffer.byteLength).toBe(6 * 4);
  });
});
