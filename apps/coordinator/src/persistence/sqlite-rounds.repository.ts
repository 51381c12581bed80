import type Database from 'better-sqlite3';
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

interface RoundRow {
  number: number;
  state: string;
  reason: string | null;
  config: string;
  opened_at: number;
  closed_at: number | null;
  metrics: string | null;
  timings: string | null;
}

interface TransitionRow {
  from_state: string | null;
  to_state: string;
  reason: string | null;
  at: number;
}

interface ParticipantRow {
  round: number;
  client_id: string;
  client_name: string;
  status: string;
  reason: string | null;
  bytes_uploaded: number;
  answered_at: number | null;
}

interface ParticipantParams {
  round: number;
  clientId: string;
  status: string;
  reason: string | null;
  bytesUploaded: number | null;
  answeredAt: number | null;
  fallbackAnsweredAt: number | null;
}

const DEFAULT_PAGE_LIMIT = 100;

function prepareRoundStatements(db: Database.Database) {
  const terminal = TERMINAL_ROUND_STATES.map((s) => `'${s}'`).join(', ');
  return {
    maxNumber: db.prepare<[], { n: number | null }>('SELECT max(number) AS n FROM rounds'),
    count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM rounds'),
    select: db.prepare<[number], RoundRow>('SELECT * FROM rounds WHERE number = ?'),
    page: db.prepare<[number, number], RoundRow>('SELECT * FROM rounds ORDER BY number DESC LIMIT ? OFFSET ?'),
    running: db.prepare<[], { number: number }>(`SELECT number FROM rounds WHERE state NOT IN (${terminal}) ORDER BY number`),
    insert: db.prepare<[number, string, number]>(`INSERT INTO rounds (number, state, config, opened_at) VALUES (?, 'open', ?, ?)`),
    setState: db.prepare<[{ number: number; state: string; reason: string | null; at: number }]>(
      `UPDATE rounds SET state = @state, reason = @reason,
         closed_at = CASE WHEN @state IN (${terminal}) THEN @at ELSE closed_at END
       WHERE number = @number`,
    ),
    setMetrics: db.prepare<[string | null, number]>('UPDATE rounds SET metrics = ? WHERE number = ?'),
    setTimings: db.prepare<[string | null, number]>('UPDATE rounds SET timings = ? WHERE number = ?'),
    insertTransition: db.prepare<[number, string | null, string, string | null, number]>(
      'INSERT INTO round_transitions (round, from_state, to_state, reason, at) VALUES (?, ?, ?, ?, ?)',
    ),
    transitions: db.prepare<[number], TransitionRow>('SELECT from_state, to_state, reason, at FROM round_transitions WHERE round = ? ORDER BY id'),
    clientExists: db.prepare<[string], { id: string }>('SELECT id FROM clients WHERE id = ?'),
    upsertParticipant: db.prepare<[ParticipantParams]>(
      `INSERT INTO round_participants (round, client_id, status, reason, bytes_uploaded, answered_at)
       VALUES (@round, @clientId, @status, @reason, coalesce(@bytesUploaded, 0), coalesce(@answeredAt, @fallbackAnsweredAt))
       ON CONFLICT (round, client_id) DO UPDATE SET
         status = excluded.status,
         reason = excluded.reason,
         bytes_uploaded = coalesce(@bytesUploaded, bytes_uploaded),
         answered_at = coalesce(@answeredAt, answered_at, @fallbackAnsweredAt)`,
    ),
    participant: db.prepare<[number, string], ParticipantRow>(
      `SELECT p.*, c.name AS client_name FROM round_participants p JOIN clients c ON c.id = p.client_id
       WHERE p.round = ? AND p.client_id = ?`,
    ),
    recentFailures: db.prepare<[number], { client_id: string; failures: number }>(
      `SELECT client_id, count(*) AS failures FROM round_participants
       WHERE status IN ('dropped', 'rejected') AND round > (SELECT coalesce(max(number), 0) FROM rounds) - ?
       GROUP BY client_id`,
    ),
    participants: db.prepare<[number], ParticipantRow>(
      `SELECT p.*, c.name AS client_name FROM round_participants p JOIN clients c ON c.id = p.client_id
       WHERE p.round = ? ORDER BY c.name`,
    ),
  };
}

