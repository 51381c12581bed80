import type { CoordinatorDatabase } from './coordinator-database';

/** What `--db` takes, for the commands' help. */
export const DATABASE_HELP = 'coordinator database: a SQLite file, or a postgres://user:password@host:port/database URL';

/**
 * Opens the coordinator's database (SQLite file or PostgreSQL URL), runs `body`, and closes it
 * whatever happens. The drivers load only here, for the commands that use the database.
 */
export async function withDatabase<T>(location: string, body: (db: CoordinatorDatabase) => Promise<T>): Promise<T> {
  const { openDatabase } = await import('./coordinator-database');
  const db = await openDatabase(location);
  try {
    return await body(db);
  } finally {
    await db.close();
  }
}
