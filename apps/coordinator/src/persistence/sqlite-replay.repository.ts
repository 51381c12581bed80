import type Database from 'better-sqlite3';
import type { ReplayChange, ReplayChunk } from '@fedkd/distill';
import type { ReplayRepository } from './replay.repository';

interface ReplayRow {
  round: number;
  count: number;
  input_shape: string;
  encoding: 'uint8' | 'float32';
  inputs: Buffer;
  targets: Buffer;
}

/**
 * Inputs are stored as uint8 when every value is exactly q / 255 in float32 (the student-guided
 * generator's pixels, and image data sets read from bytes), else as float32: a quarter of the
 * space for images, and exactly the values the student trained on either way.
 */
export class SqliteReplayRepository implements ReplayRepository {
  constructor(private readonly db: Database.Database) {}

  all(): ReplayChunk[] {
    const rows = this.db.prepare('SELECT * FROM replay_examples ORDER BY round').all() as ReplayRow[];
    return rows.map((row) => {
      const inputShape = JSON.parse(row.input_shape) as number[];
      const bytes = new Uint8Array(row.inputs);
      const values = row.encoding === 'uint8' ? Float32Array.from(bytes, (q) => q / 255) : new Float32Array(bytes.slice().buffer);
      return { round: row.round, inputs: { values, count: row.count, inputShape }, targets: new Float32Array(new Uint8Array(row.targets).slice().buffer) };
    });
  }

  record(added: ReplayChunk, change: ReplayChange): void {
    const write = this.db.prepare('INSERT OR REPLACE INTO replay_examples (round, count, input_shape, encoding, inputs, targets) VALUES (?, ?, ?, ?, ?, ?)');
    const put = (chunk: ReplayChunk) => {
      const pixels = asPixels(chunk.inputs.values);
      const inputs = pixels ?? new Uint8Array(chunk.inputs.values.buffer, chunk.inputs.values.byteOffset, chunk.inputs.values.byteLength);
      const targets = new Uint8Array(chunk.targets.buffer, chunk.targets.byteOffset, chunk.targets.byteLength);
      write.run(chunk.round, chunk.inputs.count, JSON.stringify(chunk.inputs.inputShape), pixels ? 'uint8' : 'float32', Buffer.from(inputs), Buffer.from(targets));
    };
    this.db.transaction(() => {
      const remove = this.db.prepare('DELETE FROM replay_examples WHERE round = ?');
      for (const round of change.removedRounds) remove.run(round);
      // The added round itself may have been trimmed (or dropped) to fit.
      if (!change.removedRounds.includes(added.round) && change.trimmed?.round !== added.round) put(added);
      if (change.trimmed) put(change.trimmed);
    })();
  }
}

/** The values as uint8 pixels when each is exactly q / 255 (float32), else null. */
function asPixels(values: Float32Array): Uint8Array | null {
  const pixels = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const q = Math.round(values[i] * 255);
    if (!(q >= 0 && q <= 255) || Math.fround(q / 255) !== values[i]) return null;
    pixels[i] = q;
  }
  return pixels;
}
