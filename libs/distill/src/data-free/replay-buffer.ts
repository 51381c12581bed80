import { concatFloat32, concatInputs, type InputSet } from '@fedkd/engine';

/** One round's questions and the federation's aggregated answers on them. */
export interface ReplayChunk {
  round: number;
  inputs: InputSet;
  /** [inputs.count x classes] aggregated soft predictions. */
  targets: Float32Array;
}

/** What one add changed: inputs dropped, rounds removed whole, and the oldest round as it now is if it lost rows. */
export interface ReplayChange {
  dropped: number;
  removedRounds: number[];
  trimmed: ReplayChunk | null;
}

/**
 * Every query and its aggregated answer, oldest first, capped at `capacity` inputs (the oldest go
 * first, a partly dropped round keeps its newest rows). The student trains on all of it each round,
 * so a proxy that moves on (a re-initialised generator) does not make it forget.
 */
export class ReplayBuffer {
  private chunks: ReplayChunk[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`replay buffer capacity must be a non-negative integer, got ${capacity}`);
  }

  get size(): number {
    return this.chunks.reduce((n, c) => n + c.inputs.count, 0);
  }

  get rounds(): readonly ReplayChunk[] {
    return this.chunks;
  }

  /**
   * Adds a round's answered inputs, dropping the oldest beyond capacity. Returns what changed, so
   * that a store can follow: the rounds removed whole, and the oldest round if it lost some rows.
   */
  add(chunk: ReplayChunk): ReplayChange {
    if (chunk.targets.length % Math.max(1, chunk.inputs.count) !== 0 || (chunk.inputs.count === 0) !== (chunk.targets.length === 0)) {
      throw new RangeError(`replay chunk of round ${chunk.round}: ${chunk.targets.length} target values for ${chunk.inputs.count} inputs`);
    }
    if (this.chunks.some((c) => c.round >= chunk.round)) throw new RangeError(`replay chunk of round ${chunk.round} after round ${this.chunks.at(-1)!.round}: rounds are added in order`);
    if (chunk.inputs.count > 0) this.chunks.push(chunk);
    return this.trim();
  }

  /** Everything held, oldest first, as one training set (null when empty). */
  contents(): { inputs: InputSet; targets: Float32Array } | null {
    if (this.chunks.length === 0) return null;
    return { inputs: concatInputs(this.chunks.map((c) => c.inputs)), targets: concatFloat32(this.chunks.map((c) => c.targets)) };
  }

  private trim(): ReplayChange {
    let excess = this.size - this.capacity;
    const change: ReplayChange = { dropped: 0, removedRounds: [], trimmed: null };
    while (excess > 0 && this.chunks.length > 0) {
      const oldest = this.chunks[0];
      if (oldest.inputs.count <= excess) {
        this.chunks.shift();
        excess -= oldest.inputs.count;
        change.dropped += oldest.inputs.count;
        change.removedRounds.push(oldest.round);
        continue;
      }
      const keep = oldest.inputs.count - excess;
      const size = oldest.inputs.values.length / oldest.inputs.count;
      const classes = oldest.targets.length / oldest.inputs.count;
      this.chunks[0] = {
        round: oldest.round,
        inputs: { ...oldest.inputs, values: oldest.inputs.values.slice(excess * size), count: keep },
        targets: oldest.targets.slice(excess * classes),
      };
      change.dropped += excess;
      change.trimmed = this.chunks[0];
      excess = 0;
    }
    return change;
  }
}
