import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from './dataset-source';
import { formatDatasetSpec, parseDatasetSpec } from './dataset-spec';
import { dataErrorOf, put, scratchFolders } from './fixtures.testing';

const folders = scratchFolders('spec');
afterAll(() => folders.removeAll());

const ACCEPTED = /accepted: idx:PATH, npy:PATH, csv:PATH, image-folder:PATH, embedded:mnist, embedded:mnist-full, or a PATH/;

describe('parseDatasetSpec: FORMAT:PATH', () => {
  it('takes the format named before the colon, and the rest as the path (not checked on disk)', () => {
    expect(parseDatasetSpec('idx:/data/mnist')).toEqual({ format: 'idx', path: '/data/mnist', text: 'idx:/data/mnist' });
    expect(parseDatasetSpec('npy:x.npy').format).toBe('npy');
    expect(parseDatasetSpec('csv:data/train.csv')).toMatchObject({ format: 'csv', path: 'data/train.csv' });
    expect(parseDatasetSpec(' image-folder:C:\\photos ')).toEqual({ format: 'image-folder', path: 'C:\\photos', text: 'image-folder:C:\\photos' });
  });

  it('knows the embedded sets by name', () => {
    expect(parseDatasetSpec('embedded:mnist')).toEqual({ format: 'embedded', path: 'mnist', text: 'embedded:mnist' });
    expect(parseDatasetSpec('embedded:mnist-full').path).toBe('mnist-full');
  });

  it('refuses an unknown embedded name, listing the known ones', () => {
    expect(dataErrorOf(() => parseDatasetSpec('embedded:cifar10')).message).toBe(
      "embedded:cifar10: unknown embedded data set 'cifar10' (known: embedded:mnist, embedded:mnist-full)",
    );
  });

  it('refuses an unknown format, an empty path and an empty spec, listing the accepted forms', () => {
    expect(dataErrorOf(() => parseDatasetSpec('parquet:/data/x.parquet')).message).toMatch(/^parquet:\/data\/x\.parquet: unknown data format 'parquet' \(accepted: /);
    expect(dataErrorOf(() => parseDatasetSpec('npy:')).message).toMatch(/^npy:: no path after 'npy:'/);
    expect(dataErrorOf(() => parseDatasetSpec('  ')).message).toMatch(ACCEPTED);
  });

  it('formatDatasetSpec writes FORMAT:PATH, which parses back to the same spec', () => {
    for (const text of ['idx:/a/b', 'embedded:mnist-full', 'image-folder:photos']) {
      const spec = parseDatasetSpec(text);
      expect(formatDatasetSpec(spec)).toBe(text);
      expect(parseDatasetSpec(formatDatasetSpec(spec))).toEqual(spec);
    }
  });
});

describe('parseDatasetSpec: a bare PATH, format inferred', () => {
  const dir = folders.make();
  const bare = (name: string) => parseDatasetSpec(join(dir, name));

  it('infers files by their names: .csv, .npy, -ubyte[.gz], .idx[.gz]', () => {
    const files: Record<string, string> = {
      'train.csv': 'csv',
      'UPPER.CSV': 'csv',
      'x.npy': 'npy',
      'train-images-idx3-ubyte': 'idx',
      'train-images-idx3-ubyte.gz': 'idx',
      'images.idx': 'idx',
      'images.idx.gz': 'idx',
    };
    for (const [name, format] of Object.entries(files)) {
      put(dir, name, 'x');
      expect(bare(name), name).toEqual({ format, path: join(dir, name), text: join(dir, name) });
    }
  });

  it('infers folders by what they hold: inputs.npy -> npy, IDX images -> idx, data.csv -> csv, anything else -> image-folder', () => {
    put(dir, 'as-npy/inputs.npy', 'x');
    put(dir, 'as-npy/data.csv', 'x');
    put(dir, 'as-idx/t10k-images-idx3-ubyte.gz', 'x');
    put(dir, 'as-idx-plain/images.idx', 'x');
    put(dir, 'as-csv/data.csv', 'x');
    put(dir, 'as-images/cat/1.png', 'x');
    mkdirSync(join(dir, 'empty'));
    expect(bare('as-npy').format).toBe('npy');
    expect(bare('as-idx').format).toBe('idx');
    expect(bare('as-idx-plain').format).toBe('idx');
    expect(bare('as-csv').format).toBe('csv');
    expect(bare('as-images').format).toBe('image-folder');
    expect(bare('empty').format).toBe('image-folder');
  });

  it('takes an existing path with a colon in it as a path', () => {
    const path = put(dir, 'csv:odd.csv', 'x');
    expect(parseDatasetSpec(path)).toEqual({ format: 'csv', path, text: path });
  });

  it('a missing path is a DataError naming it and listing the accepted forms', () => {
    const missing = join(dir, 'nope.npy');
    const error = dataErrorOf(() => parseDatasetSpec(missing));
    expect(error).toBeInstanceOf(DataError);
    expect(error.message).toMatch(new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not found \\(`));
    expect(error.message).toMatch(ACCEPTED);
  });

  it('a file whose format cannot be told from its name is a DataError naming it and listing the accepted forms', () => {
    const path = put(dir, 'digits.bin', 'x');
    const error = dataErrorOf(() => parseDatasetSpec(path));
    expect(error.message.startsWith(`${path}: cannot tell the data format from the file's name; write FORMAT:PATH`)).toBe(true);
    expect(error.message).toMatch(ACCEPTED);
  });
});
