import type Database from 'better-sqlite3';
import type { GeneratorStateRecord, GeneratorsRepository } from './generators.repository';

interface GeneratorRow {
  round: number;
  generator: Buffer;
  optimiser: Buffer;
  created_at: number;
}

export class SqliteGeneratorsRepository implements GeneratorsRepository {
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {}

  save(state: Omit<GeneratorStateRecord, 'createdAt'>): GeneratorStateRecord {
    const createdAt = this.now();
    this.db
      .prepare('INSERT INTO generator_states (round, generator, optimiser, created_at) VALUES (?, ?, ?, ?)')
      .run(state.round, Buffer.from(state.generator), Buffer.from(state.optimiser), createdAt);
    return { ...state, createdAt };
  }

  latest(): GeneratorStateRecord | null {
    const row = this.db.prepare('SELECT * FROM generator_states ORDER BY round DESC LIMIT 1').get() as GeneratorRow | undefined;
    if (!row) return null;
    return { round: row.round, generator: new Uint8Array(row.generator), optimiser: new Uint8Array(row.optimiser), createdAt: row.created_at };
  }
}
