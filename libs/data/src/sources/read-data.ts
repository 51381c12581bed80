import { csvSource } from './csv-source';
import { dataProblems } from './data-problems';
import { parseDatasetSpec } from './dataset-spec';
import { DataError, type DatasetFormat, type DatasetSource, type LoadedData, type ReadOptions } from './dataset-source';
import { embeddedSource } from './embedded-source';
import { idxSource } from './idx-source';
import { imageFolderSource } from './image-folder-source';
import { npySource } from './npy-source';

/** The DatasetSource implementations, by format name. */
const SOURCES: Record<DatasetFormat, DatasetSource> = {
  idx: idxSource,
  npy: npySource,
  csv: csvSource,
  'image-folder': imageFolderSource,
  embedded: embeddedSource,
};

export function datasetSource(format: DatasetFormat): DatasetSource {
  return SOURCES[format];
}

/**
 * Reads the data set a spec names (`FORMAT:PATH`, a path whose format is inferred, or
 * `embedded:NAME`) against the task. Problems throw a DataError naming the file, unless
 * `options.problems` collects them; an empty result is always an error.
 */
export async function readData(specText: string, options: ReadOptions): Promise<LoadedData> {
  const spec = parseDatasetSpec(specText);
  const problems = options.problems ?? dataProblems('throw');
  const loaded = await datasetSource(spec.format).read(spec, { ...options, problems });
  if (loaded.inputs.count === 0 && problems.mode === 'throw') throw new DataError(`${spec.text}: the data set is empty`);
  return loaded;
}
