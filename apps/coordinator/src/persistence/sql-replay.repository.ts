import type { Kysely } from 'kysely';
import type { ReplayChange, ReplayChunk } from '@fedkd/distill';
import type { ReplayRepository } from './replay.repository';
import type { CoordinatorSchema } from './schema';
import { inTransaction } from './sql-dialect';

/**
 * The replay buffer on SQLite or PostgreSQL. Inputs are stored as uint8 when every value is
 * exactly q / 255 in float32 (the student-guided generator's pixels, and image data sets read from
 * bytes), else as float32: a quarter of the space for images, and exactly the values the student
 * trained on either way.
 */
export class SqlReplayRepository implements ReplayRepository {
  constructor(private readonly db: Kysely<CoordinatorSchema>) {}

  async all(): Promise<ReplayChunk[]> {
    const rows = await this.db.selectFrom('replay_examples').selectAll().orderBy('round').execute();
    return rows.map((row) => {
      const inputShape = JSON.parse(row.input_shape) as number[];
      const bytes = new Uint8Array(row.inputs);
      const values = row.encoding === 'uint8' ? Float32Array.from(bytes, (q) => q / 255) : new Float32Array(bytes.slice().buffer);
      return { round: row.round, inputs: { values, count: row.count, inputShape }, targets: new Float32Array(new Uint8Array(row.targets).slice().buffer) };
    });
  }

  async record(added: ReplayChunk, change: ReplayChange): Promise<void> {
    await inTransaction(this.db, async (trx) => {
      const put = async (chunk: ReplayChunk) => {
        const pixels = asPixels(chunk.inputs.values);
        const inputs = pixels ?? new Uint8Array(chunk.inputs.values.buffer, chunk.inputs.values.byteOffset, chunk.inputs.values.byteLength);
        const targets = new Uint8Array(chunk.targets.buffer, chunk.targets.byteOffset, chunk.targets.byteLength);
        await trx
          .insertInto('replay_examples')
          .values({
            round: chunk.round,
            count: chunk.inputs.count,
            input_shape: JSON.stringify(chunk.inputs.inputShape),
            encoding: pixels ? 'uint8' : 'float32',
            inputs: Buffer.from(inputs),
            targets: Buffer.from(targets),
          })
          .onConflict((oc) =>
            oc.column('round').doUpdateSet((eb) => ({
              count: eb.ref('excluded.count'),
              input_shape: eb.ref('excluded.input_shape'),
              encoding: eb.ref('excluded.encoding'),
              inputs: eb.ref('excluded.inputs'),
              targets: eb.ref('excluded.targets'),
            })),
          )
          .execute();
      };
      if (change.removedRounds.length > 0) await trx.deleteFrom('replay_examples').where('round', 'in', change.removedRounds).execute();
      // The added round itself may have been trimmed (or dropped) to fit.
      if (!change.removedRounds.includes(added.round) && change.trimmed?.round !== added.round) await put(added);
      if (change.trimmed) await put(change.trimmed);
    });
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