export class SqliteRoundsRepository implements RoundsRepository {
  private readonly statements: ReturnType<typeof prepareRoundStatements>;
  private readonly getTransaction: (number: number) => RoundDetail | null;
  private readonly createTransaction: (round: NewRound) => RoundRecord;
  private readonly updateStateTransaction: (number: number, state: RoundState, reason: string | null) => RoundRecord;
  private readonly setMetricsTransaction: (number: number, metrics: string | null, timings: string | null | undefined) => RoundRecord;
  private readonly upsertParticipantsTransaction: (participants: readonly ParticipantUpsert[]) => RoundParticipant[];
  private readonly markInterruptedTransaction: () => number;

  constructor(
    db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {
    this.statements = prepareRoundStatements(db);

    this.createTransaction = db.transaction((round: NewRound): RoundRecord => {
      const last = this.statements.maxNumber.get()?.n ?? 0;
      const number = round.number ?? last + 1;
      if (!Number.isSafeInteger(number) || number <= 0) {
        throw new PersistenceError('INVALID_VALUE', `round number must be a positive integer, got ${number}`);
      }
      if (this.statements.select.get(number)) {
        throw new PersistenceError('ALREADY_EXISTS', `round ${number} already exists`);
      }
      if (number <= last) {
        throw new PersistenceError('INVALID_VALUE', `round numbers increase: ${number} does not come after the last round ${last}`);
      }
      const config = toJsonObjectText(round.config, `config of round ${number}`);
      const openedAt = round.openedAt ?? this.now();
      this.statements.insert.run(number, config, openedAt);
      this.statements.insertTransition.run(number, null, 'open', null, openedAt);
      return this.getRecord(number)!;
    });

    this.updateStateTransaction = db.transaction((number: number, state: RoundState, reason: string | null): RoundRecord => {
      if (!ROUND_STATES.includes(state)) {
        throw new PersistenceError('INVALID_VALUE', `round state must be one of ${ROUND_STATES.join(', ')}, got ${String(state)}`);
      }
      const current = this.getRecord(number);
      if (!current) throw new PersistenceError('NOT_FOUND', `no round ${number}`);
      if (isTerminalRoundState(current.state)) {
        throw new PersistenceError('ILLEGAL_TRANSITION', `round ${number} is already ${current.state}; it cannot become ${state}`);
      }
      if (current.state === state) {
        throw new PersistenceError('ILLEGAL_TRANSITION', `round ${number} is already ${state}`);
      }
      const at = this.now();
      this.statements.setState.run({ number, state, reason, at });
      this.statements.insertTransition.run(number, current.state, state, reason, at);
      return this.getRecord(number)!;
    });

    this.setMetricsTransaction = db.transaction((number: number, metrics: string | null, timings: string | null | undefined) => {
      if (this.statements.setMetrics.run(metrics, number).changes === 0) throw new PersistenceError('NOT_FOUND', `no round ${number}`);
      if (timings !== undefined) this.statements.setTimings.run(timings, number);
      return this.getRecord(number)!;
    });

    this.upsertParticipantsTransaction = db.transaction((participants: readonly ParticipantUpsert[]) =>
      participants.map((p) => this.upsertOne(p)),
    );

    // One read transaction, so the round, its participants and transitions are one snapshot.
    this.getTransaction = db.transaction((number: number): RoundDetail | null => {
      const record = this.getRecord(number);
      if (!record) return null;
      return {
        ...record,
        participants: this.statements.participants.all(number).map(toParticipant),
        transitions: this.statements.transitions.all(number).map((row) => toTransition(row, number)),
      };
    });

    this.markInterruptedTransaction = db.transaction((): number => {
      const running = this.statements.running.all();
      for (const { number } of running) this.updateStateTransaction(number, 'failed', INTERRUPTED_ROUND_REASON);
      return running.length;
    });
  }

  nextRoundNumber(): number {
    return (this.statements.maxNumber.get()?.n ?? 0) + 1;
  }

  create(round: NewRound): RoundRecord {
    return this.createTransaction(round);
  }

  updateState(number: number, state: RoundState, reason: string | null = null): RoundRecord {
    return this.updateStateTransaction(number, state, reason);
  }

  setMetrics(number: number, metrics: object | null, timings?: object | null): RoundRecord {
    const metricsText = metrics === null ? null : toJsonObjectText(metrics, `metrics of round ${number}`);
    const timingsText = timings === undefined || timings === null ? timings : toTimingsText(timings, number);
    return this.setMetricsTransaction(number, metricsText, timingsText);
  }

  upsertParticipant(participant: ParticipantUpsert): RoundParticipant {
    return this.upsertParticipantsTransaction([participant])[0];
  }

  upsertParticipants(participants: readonly ParticipantUpsert[]): RoundParticipant[] {
    return this.upsertParticipantsTransaction(participants);
  }

  get(number: number): RoundDetail | null {
    return this.getTransaction(number);
  }

  list(page: RoundPage = {}): RoundRecord[] {
    const limit = page.limit ?? DEFAULT_PAGE_LIMIT;
    const offset = page.offset ?? 0;
    for (const [name, value] of [['limit', limit], ['offset', offset]] as const) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new PersistenceError('INVALID_VALUE', `${name} must be a non-negative integer, got ${value}`);
      }
    }
    return this.statements.page.all(limit, offset).map(toRoundRecord);
  }

  count(): number {
    return this.statements.count.get()!.n;
  }

  markInterrupted(): number {
    return this.markInterruptedTransaction();
  }

  recentFailures(rounds: number): Map<string, number> {
    if (!Number.isSafeInteger(rounds) || rounds < 0) throw new PersistenceError('INVALID_VALUE', `rounds must be a non-negative integer, got ${rounds}`);
    return new Map(this.statements.recentFailures.all(rounds).map((r) => [r.client_id, r.failures]));
  }

  private getRecord(number: number): RoundRecord | null {
    const row = this.statements.select.get(number);
    return row ? toRoundRecord(row) : null;
  }

  private upsertOne(p: ParticipantUpsert): RoundParticipant {
    const who = `participant ${p.clientId} of round ${p.round}`;
    if (!PARTICIPANT_STATUSES.includes(p.status)) {
      throw new PersistenceError('INVALID_VALUE', `${who}: status must be one of ${PARTICIPANT_STATUSES.join(', ')}, got ${String(p.status)}`);
    }
    const bytesUploaded = p.bytesUploaded ?? null;
    if (bytesUploaded !== null && !(Number.isSafeInteger(bytesUploaded) && bytesUploaded >= 0)) {
      throw new PersistenceError('INVALID_VALUE', `${who}: bytesUploaded must be a non-negative integer, got ${bytesUploaded}`);
    }
    if (!this.statements.select.get(p.round)) throw new PersistenceError('NOT_FOUND', `${who}: no round ${p.round}`);
    if (!this.statements.clientExists.get(p.clientId)) throw new PersistenceError('NOT_FOUND', `${who}: no client with id ${p.clientId}`);
    this.statements.upsertParticipant.run({
      round: p.round,
      clientId: p.clientId,
      status: p.status,
      reason: p.reason ?? null,
      bytesUploaded,
      answeredAt: p.answeredAt ?? null,
      fallbackAnsweredAt: p.status === 'answered' ? this.now() : null,
    });
    return toParticipant(this.statements.participant.get(p.round, p.clientId)!);
  }
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
