import { describe, expect, it } from 'vitest';
import { DirichletPartitioner } from './dirichlet-partitioner';
import { IidPartitioner } from './iid-partitioner';
import { PARTITIONER_NAMES, type PartitionerSpec } from './partitioner';
import { createPartitioner, formatPartitionerSpec, parsePartitionerSpec } from './partitioner-spec';
import { ShardPartitioner } from './shard-partitioner';

describe('partitioner specs', () => {
  it('knows iid, dirichlet and shards', () => {
    expect([...PARTITIONER_NAMES]).toEqual(['iid', 'dirichlet', 'shards']);
  });

  it('parses the command-line forms', () => {
    expect(parsePartitionerSpec('iid')).toEqual({ name: 'iid' });
    expect(parsePartitionerSpec('dirichlet:0.5')).toEqual({ name: 'dirichlet', alpha: 0.5 });
    expect(parsePartitionerSpec(' Dirichlet(0.1) ')).toEqual({ name: 'dirichlet', alpha: 0.1 });
    expect(parsePartitionerSpec('dirichlet:1e2')).toEqual({ name: 'dirichlet', alpha: 100 });
    expect(parsePartitionerSpec('shards:2')).toEqual({ name: 'shards', shardsPerClient: 2 });
  });

  it('formats a spec back to the string it came from', () => {
    for (const text of ['iid', 'dirichlet:0.5', 'dirichlet:100', 'shards:3']) {
      expect(formatPartitionerSpec(parsePartitionerSpec(text))).toBe(text);
    }
  });

  it('creates the partitioner a spec names, keeping the spec', () => {
    const specs: PartitionerSpec[] = [
      { name: 'iid' },
      { name: 'dirichlet', alpha: 0.3 },
      { name: 'dirichlet', alpha: 0.3, minSamplesPerClient: 5 },
      { name: 'shards', shardsPerClient: 2 },
    ];
    const made = specs.map(createPartitioner);
    expect(made[0]).toBeInstanceOf(IidPartitioner);
    expect(made[1]).toBeInstanceOf(DirichletPartitioner);
    expect(made[3]).toBeInstanceOf(ShardPartitioner);
    made.forEach((p, i) => expect(p.spec).toEqual(specs[i]));
  });

  it('gives the same partition from a spec parsed on another machine', () => {
    const labels = Uint8Array.from({ length: 500 }, (_, i) => (i * 7) % 10);
    const here = createPartitioner(parsePartitionerSpec('dirichlet:0.5')).partition(labels, 8, 11);
    const there = createPartitioner(JSON.parse(JSON.stringify({ name: 'dirichlet', alpha: 0.5 }))).partition(labels, 8, 11);
    expect(there.clients).toEqual(here.clients);
  });

  it('rejects an unknown name, listing the known ones', () => {
    expect(() => parsePartitionerSpec('pathological:2')).toThrow(
      'unknown partitioner "pathological" (known: iid, dirichlet, shards)',
    );
    expect(() => createPartitioner({ name: 'nope' } as unknown as PartitionerSpec)).toThrow(
      /unknown partitioner "nope" \(known: iid, dirichlet, shards\)/,
    );
    expect(() => createPartitioner(null as unknown as PartitionerSpec)).toThrow(/unknown partitioner/);
  });

  it('rejects bad or missing parameters, naming them', () => {
    expect(() => parsePartitionerSpec('dirichlet:-1')).toThrow('alpha must be a finite number > 0, got -1');
    expect(() => parsePartitionerSpec('dirichlet:0')).toThrow(/alpha/);
    expect(() => parsePartitionerSpec('dirichlet:abc')).toThrow(/alpha must be a number, got "abc"/);
    expect(() => parsePartitionerSpec('dirichlet')).toThrow(/dirichlet needs alpha/);
    expect(() => parsePartitionerSpec('dirichlet:')).toThrow(/dirichlet needs alpha/);
    expect(() => parsePartitionerSpec('shards:0')).toThrow(/shardsPerClient must be a positive integer, got 0/);
    expect(() => parsePartitionerSpec('shards:2.5')).toThrow(/shardsPerClient/);
    expect(() => parsePartitionerSpec('shards')).toThrow(/shards needs shardsPerClient/);
    expect(() => parsePartitionerSpec('iid:3')).toThrow(/iid takes no argument/);
    expect(() => parsePartitionerSpec('')).toThrow(/partitioner must look like/);
    expect(() => createPartitioner({ name: 'dirichlet' } as unknown as PartitionerSpec)).toThrow(/alpha.*undefined/);
  });
});
