import { concatArrays, SeededRng } from '@fedkd/engine';
import { indicesByClass } from './dataset';
import { finishPartition, validatePartitionArgs, type Partition, type Partitioner } from './partitioner';

/**
 * The pathological non-iid split of McMahan et al. (2017): sort the samples by label, cut them
 * into clients * shardsPerClient contiguous shards of (nearly) equal size, and give each client
 * shardsPerClient shards chosen at random. A shard no larger than the smallest class spans at
 * most 2 classes, so with 2 shards a client sees at most 4 classes, and mostly 1 or 2.
 * Within a label the order is shuffled first, so a shard is a random sample of its classes.
 */
export class ShardPartitioner implements Partitioner {
  readonly spec: { name: 'shards'; shardsPerClient: number };

  constructor(readonly shardsPerClient: number) {
    if (!Number.isInteger(shardsPerClient) || shardsPerClient <= 0) {
      throw new RangeError(`shardsPerClient must be a positive integer, got ${shardsPerClient}`);
    }
    this.spec = { name: 'shards', shardsPerClient };
  }

  partition(labels: ArrayLike<number>, clients: number, seed: number, classes?: number): Partition {
    const width = validatePartitionArgs(labels, clients, seed, classes);
    const n = labels.length;
    const shards = clients * this.shardsPerClient;
    if (shards > n) {
      throw new RangeError(
        `shards (clients ${clients} x shardsPerClient ${this.shardsPerClient} = ${shards}) exceed samples (${n})`,
      );
    }
    const rng = new SeededRng(seed).fork('partition');
    const sorted = new Int32Array(n);
    let filled = 0;
    for (const members of indicesByClass(labels, width)) {
      rng.shuffle(members);
      sorted.set(members, filled);
      filled += members.length;
    }
    const shardOrder = rng.permutation(shards);
    const shares = Array.from({ length: clients }, (_, j) => {
      const parts = shardOrder
        .slice(j * this.shardsPerClient, (j + 1) * this.shardsPerClient)
        .map((s) => sorted.subarray(Math.floor((s * n) / shards), Math.floor(((s + 1) * n) / shards)));
      return concatArrays(parts, (length) => new Int32Array(length));
    });
    return finishPartition(shares, labels, width);
  }
}
