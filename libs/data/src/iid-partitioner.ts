import { SeededRng } from '@fedkd/engine';
import { finishPartition, validatePartitionArgs, type Partition, type Partitioner } from './partitioner';

/** Uniformly random, equal-size shares (sizes differ by at most one): the iid baseline. */
export class IidPartitioner implements Partitioner {
  readonly spec = { name: 'iid' } as const;

  partition(labels: ArrayLike<number>, clients: number, seed: number, classes?: number): Partition {
    const width = validatePartitionArgs(labels, clients, seed, classes);
    const n = labels.length;
    const rng = new SeededRng(seed).fork('partition');
    const order = Int32Array.from(rng.permutation(n));
    const shares = Array.from({ length: clients }, (_, j) =>
      order.slice(Math.floor((j * n) / clients), Math.floor(((j + 1) * n) / clients)),
    );
    return finishPartition(shares, labels, width);
  }
}
