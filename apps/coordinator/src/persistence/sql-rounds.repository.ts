import { sql, type Kysely, type Selectable } from 'kysely';
import {
  expectJsonObject,
  isPlainObject,
  readJsonColumn,
  readNullableJsonColumn,
  toJsonObjectText,
  type JsonObject,
} from './json-column';
import { PersistenceError } from './persistence-error';
import {
  INTERRUPTED_ROUND_REASON,
  isTerminalRoundState,
  PARTICIPANT_STATUSES,
  ROUND_STATES,
  TERMINAL_ROUND_STATES,
  type NewRound,
  type ParticipantStatus,
  type ParticipantUpsert,
  type RoundDetail,
  type RoundPage,
  type RoundParticipant,
  type RoundRecord,
  type RoundsRepository,
  type RoundState,
  type RoundTimings,
  type RoundTransitionRecord,
} from './rounds.repository';
import type { CoordinatorSchema } from './schema';
import { asPersistenceError, constraintViolation, inTransaction } from './sql-dialect';

type RoundRow = Selectable<CoordinatorSchema['rounds']>;

type TransitionRow = Pick<Selectable<CoordinatorSchema['round_transitions']>, 'from_state' | 'to_state' | 'reason' | 'at'>;

type ParticipantRow = Selectable<CoordinatorSchema['round_participants']> & { client_name: string };

const DEFAULT_PAGE_LIMIT = 100;

/** Code-unit order of text, the same on both engines (their collations differ). */
const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The rounds, their transitions and participants, on SQLite or PostgreSQL. Changes that several
 * replicas could race on are decided by the database: a round number by its primary key, a state
 * change by an UPDATE conditional on the state it was read in.
 */
export class SqlRoundsRepository implements RoundsRepository {
  constructor(
    private readonly db: Kysely<CoordinatorSchema>,
    private readonly now: () => number = Date.now,
  ) {}

  async nextRoundNumber(): Promise<number> {
    return (await lastRoundNumber(this.db)) + 1;
  }

  async create(round: NewRound): Promise<RoundRecord> {
    return inTransaction(this.db, async (trx) => {
      const last = await lastRoundNumber(trx);
      const number = round.number ?? last + 1;
      if (!Number.isSafeInteger(number) || number <= 0) {
        throw new PersistenceError('INVALID_VALUE', `round number must be a positive integer, got ${number}`);
      }
      if (await selectRound(trx, number)) {
        throw new PersistenceError('ALREADY_EXISTS', `round ${number} already exists`);
      }
      if (number <= last) {
        throw new PersistenceError('INVALID_VALUE', `round numbers increase: ${number} does not come after the last round ${last}`);
      }
      const config = toJsonObjectText(round.config, `config of round ${number}`);
      const openedAt = round.openedAt ?? this.now();
      // Another replica may have created the same number since it was read: the primary key decides.
      const row = await trx
        .insertInto('rounds')
        .values({ number, state: 'open', config, opened_at: openedAt })
        .returningAll()
        .executeTakeFirstOrThrow()
        .catch((error: unknown) => {
          if (constraintViolation(error) === 'unique') throw new PersistenceError('ALREADY_EXISTS', `round ${number} already exists`, { cause: error });
          throw asPersistenceError(error, `cannot store round ${number}`);
        });
      await insertTransition(trx, number, null, 'open', null, openedAt);
      return toRoundRecord(row);
    });
  }

  async updateState(number: number, state: RoundState, reason: string | null = null): Promise<RoundRecord> {
    if (!ROUND_STATES.includes(state)) {
      throw new PersistenceError('INVALID_VALUE', `round state must be one of ${ROUND_STATES.join(', ')}, got ${String(state)}`);
    }
    return inTransaction(this.db, async (trx) => {
      for (;;) {
        const current = await selectRound(trx, number);
        if (!current) throw new PersistenceError('NOT_FOUND', `no round ${number}`);
        const record = toRoundRecord(current);
        if (isTerminalRoundState(record.state)) {
          throw new PersistenceError('ILLEGAL_TRANSITION', `round ${number} is already ${record.state}; it cannot become ${state}`);
        }
        if (record.state === state) {
          throw new PersistenceError('ILLEGAL_TRANSITION', `round ${number} is already ${state}`);
        }
        const updated = await this.transition(trx, record, state, reason);
        // Another replica changed the round since it was read: check the move again from its new state.
        if (updated) return updated;
      }
    });
  }

  async setMetrics(number: number, metrics: object | null, timings?: object | null): Promise<RoundRecord> {
    const metricsText = metrics === null ? null : toJsonObjectText(metrics, `metrics of round ${number}`);
    const timingsText = timings === undefined || timings === null ? timings : toTimingsText(timings, number);
    const row = await this.db
      .updateTable('rounds')
      .set(timingsText === undefined ? { metrics: metricsText } : { metrics: metricsText, timings: timingsText })
      .where('number', '=', number)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new PersistenceError('NOT_FOUND', `no round ${number}`);
    return toRoundRecord(row);
  }

