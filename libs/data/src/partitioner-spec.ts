import { DirichletPartitioner } from './dirichlet-partitioner';
import { IidPartitioner } from './iid-partitioner';
import { PARTITIONER_NAMES, type Partitioner, type PartitionerSpec } from './partitioner';
import { ShardPartitioner } from './shard-partitioner';

/**
 * The partitioner a spec names. The spec may come from untyped JSON: an unknown name or a bad
 * parameter throws an Error naming it.
 */
export function createPartitioner(spec: PartitionerSpec): Partitioner {
  const name: unknown = (spec as { name?: unknown } | null)?.name;
  switch (name) {
    case 'iid':
      return new IidPartitioner();
    case 'dirichlet': {
      const { alpha, minSamplesPerClient } = spec as Extract<PartitionerSpec, { name: 'dirichlet' }>;
      return new DirichletPartitioner(alpha, minSamplesPerClient === undefined ? {} : { minSamplesPerClient });
    }
    case 'shards':
      return new ShardPartitioner((spec as Extract<PartitionerSpec, { name: 'shards' }>).shardsPerClient);
    default:
      throw new RangeError(`unknown partitioner ${JSON.stringify(name)} (known: ${PARTITIONER_NAMES.join(', ')})`);
  }
}

/**
 * Parses the command-line form of a partitioner: `iid`, `dirichlet:0.5` (alpha), `shards:2`
 * (shards per client); `dirichlet(0.5)` is accepted too. The result is validated.
 */
export function parsePartitionerSpec(text: string): PartitionerSpec {
  const match = /^\s*([a-z_-]+)\s*(?::\s*([^\s()]*)|\(\s*([^\s()]*)\s*\))?\s*$/i.exec(text);
  if (!match) throw new RangeError(`partitioner must look like iid, dirichlet:0.5 or shards:2, got ${JSON.stringify(text)}`);
  const name = match[1].toLowerCase();
  const argument = match[2] ?? match[3];
  const numberArgument = (parameter: string): number => {
    if (argument === undefined || argument === '') {
      throw new RangeError(`${name} needs ${parameter}, e.g. ${name === 'dirichlet' ? 'dirichlet:0.5' : 'shards:2'}`);
    }
    const value = Number(argument);
    if (Number.isNaN(value)) throw new RangeError(`${parameter} must be a number, got ${JSON.stringify(argument)}`);
    return value;
  };
  let spec: PartitionerSpec;
  switch (name) {
    case 'iid':
      if (argument !== undefined) throw new RangeError(`iid takes no argument, got ${JSON.stringify(argument)}`);
      spec = { name: 'iid' };
      break;
    case 'dirichlet':
      spec = { name: 'dirichlet', alpha: numberArgument('alpha') };
      break;
    case 'shards':
      spec = { name: 'shards', shardsPerClient: numberArgument('shardsPerClient') };
      break;
    default:
      throw new RangeError(`unknown partitioner ${JSON.stringify(name)} (known: ${PARTITIONER_NAMES.join(', ')})`);
  }
  createPartitioner(spec); // validates the parameter
  return spec;
}

/** The inverse of parsePartitionerSpec (minSamplesPerClient has no string form and is dropped). */
export function formatPartitionerSpec(spec: PartitionerSpec): string {
  switch (spec.name) {
    case 'iid':
      return 'iid';
    case 'dirichlet':
      return `dirichlet:${spec.alpha}`;
    case 'shards':
      return `shards:${spec.shardsPerClient}`;
  }
}
