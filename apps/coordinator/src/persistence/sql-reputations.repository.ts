import type { Kysely, Selectable } from 'kysely';
import type { ReputationRecord, ReputationsRepository } from './reputations.repository';
import type { CoordinatorSchema } from './schema';
import { asPersistenceError, inTransaction } from './sql-dialect';

type ReputationRow = Selectable<CoordinatorSchema['client_reputations']>;

/** Rows per INSERT: six parameters each, well under SQLite's and PostgreSQL's limits. */
const ROWS_PER_INSERT = 500;

const toRecord = (row: ReputationRow): ReputationRecord => ({
  clientId: row.client_id,
  round: row.round,
  agreement: row.agreement,
  reputation: row.reputation,
  weight: row.weight,
  flagged: row.flagged === 1,
});

/** Client reputations per round, on SQLite or PostgreSQL. */
export class SqlReputationsRepository implements ReputationsRepository {
  constructor(private readonly db: Kysely<CoordinatorSchema>) {}

  async record(round: number, entries: readonly Omit<ReputationRecord, 'round'>[]): Promise<void> {
    if (entries.length === 0) return;
    const rows = entries.map((e) => ({
      client_id: e.clientId,
      round,
      agreement: e.agreement,
      reputation: e.reputation,
      weight: e.weight,
      flagged: e.flagged ? 1 : 0,
    }));
    try {
      await inTransaction(this.db, async (trx) => {
        for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
          await trx.insertInto('client_reputations').values(rows.slice(i, i + ROWS_PER_INSERT)).execute();
        }
      });
    } catch (error) {
      throw asPersistenceError(error, `cannot record the reputations of round ${round}`);
    }
  }

  async latest(): Promise<Map<string, number>> {
    const rows = await this.db
      .selectFrom('client_reputations as r')
      .innerJoin(
        (eb) => eb.selectFrom('client_reputations').select(['client_id', (eb) => eb.fn.max('round').as('round')]).groupBy('client_id').as('last'),
        (join) => join.onRef('last.client_id', '=', 'r.client_id').onRef('last.round', '=', 'r.round'),
      )
      .select(['r.client_id', 'r.reputation'])
      .execute();
    return new Map(rows.map((row) => [row.client_id, row.reputation]));
  }

  async historyByClient(): Promise<Map<string, ReputationRecord[]>> {
    const rows = await this.db.selectFrom('client_reputations').selectAll().orderBy('round').execute();
    // By client id in code-unit order (the same on both engines); a stable sort keeps each client's rounds in order.
    rows.sort((a, b) => (a.client_id < b.client_id ? -1 : a.client_id > b.client_id ? 1 : 0));
    const byClient = new Map<string, ReputationRecord[]>();
    for (const row of rows) {
      const list = byClient.get(row.client_id) ?? [];
      list.push(toRecord(row));
      byClient.set(row.client_id, list);
    }
    return byClient;
  }
}
