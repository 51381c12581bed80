import type Database from 'better-sqlite3';
import { DEFAULT_ORDERS, privacyMechanism } from '@fedkd/privacy';
import type { PrivacySpec } from '@fedkd/protocol';
import type { PrivacyCurve, PrivacyCurvesRepository } from '../persistence/privacy-curves.repository';
import type { RoundsRepository } from '../persistence/rounds.repository';
import { SqlitePrivacyCurvesRepository } from '../persistence/sqlite-privacy-curves.repository';
import { SqliteRoundsRepository } from '../persistence/sqlite-rounds.repository';

/** What a private round's config records (RoundsService writes it). */
interface PrivateRoundConfig {
  privacy?: PrivacySpec | null;
  proxy?: { size: number };
}

/** What the curve store and the rounds it is derived from need (CoordinatorDatabase has both). */
export interface CurveStore {
  readonly rounds: RoundsRepository;
  readonly privacyCurves: PrivacyCurvesRepository;
}

const sameOrders = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

const emptyCurve = (clientId: string): PrivacyCurve => ({ clientId, orders: DEFAULT_ORDERS, rdp: DEFAULT_ORDERS.map(() => 0), privateRounds: 0, throughRound: 0 });

/**
 * The full recomputation: the client's curve summed over every stored private round (number <=
 * upToRound) it answered, each round costing its libs/privacy mechanism's roundRdp. It reads every round,
 * so it is only the backfill (migration 7, a changed order grid) and the tests' oracle; requests read
 * the running curve.
 */
export function recomputeClientCurve(rounds: RoundsRepository, clientId: string, upToRound = Infinity): PrivacyCurve {
  const rdp = DEFAULT_ORDERS.map(() => 0);
  let privateRounds = 0;
  let throughRound = 0;
  for (const summary of rounds.list({ limit: 1_000_000, offset: 0 }).sort((a, b) => a.number - b.number)) {
    if (summary.number > upToRound) continue;
    const config = summary.config as unknown as PrivateRoundConfig;
    if (!config.privacy || !config.proxy) continue;
    const answered = rounds.get(summary.number)?.participants.some((p) => p.clientId === clientId && p.status === 'answered');
    if (!answered) continue;
    privateRounds += 1;
    throughRound = summary.number;
    privacyMechanism(config.privacy).roundRdp(config.proxy.size).forEach((r, i) => (rdp[i] += r));
  }
  return { clientId, orders: DEFAULT_ORDERS, rdp, privateRounds, throughRound };
}

/** Migration 7's backfill: one running curve per client that answered a private round, from the stored rounds. */
export function backfillPrivacyCurves(connection: Database.Database): void {
  const rounds = new SqliteRoundsRepository(connection, Date.now);
  const curves = new SqlitePrivacyCurvesRepository(connection);
  const clients = connection.prepare<[], { client_id: string }>(`SELECT DISTINCT client_id FROM round_participants WHERE status = 'answered' ORDER BY client_id`).all();
  for (const { client_id } of clients) {
    const curve = recomputeClientCurve(rounds, client_id);
    if (curve.privateRounds > 0) curves.save(curve);
  }
}

/**
 * The client's running curve through round `throughRound`, in constant work (one row read).
 * The curve is stored with the orders it was computed on: libs/privacy's DEFAULT_ORDERS may be
 * refined in a later release, and a sum over the old grid cannot be converted to the new one (RDP at
 * an order never computed is unknown). A curve on another grid is therefore recomputed once from the
 * stored rounds (the backfill) and written back on the current grid.
 */
export function readClientCurve(db: CurveStore, clientId: string, throughRound = Infinity): PrivacyCurve {
  const stored = db.privacyCurves.get(clientId);
  if (!stored) return emptyCurve(clientId);
  if (sameOrders(stored.orders, DEFAULT_ORDERS)) return stored;
  const curve = recomputeClientCurve(db.rounds, clientId, throughRound);
  db.privacyCurves.save(curve);
  return curve;
}

/**
 * Charges a private round to the clients that answered it: adds the round's RDP to each one's
 * running curve. Call it in the transaction that records the round's answered participants, before
 * they are recorded (so a curve on an old grid is recomputed without this round, then charged once).
 */
export function chargePrivateRound(db: CurveStore, round: number, answered: readonly string[], spec: PrivacySpec, queries: number): void {
  const roundRdp = privacyMechanism(spec).roundRdp(queries);
  for (const clientId of answered) {
    const curve = readClientCurve(db, clientId, round - 1);
    if (curve.throughRound >= round) throw new Error(`privacy curve of client ${clientId}: round ${round} is already charged (curve runs through round ${curve.throughRound})`);
    db.privacyCurves.save({ clientId, orders: DEFAULT_ORDERS, rdp: curve.rdp.map((r, i) => r + roundRdp[i]), privateRounds: curve.privateRounds + 1, throughRound: round });
  }
}
