import type { JsonObject } from './json-column';

/** DESIGN.md: open -> collecting -> aggregating -> training -> published, or failed / cancelled. */
export const ROUND_STATES = ['open', 'collecting', 'aggregating', 'training', 'published', 'failed', 'cancelled'] as const;
export type RoundState = (typeof ROUND_STATES)[number];

/** A round in one of these states never changes again. */
export const TERMINAL_ROUND_STATES: readonly RoundState[] = ['published', 'failed', 'cancelled'];

export function isTerminalRoundState(state: RoundState): boolean {
  return TERMINAL_ROUND_STATES.includes(state);
}

/** The reason given to rounds that were still running when the coordinator stopped. */
export const INTERRUPTED_ROUND_REASON = 'coordinator restarted during the round';

/** `not-needed`: invited, but the round closed at its target number of answers first (--target-answers). */
export const PARTICIPANT_STATUSES = ['invited', 'answered', 'rejected', 'dropped', 'declined', 'not-needed'] as const;
export type ParticipantStatus = (typeof PARTICIPANT_STATUSES)[number];

/** Milliseconds per phase, e.g. { collectMs: 812, aggregateMs: 4, trainMs: 9120 }. */
export type RoundTimings = { readonly [phase: string]: number };

export interface RoundRecord {
  number: number;
  state: RoundState;
  /** Why the round is in its state (set with failed / cancelled; null on the happy path). */
  reason: string | null;
  /** Aggregation rule, loss, temperature, proxy spec, min clients, deadline, encoding, ... */
  config: JsonObject;
  /** Epoch milliseconds. */
  openedAt: number;
  /** When the round reached a terminal state; null while it runs. */
  closedAt: number | null;
  /** e.g. testAccuracy, student epochs, invited / answered counts. */
  metrics: JsonObject | null;
  timings: RoundTimings | null;
}

export interface RoundTransitionRecord {
  /** null for the round's creation (-> open). */
  from: RoundState | null;
  to: RoundState;
  reason: string | null;
  at: number;
}

export interface RoundParticipant {
  round: number;
  clientId: string;
  clientName: string;
  status: ParticipantStatus;
  reason: string | null;
  bytesUploaded: number;
  answeredAt: number | null;
}

/** A round with everything that happened in it. */
export interface RoundDetail extends RoundRecord {
  /** By client name. */
  participants: RoundParticipant[];
  /** Oldest first, starting with the creation (null -> open). */
  transitions: RoundTransitionRecord[];
}

export interface NewRound {
  /** Defaults to nextRoundNumber(); if given it must be greater than every existing round. */
  number?: number;
  /** Any plain JSON object (checked: no NaN, Map, typed arrays, ...). */
  config: object;
  /** Epoch milliseconds; defaults to the repository's clock. */
  openedAt?: number;
}

export interface ParticipantUpsert {
  round: number;
  clientId: string;
  status: ParticipantStatus;
  /** Replaced on every upsert (a reason belongs to its status). */
  reason?: string | null;
  /** Omitted or null: keep the stored value (0 for a new row). */
  bytesUploaded?: number | null;
  /**
   * Omitted or null: keep the stored value; a participant first stored as 'answered' without one
   * gets the repository's clock.
   */
  answeredAt?: number | null;
}

export interface RoundPage {
  /** Default 100. */
  limit?: number;
  /** Default 0. */
  offset?: number;
}

/** The Repository seam for rounds (DESIGN.md): SQLite or PostgreSQL. */
export interface RoundsRepository {
  /** max(number) + 1, or 1 when there is no round yet. */
  nextRoundNumber(): Promise<number>;
  /** Stores a new round in state 'open' with its first transition (null -> open). */
  create(round: NewRound): Promise<RoundRecord>;
  /**
   * Moves a round to `state`, recording the transition with a timestamp; entering a terminal state
   * sets closedAt. Throws NOT_FOUND for an unknown round and ILLEGAL_TRANSITION when the round is
   * already terminal or already in `state`. The order of the non-terminal states is the
   * RoundStateMachine's business, not storage's.
   */
  updateState(number: number, state: RoundState, reason?: string | null): Promise<RoundRecord>;
  /** Replaces the round's metrics, and its timings when given (omitted: timings unchanged). */
  setMetrics(number: number, metrics: object | null, timings?: object | null): Promise<RoundRecord>;
  /** Inserts or updates one participant of a round (one row per round and client). */
  upsertParticipant(participant: ParticipantUpsert): Promise<RoundParticipant>;
  /** Several participants in one transaction: all are stored or none. */
  upsertParticipants(participants: readonly ParticipantUpsert[]): Promise<RoundParticipant[]>;
  get(number: number): Promise<RoundDetail | null>;
  /** Newest first, without participants and transitions. */
  list(page?: RoundPage): Promise<RoundRecord[]>;
  count(): Promise<number>;
  /**
   * For start-up: every round not in a terminal state becomes 'failed' with
   * INTERRUPTED_ROUND_REASON, so a restart leaves no round hanging. Returns how many changed.
   */
  markInterrupted(): Promise<number>;
  /**
   * Per client, how many of its invitations to the last `rounds` rounds (by number) ended
   * `dropped` or `rejected`; clients without such an outcome are absent.
   */
  recentFailures(rounds: number): Promise<Map<string, number>>;
}