  async upsertParticipant(participant: ParticipantUpsert): Promise<RoundParticipant> {
    return (await this.upsertParticipants([participant]))[0];
  }

  async upsertParticipants(participants: readonly ParticipantUpsert[]): Promise<RoundParticipant[]> {
    return inTransaction(this.db, async (trx) => {
      const stored: RoundParticipant[] = [];
      for (const p of participants) stored.push(await this.upsertOne(trx, p));
      return stored;
    });
  }

  async get(number: number): Promise<RoundDetail | null> {
    // One snapshot, so the round, its participants and transitions agree (REPEATABLE READ on
    // PostgreSQL, where READ COMMITTED would give each statement its own; SQLite ignores the level).
    const read = async (trx: Kysely<CoordinatorSchema>): Promise<RoundDetail | null> => {
      const row = await selectRound(trx, number);
      if (!row) return null;
      const participants = await selectParticipants(trx).where('p.round', '=', number).execute();
      const transitions = await trx
        .selectFrom('round_transitions')
        .select(['from_state', 'to_state', 'reason', 'at'])
        .where('round', '=', number)
        .orderBy('id')
        .execute();
      return {
        ...toRoundRecord(row),
        participants: participants.sort((a, b) => byText(a.client_name, b.client_name)).map(toParticipant),
        transitions: transitions.map((t) => toTransition(t, number)),
      };
    };
    return this.db.isTransaction ? read(this.db) : this.db.transaction().setIsolationLevel('repeatable read').execute(read);
  }

  async list(page: RoundPage = {}): Promise<RoundRecord[]> {
    const limit = page.limit ?? DEFAULT_PAGE_LIMIT;
    const offset = page.offset ?? 0;
    for (const [name, value] of [['limit', limit], ['offset', offset]] as const) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new PersistenceError('INVALID_VALUE', `${name} must be a non-negative integer, got ${value}`);
      }
    }
    const rows = await this.db.selectFrom('rounds').selectAll().orderBy('number', 'desc').limit(limit).offset(offset).execute();
    return rows.map(toRoundRecord);
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('rounds')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async markInterrupted(): Promise<number> {
    return inTransaction(this.db, async (trx) => {
      const running = await trx
        .selectFrom('rounds')
        .selectAll()
        .where('state', 'not in', TERMINAL_ROUND_STATES)
        .orderBy('number')
        .execute();
      let changed = 0;
      for (const row of running) {
        // A round another replica closed meanwhile is left as it is.
        if (await this.transition(trx, toRoundRecord(row), 'failed', INTERRUPTED_ROUND_REASON)) changed += 1;
      }
      return changed;
    });
  }

  async recentFailures(rounds: number): Promise<Map<string, number>> {
    if (!Number.isSafeInteger(rounds) || rounds < 0) throw new PersistenceError('INVALID_VALUE', `rounds must be a non-negative integer, got ${rounds}`);
    const rows = await this.db
      .selectFrom('round_participants')
      .select((eb) => ['client_id', eb.fn.countAll().as('failures')])
      .where('status', 'in', ['dropped', 'rejected'])
      .where(sql<boolean>`round > (SELECT coalesce(max(number), 0) FROM rounds) - ${rounds}`)
      .groupBy('client_id')
      .execute();
    return new Map(rows.sort((a, b) => byText(a.client_id, b.client_id)).map((r) => [r.client_id, Number(r.failures)]));
  }

  /**
   * Moves `current` to `state` if the round is still in the state it was read in, recording the
   * transition; null when another writer changed the round first.
   */
  private async transition(trx: Kysely<CoordinatorSchema>, current: RoundRecord, state: RoundState, reason: string | null): Promise<RoundRecord | null> {
    const at = this.now();
    const row = await trx
      .updateTable('rounds')
      .set(isTerminalRoundState(state) ? { state, reason, closed_at: at } : { state, reason })
      .where('number', '=', current.number)
      .where('state', '=', current.state)
      .returningAll()
      .executeTakeFirst();
    if (!row) return null;
    await insertTransition(trx, current.number, current.state, state, reason, at);
    return toRoundRecord(row);
  }

  private async upsertOne(trx: Kysely<CoordinatorSchema>, p: ParticipantUpsert): Promise<RoundParticipant> {
    const who = `participant ${p.clientId} of round ${p.round}`;
    if (!PARTICIPANT_STATUSES.includes(p.status)) {
      throw new PersistenceError('INVALID_VALUE', `${who}: status must be one of ${PARTICIPANT_STATUSES.join(', ')}, got ${String(p.status)}`);
    }
    const bytesUploaded = p.bytesUploaded ?? null;
    if (bytesUploaded !== null && !(Number.isSafeInteger(bytesUploaded) && bytesUploaded >= 0)) {
      throw new PersistenceError('INVALID_VALUE', `${who}: bytesUploaded must be a non-negative integer, got ${bytesUploaded}`);
    }
    if (!(await selectRound(trx, p.round))) throw new PersistenceError('NOT_FOUND', `${who}: no round ${p.round}`);
    const client = await trx.selectFrom('clients').select('id').where('id', '=', p.clientId).executeTakeFirst();
    if (!client) throw new PersistenceError('NOT_FOUND', `${who}: no client with id ${p.clientId}`);
    const answeredAt = p.answeredAt ?? null;
    const fallbackAnsweredAt = p.status === 'answered' ? this.now() : null;
    await trx
      .insertInto('round_participants')
      .values({
        round: p.round,
        client_id: p.clientId,
        status: p.status,
        reason: p.reason ?? null,
        bytes_uploaded: bytesUploaded ?? 0,
        answered_at: answeredAt ?? fallbackAnsweredAt,
      })
      .onConflict((oc) =>
        oc.columns(['round', 'client_id']).doUpdateSet((eb) => ({
          status: eb.ref('excluded.status'),
          reason: eb.ref('excluded.reason'),
          // Omitted (null) keeps the stored value; an answer's time falls back to now only when none is stored.
          bytes_uploaded: bytesUploaded === null ? eb.ref('round_participants.bytes_uploaded') : eb.ref('excluded.bytes_uploaded'),
          answered_at:
            answeredAt !== null
              ? eb.ref('excluded.answered_at')
              : eb.fn.coalesce(eb.ref('round_participants.answered_at'), eb.ref('excluded.answered_at')),
        })),
      )
      .execute()
      .catch((error: unknown) => {
        throw asPersistenceError(error, `cannot store ${who}`);
      });
    const row = await selectParticipants(trx).where('p.round', '=', p.round).where('p.client_id', '=', p.clientId).executeTakeFirstOrThrow();
    return toParticipant(row);
  }
}

