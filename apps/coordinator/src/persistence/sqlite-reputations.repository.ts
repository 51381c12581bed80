import type Database from 'better-sqlite3';
import type { ReputationRecord, ReputationsRepository } from './reputations.repository';

interface ReputationRow {
  client_id: string;
  round: number;
  agreement: number;
  reputation: number;
  weight: number;
  flagged: number;
}

const toRecord = (row: ReputationRow): ReputationRecord => ({
  clientId: row.client_id,
  round: row.round,
  agreement: row.agreement,
  reputation: row.reputation,
  weight: row.weight,
  flagged: row.flagged === 1,
});

export class SqliteReputationsRepository implements ReputationsRepository {
  constructor(private readonly db: Database.Database) {}

  record(round: number, entries: readonly Omit<ReputationRecord, 'round'>[]): void {
    const insert = this.db.prepare('INSERT INTO client_reputations (client_id, round, agreement, reputation, weight, flagged) VALUES (?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const e of entries) insert.run(e.clientId, round, e.agreement, e.reputation, e.weight, e.flagged ? 1 : 0);
    })();
  }

  latest(): Map<string, number> {
    const rows = this.db
      .prepare(
        `SELECT r.client_id, r.reputation FROM client_reputations r
         JOIN (SELECT client_id, max(round) AS round FROM client_reputations GROUP BY client_id) last
           ON last.client_id = r.client_id AND last.round = r.round`,
      )
      .all() as { client_id: string; reputation: number }[];
    return new Map(rows.map((row) => [row.client_id, row.reputation]));
  }

  historyByClient(): Map<string, ReputationRecord[]> {
    const rows = this.db.prepare('SELECT * FROM client_reputations ORDER BY client_id, round').all() as ReputationRow[];
    const byClient = new Map<string, ReputationRecord[]>();
    for (const row of rows) {
      const list = byClient.get(row.client_id) ?? [];
      list.push(toRecord(row));
      byClient.set(row.client_id, list);
    }
    return byClient;
  }
}
