import type Database from 'better-sqlite3';
import { PersistenceError } from './persistence-error';
import type { PrivacyCurve, PrivacyCurvesRepository } from './privacy-curves.repository';

interface CurveRow {
  client_id: string;
  orders: string;
  rdp: Buffer;
  private_rounds: number;
  through_round: number;
}

/** RDP values are stored as float64 bytes: exact, and Infinity survives (JSON would turn it into null). */
const toBlob = (values: readonly number[]): Buffer => Buffer.from(Float64Array.from(values).buffer);
const fromBlob = (blob: Buffer): number[] => Array.from(new Float64Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength)));

const toCurve = (row: CurveRow): PrivacyCurve => ({
  clientId: row.client_id,
  orders: JSON.parse(row.orders) as number[],
  rdp: fromBlob(row.rdp),
  privateRounds: row.private_rounds,
  throughRound: row.through_round,
});

export class SqlitePrivacyCurvesRepository implements PrivacyCurvesRepository {
  private readonly statements;

  constructor(db: Database.Database) {
    this.statements = {
      get: db.prepare<[string], CurveRow>('SELECT * FROM client_privacy_curves WHERE client_id = ?'),
      list: db.prepare<[], CurveRow>('SELECT * FROM client_privacy_curves ORDER BY client_id'),
      save: db.prepare<[string, string, Buffer, number, number]>(
        `INSERT INTO client_privacy_curves (client_id, orders, rdp, private_rounds, through_round) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (client_id) DO UPDATE SET orders = excluded.orders, rdp = excluded.rdp,
           private_rounds = excluded.private_rounds, through_round = excluded.through_round`,
      ),
    };
  }

  get(clientId: string): PrivacyCurve | null {
    const row = this.statements.get.get(clientId);
    return row ? toCurve(row) : null;
  }

  save(curve: PrivacyCurve): void {
    if (curve.rdp.length !== curve.orders.length) {
      throw new PersistenceError('INVALID_VALUE', `privacy curve of client ${curve.clientId}: ${curve.rdp.length} RDP values for ${curve.orders.length} orders`);
    }
    this.statements.save.run(curve.clientId, JSON.stringify(curve.orders), toBlob(curve.rdp), curve.privateRounds, curve.throughRound);
  }

  list(): PrivacyCurve[] {
    return this.statements.list.all().map(toCurve);
  }
}
