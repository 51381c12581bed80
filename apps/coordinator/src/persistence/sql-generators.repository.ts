import type { Kysely } from 'kysely';
import type { GeneratorStateRecord, GeneratorsRepository } from './generators.repository';
import type { CoordinatorSchema } from './schema';
import { asPersistenceError } from './sql-dialect';

/** The learned generator's state after each round that trained it, on SQLite or PostgreSQL. */
export class SqlGeneratorsRepository implements GeneratorsRepository {
  constructor(
    private readonly db: Kysely<CoordinatorSchema>,
    private readonly now: () => number = Date.now,
  ) {}

  async save(state: Omit<GeneratorStateRecord, 'createdAt'>): Promise<GeneratorStateRecord> {
    const createdAt = this.now();
    await this.db
      .insertInto('generator_states')
      .values({ round: state.round, generator: Buffer.from(state.generator), optimiser: Buffer.from(state.optimiser), created_at: createdAt })
      .execute()
      .catch((error: unknown) => {
        throw asPersistenceError(error, `cannot store the generator state of round ${state.round}`);
      });
    return { ...state, createdAt };
  }

  async latest(): Promise<GeneratorStateRecord | null> {
    const row = await this.db.selectFrom('generator_states').selectAll().orderBy('round', 'desc').limit(1).executeTakeFirst();
    if (!row) return null;
    return { round: row.round, generator: new Uint8Array(row.generator), optimiser: new Uint8Array(row.optimiser), createdAt: row.created_at };
  }
}