async function lastRoundNumber(db: Kysely<CoordinatorSchema>): Promise<number> {
  const row = await db
    .selectFrom('rounds')
    .select((eb) => eb.fn.max('number').as('n'))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

function selectRound(db: Kysely<CoordinatorSchema>, number: number): Promise<RoundRow | undefined> {
  return db.selectFrom('rounds').selectAll().where('number', '=', number).executeTakeFirst();
}

function selectParticipants(db: Kysely<CoordinatorSchema>) {
  return db
    .selectFrom('round_participants as p')
    .innerJoin('clients as c', 'c.id', 'p.client_id')
    .selectAll('p')
    .select('c.name as client_name');
}

async function insertTransition(
  db: Kysely<CoordinatorSchema>,
  round: number,
  from: string | null,
  to: string,
  reason: string | null,
  at: number,
): Promise<void> {
  await db.insertInto('round_transitions').values({ round, from_state: from, to_state: to, reason, at }).execute();
}

function toTimingsText(timings: object, number: number): string {
  const what = `timings of round ${number}`;
  const problem = describeTimingsProblem(timings);
  if (problem) throw new PersistenceError('INVALID_VALUE', `${what}: ${problem}`);
  return toJsonObjectText(timings, what);
}

function describeTimingsProblem(value: unknown): string | null {
  if (!isPlainObject(value)) return 'expected a JSON object of milliseconds per phase';
  for (const [phase, ms] of Object.entries(value)) {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return `phase ${phase} must be a non-negative number of milliseconds`;
  }
  return null;
}

function toRoundRecord(row: RoundRow): RoundRecord {
  const at = { table: 'rounds', row: `number=${row.number}` };
  return {
    number: row.number,
    state: readState(row.state, { ...at, column: 'state' }),
    reason: row.reason,
    config: readJsonColumn<JsonObject>(row.config, { ...at, column: 'config' }, expectJsonObject),
    openedAt: row.opened_at,
    closedAt: row.closed_at,
    metrics: readNullableJsonColumn<JsonObject>(row.metrics, { ...at, column: 'metrics' }, expectJsonObject),
    timings: readNullableJsonColumn<RoundTimings>(row.timings, { ...at, column: 'timings' }, describeTimingsProblem),
  };
}

function toTransition(row: TransitionRow, round: number): RoundTransitionRecord {
  const at = { table: 'round_transitions', row: `round=${round}` };
  return {
    from: row.from_state === null ? null : readState(row.from_state, { ...at, column: 'from_state' }),
    to: readState(row.to_state, { ...at, column: 'to_state' }),
    reason: row.reason,
    at: row.at,
  };
}

function toParticipant(row: ParticipantRow): RoundParticipant {
  if (!PARTICIPANT_STATUSES.includes(row.status as ParticipantStatus)) {
    throw new PersistenceError(
      'CORRUPT_ROW',
      `round_participants row round=${row.round} client_id='${row.client_id}', column status: unknown status ${row.status}`,
    );
  }
  return {
    round: row.round,
    clientId: row.client_id,
    clientName: row.client_name,
    status: row.status as ParticipantStatus,
    reason: row.reason,
    bytesUploaded: row.bytes_uploaded,
    answeredAt: row.answered_at,
  };
}

function readState(value: string, at: { table: string; row: string; column: string }): RoundState {
  if (!ROUND_STATES.includes(value as RoundState)) {
    throw new PersistenceError('CORRUPT_ROW', `${at.table} row ${at.row}, column ${at.column}: unknown round state ${value}`);
  }
  return value as RoundState;
}
