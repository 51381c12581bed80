import { scratchFolders } from './fixtures.testing';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Task } from '../task/task';
import { csvSource, parseNumberCell } from './csv-source';
import { dataProblems } from './data-problems';
import type { ReadOptions } from './dataset-source';
import { featureTask, imageTask, readOptions, specOf, writeFixture } from './image-fixtures.testing';

const folders = scratchFolders('csv');
afterAll(() => folders.removeAll());

/** Writes `text` as a CSV file in a new folder and returns its path. */
function csvFile(text: string, name = 'data.csv'): string {
  return writeFixture(join(folders.make(), name), text);
}

function read(path: string, task: Task, extra: Partial<ReadOptions> = {}) {
  return csvSource.read(specOf('csv', path), readOptions(task, extra));
}

const task3 = featureTask(3);

describe('csvSource: reading', () => {
  it('reads every non-label column as a feature, in header order, and the label by class name', async () => {
    const file = csvFile('x,label,y,z\n1,b,2,3\n4.5,a,-5,6e1\n');
    const loaded = await read(file, task3);
    expect(loaded.inputs.count).toBe(2);
    expect([...loaded.inputs.values]).toEqual([1, 2, 3, 4.5, -5, 60]);
    expect([...loaded.labels!]).toEqual([1, 0]);
    expect(loaded.inputs.inputShape).toEqual([3]);
    expect(loaded.files).toEqual([file]);
  });

  it('takes a label that is no class name but an integer in [0, classes) as a class index', async () => {
    const loaded = await read(csvFile('f0,f1,f2,label\n1,2,3,2\n4,5,6,0\n7,8,9,c\n'), task3);
    expect([...loaded.labels!]).toEqual([2, 0, 2]);
  });

  it('prefers the class name when a name looks like an index', async () => {
    const digits = featureTask(1, ['1', '0']);
    const loaded = await read(csvFile('v,label\n5,0\n6,1\n'), digits);
    expect([...loaded.labels!]).toEqual([1, 0]);
  });

  it('reads the label from the column options.labelColumn names', async () => {
    const loaded = await read(csvFile('species,a,b,c\nc,1,2,3\n'), task3, { labelColumn: 'species' });
    expect([...loaded.labels!]).toEqual([2]);
    expect([...loaded.inputs.values]).toEqual([1, 2, 3]);
  });

  it('handles quoted fields holding commas and quotes, a byte-order mark, CRLF line ends and blanks around numbers', async () => {
    const task = featureTask(2, ['x, "y"', 'z']);
    const loaded = await read(csvFile('\uFEFFa,b,label\r\n" 1.5 ",2,"x, ""y"""\r\n3, 4 ,z\r\n'), task);
    expect([...loaded.inputs.values]).toEqual([1.5, 2, 3, 4]);
    expect([...loaded.labels!]).toEqual([0, 1]);
  });

  it('reads an [H, W, C] task from H*W*C feature columns, row-major', async () => {
    const task = imageTask(2, 2, 1);
    const loaded = await read(csvFile('p0,p1,p2,p3,label\n0,64,128,255,dog\n'), task);
    expect(loaded.inputs.inputShape).toEqual([2, 2, 1]);
    expect([...loaded.inputs.values]).toEqual([0, 64, 128, 255]);
  });

  it('reads data.csv when PATH is a folder', async () => {
    const file = csvFile('a,b,c,label\n1,2,3,a\n');
    const loaded = await read(join(file, '..'), task3);
    expect(loaded.inputs.count).toBe(1);
    expect(loaded.files).toEqual([file]);
  });

  it('applies the task scaling and records the raw range', async () => {
    const task: Task = { ...task3, input: { shape: [3], scaling: { type: 'divide', by: 10 } } };
    const loaded = await read(csvFile('a,b,c,label\n10,20,-30,a\n'), task);
    expect(loaded.rawRange).toEqual({ min: -30, max: 20 });
    expect(Array.from(loaded.inputs.values, (v) => Math.round(v * 1000) / 1000)).toEqual([1, 2, -3]);
  });

  it('skips empty lines and still numbers lines as in the file', async () => {
    const file = csvFile('a,b,c,label\n\n1,2,3,a\n\nx,2,3,a\n');
    await expect(read(file, task3)).rejects.toThrow(`${file}:5:1: 'x' is not a number (column 'a')`);
  });

  it('reads more rows than the first row suggests (a long first row, short ones after)', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => (i === 0 ? '1000000.125,-2000000.5,3000000.75,a' : `${i % 7},${-i % 5},${i},${i % 3}`));
    const loaded = await read(csvFile(`a,b,c,label\n${rows.join('\n')}\n`), task3);
    expect(loaded.inputs.count).toBe(3000);
    expect(loaded.inputs.values.length).toBe(9000);
    expect([...loaded.inputs.values.subarray(0, 3)]).toEqual([1000000.125, -2000000.5, 3000000.75]);
    expect([...loaded.inputs.values.subarray(3 * 2999)]).toEqual([2999 % 7, -(2999 % 5), 2999]);
    expect(loaded.labels![2999]).toBe(2999 % 3);
  });
});

