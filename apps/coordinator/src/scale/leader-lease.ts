import { Kysely, PostgresDialect, sql } from 'kysely';
import { Pool } from 'pg';

/** The lease row: who leads `name` until when (the database's clock), and the term (+1 at every change of leader). */
interface LeaseTable {
  name: string;
  holder: string;
  expires_at: Date;
  term: string;
}

interface LeaseDatabase {
  fedkd_leader_lease: LeaseTable;
}

/**
 * A lease in PostgreSQL that exactly one replica holds at a time: acquired or renewed by one
 * statement that succeeds only for the current holder or once the lease has expired, timed by the
 * database's clock (the replicas' clocks may differ). Each change of holder increments the term, a
 * fencing token: a leader that lost its lease without noticing holds an older term than the one
 * that replaced it.
 */
export class PostgresLease {
  private constructor(
    private readonly db: Kysely<LeaseDatabase>,
    private readonly name: string,
  ) {}

  /**
   * Connects (a small pool of its own) and creates the lease table if it is missing. A query that
   * takes longer than `timeoutMs` fails, so a leader cut off from the database learns it in time.
   */
  static async open(connectionString: string, options: { name?: string; timeoutMs?: number } = {}): Promise<PostgresLease> {
    const timeoutMs = options.timeoutMs ?? 2_000;
    const pool = new Pool({ connectionString, max: 2, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
    const db = new Kysely<LeaseDatabase>({ dialect: new PostgresDialect({ pool }) });
    await db.schema
      .createTable('fedkd_leader_lease')
      .ifNotExists()
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('holder', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
      .addColumn('term', 'bigint', (c) => c.notNull())
      .execute()
      .catch(async (error: unknown) => {
        // Replicas starting together on a new database race on CREATE TABLE IF NOT EXISTS: the loser
        // sees a duplicate (23505 on pg_type, or 42P07) although the table now exists.
        const code = (error as { code?: unknown }).code;
        if (code !== '23505' && code !== '42P07') {
          await db.destroy();
          throw error;
        }
      });
    return new PostgresLease(db, options.name ?? 'rounds');
  }

  /** Takes or renews the lease for `leaseMs` if `holder` holds it or it has expired: the term held, or null (another holds it). */
  async acquire(holder: string, leaseMs: number): Promise<number | null> {
    const expires = sql<Date>`now() + ${leaseMs} * interval '1 millisecond'`;
    const row = await this.db
      .insertInto('fedkd_leader_lease')
      .values({ name: this.name, holder, expires_at: expires, term: '1' })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({
            holder,
            expires_at: expires,
            term: sql`case when fedkd_leader_lease.holder = ${holder} then fedkd_leader_lease.term else fedkd_leader_lease.term + 1 end`,
          })
          .where((eb) => eb.or([eb('fedkd_leader_lease.holder', '=', holder), eb('fedkd_leader_lease.expires_at', '<', sql<Date>`now()`)])),
      )
      .returning('term')
      .executeTakeFirst();
    return row ? Number(row.term) : null;
  }

  /** Gives the lease up at once (a clean shutdown), if `holder` holds it: another replica need not wait for it to expire. */
  async release(holder: string): Promise<void> {
    await this.db.updateTable('fedkd_leader_lease').set({ expires_at: sql<Date>`now() - interval '1 millisecond'` }).where('name', '=', this.name).where('holder', '=', holder).execute();
  }

  /** Who holds the lease now (null: nobody, or it has expired). */
  async holder(): Promise<{ holder: string; term: number } | null> {
    const row = await this.db.selectFrom('fedkd_leader_lease').select(['holder', 'term']).where('name', '=', this.name).where('expires_at', '>=', sql<Date>`now()`).executeTakeFirst();
    return row ? { holder: row.holder, term: Number(row.term) } : null;
  }

  close(): Promise<void> {
    return this.db.destroy();
  }
}

export interface LeaderElectionEvents {
  /** This replica now leads, under `term`. */
  elected(term: number): void;
  /** This replica no longer leads (its renewal failed or another took the lease): stop leading at once. */
  deposed(reason: string): void;
}

/**
 * A replica's part in the election: tries to take the lease every leaseMs / 3 and, while it leads,
 * renews it as often. A leader that cannot renew (the database unreachable, or another holder)
 * is deposed; if it dies, its lease expires after at most leaseMs and the next try by another
 * replica takes it: so a takeover happens within leaseMs plus one try interval.
 */
export class LeaderElection {
  private timer: NodeJS.Timeout | null = null;
  private term: number | null = null;
  private stopped = false;
  private trying: Promise<void> | null = null;

  constructor(
    private readonly lease: PostgresLease,
    readonly holder: string,
    readonly leaseMs: number,
    private readonly events: LeaderElectionEvents,
  ) {
    if (!(Number.isInteger(leaseMs) && leaseMs >= 300)) throw new Error(`leader lease: must be an integer of at least 300 ms, got ${leaseMs}`);
  }

  get leading(): boolean {
    return this.term !== null;
  }

  get currentTerm(): number | null {
    return this.term;
  }

  start(): void {
    this.schedule(0);
  }

  /** Stops trying; a leader gives its lease up so that another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.trying;
    if (this.term !== null) {
      this.term = null;
      await this.lease.release(this.holder).catch(() => undefined);
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.trying = this.tryOnce().finally(() => {
        this.trying = null;
        this.schedule(Math.floor(this.leaseMs / 3));
      });
    }, delayMs);
    this.timer.unref();
  }

  private async tryOnce(): Promise<void> {
    let term: number | null;
    try {
      term = await this.lease.acquire(this.holder, this.leaseMs);
    } catch (error) {
      if (this.term !== null) this.depose(`could not renew the leader lease: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (this.stopped) return;
    if (term === null) {
      if (this.term !== null) this.depose('another replica holds the leader lease');
      return;
    }
    if (this.term !== term) {
      this.term = term;
      this.events.elected(term);
    }
  }

  private depose(reason: string): void {
    this.term = null;
    this.events.deposed(reason);
  }
}
