import type { Kysely, Selectable } from 'kysely';
import { PersistenceError } from './persistence-error';
import type { PrivacyCurve, PrivacyCurvesRepository } from './privacy-curves.repository';
import type { CoordinatorSchema } from './schema';
import { asPersistenceError } from './sql-dialect';

type CurveRow = Selectable<CoordinatorSchema['client_privacy_curves']>;

/** RDP values are stored as float64 bytes: exact, and Infinity survives (JSON would turn it into null). */
const toBlob = (values: readonly number[]): Buffer => Buffer.from(Float64Array.from(values).buffer);
const fromBlob = (blob: Uint8Array): number[] => Array.from(new Float64Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength)));

const toCurve = (row: CurveRow): PrivacyCurve => ({
  clientId: row.client_id,
  orders: JSON.parse(row.orders) as number[],
  rdp: fromBlob(row.rdp),
  privateRounds: row.private_rounds,
  throughRound: row.through_round,
});

/** The running per-client RDP curves, on SQLite or PostgreSQL. */
export class SqlPrivacyCurvesRepository implements PrivacyCurvesRepository {
  constructor(private readonly db: Kysely<CoordinatorSchema>) {}

  async get(clientId: string): Promise<PrivacyCurve | null> {
    const row = await this.db.selectFrom('client_privacy_curves').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    return row ? toCurve(row) : null;
  }

  async save(curve: PrivacyCurve): Promise<void> {
    if (curve.rdp.length !== curve.orders.length) {
      throw new PersistenceError('INVALID_VALUE', `privacy curve of client ${curve.clientId}: ${curve.rdp.length} RDP values for ${curve.orders.length} orders`);
    }
    await this.db
      .insertInto('client_privacy_curves')
      .values({
        client_id: curve.clientId,
        orders: JSON.stringify(curve.orders),
        rdp: toBlob(curve.rdp),
        private_rounds: curve.privateRounds,
        through_round: curve.throughRound,
      })
      .onConflict((oc) =>
        oc.column('client_id').doUpdateSet((eb) => ({
          orders: eb.ref('excluded.orders'),
          rdp: eb.ref('excluded.rdp'),
          private_rounds: eb.ref('excluded.private_rounds'),
          through_round: eb.ref('excluded.through_round'),
        })),
      )
      .execute()
      .catch((error: unknown) => {
        throw asPersistenceError(error, `cannot store the privacy curve of client ${curve.clientId}`);
      });
  }

  async list(): Promise<PrivacyCurve[]> {
    const rows = await this.db.selectFrom('client_privacy_curves').selectAll().execute();
    return rows.sort((a, b) => (a.client_id < b.client_id ? -1 : a.client_id > b.client_id ? 1 : 0)).map(toCurve);
  }
}