describe('csvSource: unlabelled reads (proxy data)', () => {
  it('reads a file without a label column', async () => {
    const loaded = await read(csvFile('a,b,c\n1,2,3\n4,5,6\n'), task3, { labelled: false });
    expect(loaded.labels).toBeNull();
    expect([...loaded.inputs.values]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('ignores a column named like the label column, whatever it holds', async () => {
    const loaded = await read(csvFile('a,label,b,c\n1,not-a-class,2,3\n'), task3, { labelled: false });
    expect(loaded.labels).toBeNull();
    expect([...loaded.inputs.values]).toEqual([1, 2, 3]);
  });
});

describe('csvSource: problems name the file, line and column', () => {
  it('a cell that is not a number: file:line:column, the cell and the column name', async () => {
    const file = csvFile('a,b,c,label\n1,2,3,a\n1,abc,3,a\n');
    await expect(read(file, task3)).rejects.toThrow(`${file}:3:2: 'abc' is not a number (column 'b')`);
  });

  it('an empty cell, NaN, an infinity or hex is not a number either', () => {
    for (const cell of ['', ' ', 'NaN', 'Infinity', '1e999', '0x10', '1,5', '--1']) expect(parseNumberCell(cell)).toBeNull();
    expect([' 7 ', '-0.5', '+.5', '1e-3', '12.'].map(parseNumberCell)).toEqual([7, -0.5, 0.5, 0.001, 12]);
  });

  it('a row with another number of columns than the header', async () => {
    const file = csvFile('a,b,c,x,y,label\n1,2,3,4,5,a\n1,2,3,4,5\n');
    await expect(read(file, featureTask(5))).rejects.toThrow(`${file}:3: 5 columns, the header has 6`);
  });

  it('a label that is neither a class name nor an index in range', async () => {
    const file = csvFile('a,b,c,label\n1,2,3,wolf\n');
    await expect(read(file, task3)).rejects.toThrow(`${file}:2: label 'wolf' is not among the task's classes (a, b, c) nor an index in [0, 3)`);
    const outOfRange = csvFile('a,b,c,label\n1,2,3,3\n');
    await expect(read(outOfRange, task3)).rejects.toThrow(`${outOfRange}:2: label '3' is not among`);
  });

  it('a missing label column: its name and the header', async () => {
    const file = csvFile('a,b,c,class\n1,2,3,a\n');
    await expect(read(file, task3)).rejects.toThrow(`${file}:1: no label column 'label' in the header (a, b, c, class)`);
  });

  it('a header name that repeats', async () => {
    const file = csvFile('a,b,a,label\n1,2,3,a\n');
    await expect(read(file, task3)).rejects.toThrow(`${file}:1: header name 'a' repeats: columns 1 and 3`);
  });

  it("a feature count that is not the task's input size: the count and the task's shape", async () => {
    const file = csvFile('a,b,label\n1,2,a\n');
    await expect(read(file, task3)).rejects.toThrow(`${file}: the header has 2 feature columns besides 'label', the task's input shape [3] needs 3`);
    await expect(read(file, imageTask(2, 2, 1))).rejects.toThrow("the task's input shape [2, 2, 1] needs 4");
  });

  it('a CSV with a header but no rows', async () => {
    const file = csvFile('a,b,c,label\n');
    await expect(read(file, task3)).rejects.toThrow(`${file}: holds no data rows (only the header)`);
  });

  it('an empty CSV file', async () => {
    const file = csvFile('');
    await expect(read(file, task3)).rejects.toThrow(`${file}: is empty: a header row naming the columns is required`);
  });

  it('a file that does not exist, and a folder without data.csv', async () => {
    const dir = folders.make();
    await expect(read(join(dir, 'nope.csv'), task3)).rejects.toThrow(`${join(dir, 'nope.csv')}: cannot be read: no such file or folder`);
    await expect(read(dir, task3)).rejects.toThrow(`${dir}: is a folder without data.csv`);
  });

  it('a quote that is never closed: the parser reason with the line', async () => {
    const file = csvFile('a,b,c,label\n1,2,3,a\n"1,2,3,a\n');
    await expect(read(file, task3)).rejects.toThrow(new RegExp(`^${file}:\\d+: not valid CSV: Quote Not Closed`));
  });
});

describe('csvSource: collect mode (task check)', () => {
  it('lists every bad row of a file, in file order, and keeps the good rows', async () => {
    const file = csvFile(['a,b,c,label', '1,2,3,a', 'x,2,3,a', '4,5,6,b', '7,8,c', '7,8,9,wolf', '10,11,12,c', '1,2,3,"unclosed'].join('\n'));
    const problems = dataProblems('collect');
    const loaded = await read(file, task3, { problems });
    expect(problems.list).toEqual([
      `${file}:3:1: 'x' is not a number (column 'a')`,
      `${file}:5: 3 columns, the header has 4`,
      `${file}:6: label 'wolf' is not among the task's classes (a, b, c) nor an index in [0, 3)`,
      expect.stringMatching(new RegExp(`^${file}:8: not valid CSV: Quote Not Closed`)),
    ]);
    expect(loaded.inputs.count).toBe(3);
    expect([...loaded.inputs.values]).toEqual([1, 2, 3, 4, 5, 6, 10, 11, 12]);
    expect([...loaded.labels!]).toEqual([0, 1, 2]);
  });

  it('reports a header problem once and returns no rows', async () => {
    const problems = dataProblems('collect');
    const file = csvFile('a,b,c\n1,2,3\n');
    const loaded = await read(file, task3, { problems });
    expect(problems.list).toEqual([`${file}:1: no label column 'label' in the header (a, b, c)`]);
    expect(loaded.inputs.count).toBe(0);
  });
});
