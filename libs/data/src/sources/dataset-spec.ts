import { readdirSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { CSV_FOLDER_FILE } from './csv-source';
import { describeFsError } from './data-problems';
import { DATASET_FORMATS, DataError, EMBEDDED_DATASETS, type DatasetFormat, type DatasetSpec } from './dataset-source';
import { isIdxFileName, isIdxImagesName } from './idx-format';
import { NPY_INPUTS_FILE } from './npy-source';

const ACCEPTED_FORMS =
  'accepted: idx:PATH, npy:PATH, csv:PATH, image-folder:PATH, embedded:mnist, embedded:mnist-full, ' +
  'or a PATH to a .csv or .npy file, an IDX file (-ubyte, .idx, optionally .gz), or a folder ' +
  '(holding inputs.npy, IDX files, data.csv, or one sub-folder of images per class)';

/**
 * Data specs, as users write them (`--data`, task files):
 * - `FORMAT:PATH` with FORMAT one of idx, npy, csv, image-folder, embedded
 *   (`embedded:mnist`, `embedded:mnist-full`);
 * - or a bare PATH, whose format is inferred: a `.csv` file -> csv; a `.npy` file -> npy; a file
 *   named `*-ubyte`, `*-ubyte.gz`, `*.idx` or `*.idx.gz` -> idx; a folder holding `inputs.npy` ->
 *   npy; a folder holding IDX images files (`*images*-ubyte[.gz]`, `*images*.idx[.gz]`) -> idx; a
 *   folder holding `data.csv` -> csv; any other folder -> image-folder (one sub-folder per class).
 *
 * `FORMAT:PATH` is not checked against the disk here (the reader reports a missing path); a bare
 * PATH must exist, since its format is read from it.
 */
export function parseDatasetSpec(text: string): DatasetSpec {
  const trimmed = text.trim();
  if (trimmed === '') throw new DataError(`data spec is empty (${ACCEPTED_FORMS})`);
  const prefixed = /^([a-z][a-z-]+):(.*)$/i.exec(trimmed);
  if (prefixed && !exists(trimmed)) return explicitSpec(prefixed[1].toLowerCase(), prefixed[2], trimmed);
  return { format: inferFormat(trimmed), path: trimmed, text: trimmed };
}

/** The spec's canonical text, `FORMAT:PATH` (parses back to the same format and path). */
export function formatDatasetSpec(spec: Pick<DatasetSpec, 'format' | 'path'>): string {
  return `${spec.format}:${spec.path}`;
}

function explicitSpec(prefix: string, path: string, text: string): DatasetSpec {
  if (!isDatasetFormat(prefix)) throw new DataError(`${text}: unknown data format '${prefix}' (${ACCEPTED_FORMS})`);
  if (path === '') throw new DataError(`${text}: no path after '${prefix}:' (${ACCEPTED_FORMS})`);
  if (prefix === 'embedded' && !(EMBEDDED_DATASETS as readonly string[]).includes(path)) {
    throw new DataError(`${text}: unknown embedded data set '${path}' (known: ${EMBEDDED_DATASETS.map((name) => `embedded:${name}`).join(', ')})`);
  }
  return { format: prefix, path, text };
}

function isDatasetFormat(name: string): name is DatasetFormat {
  return (DATASET_FORMATS as readonly string[]).includes(name);
}

/** The format of an existing path, by the rules in the header comment. */
function inferFormat(path: string): DatasetFormat {
  const stats = statOrNull(path);
  if (!stats) throw new DataError(`${path}: not found (${ACCEPTED_FORMS})`);
  if (stats.isDirectory()) return inferFolderFormat(path);
  const extension = extname(path).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.npy') return 'npy';
  if (isIdxFileName(path)) return 'idx';
  throw new DataError(`${path}: cannot tell the data format from the file's name; write FORMAT:PATH (${ACCEPTED_FORMS})`);
}

function inferFolderFormat(folder: string): DatasetFormat {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (error) {
    throw new DataError(`${folder}: cannot be read: ${describeFsError(error)}`);
  }
  if (names.includes(NPY_INPUTS_FILE)) return 'npy';
  if (names.some(isIdxImagesName)) return 'idx';
  if (names.includes(CSV_FOLDER_FILE)) return 'csv';
  return 'image-folder';
}

function exists(path: string): boolean {
  return statOrNull(path) !== null;
}

function statOrNull(path: string): ReturnType<typeof statSync> | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}
