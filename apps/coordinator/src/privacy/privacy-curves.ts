import type { Kysely } from 'kysely';
import { DEFAULT_ORDERS, privacyMechanism } from '@fedkd/privacy';
import type { PrivacySpec } from '@fedkd/protocol';
import type { PrivacyCurve, PrivacyCurvesRepository } from '../persistence/privacy-curves.repository';
import type { RoundRecord, RoundsRepository } from '../persistence/rounds.repository';
import type { CoordinatorSchema } from '../persistence/schema';
import { SqlPrivacyCurvesRepository } from '../persistence/sql-privacy-curves.repository';
import { SqlRoundsRepository } from '../persistence/sql-rounds.repository';

/** What a private round's config records (RoundsService writes it). */
interface PrivateRoundConfig {
  privacy?: PrivacySpec | null;
  proxy?: { size: number };
}

/** A stored round that was private: what it cost each client that answered it. */
interface PrivateRound {
  number: number;
  privacy: PrivacySpec;
  queries: number;
}

/** What the curve store and the rounds it is derived from need (CoordinatorDatabase has both). */
export interface CurveStore {
  readonly rounds: RoundsRepository;
  readonly privacyCurves: PrivacyCurvesRepository;
}

/** Every stored round (one page holds them all). */
const ALL_ROUNDS = { limit: 1_000_000, offset: 0 };

const sameOrders = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

const emptyCurve = (clientId: string): PrivacyCurve => ({ clientId, orders: DEFAULT_ORDERS, rdp: DEFAULT_ORDERS.map(() => 0), privateRounds: 0, throughRound: 0 });

/** The private rounds among `rounds`, oldest first. */
function privateRounds(rounds: readonly RoundRecord[]): PrivateRound[] {
  const found: PrivateRound[] = [];
  for (const summary of [...rounds].sort((a, b) => a.number - b.number)) {
    const config = summary.config as unknown as PrivateRoundConfig;
    if (config.privacy && config.proxy) found.push({ number: summary.number, privacy: config.privacy, queries: config.proxy.size });
  }
  return found;
}

/** The curve of a client that answered exactly `answered` (oldest first): each round's roundRdp, summed in round order. */
function curveOver(clientId: string, answered: readonly PrivateRound[]): PrivacyCurve {
  const rdp = DEFAULT_ORDERS.map(() => 0);
  for (const round of answered) privacyMechanism(round.privacy).roundRdp(round.queries).forEach((r, i) => (rdp[i] += r));
  return { clientId, orders: DEFAULT_ORDERS, rdp, privateRounds: answered.length, throughRound: answered.at(-1)?.number ?? 0 };
}

/**
 * The full recomputation: the client's curve summed over every stored private round (number <=
 * upToRound) it answered, each round costing its libs/privacy mechanism's roundRdp. It reads every round,
 * so it is only the backfill (a changed order grid) and the tests' oracle; requests read the
 * running curve.
 */
export async function recomputeClientCurve(rounds: RoundsRepository, clientId: string, upToRound = Infinity): Promise<PrivacyCurve> {
  const answered: PrivateRound[] = [];
  for (const round of privateRounds(await rounds.list(ALL_ROUNDS))) {
    if (round.number > upToRound) continue;
    const detail = await rounds.get(round.number);
    if (detail?.participants.some((p) => p.clientId === clientId && p.status === 'answered')) answered.push(round);
  }
  return curveOver(clientId, answered);
}

/**
 * Migration 7's backfill: one running curve per client that answered a private round, from the
 * stored rounds, summed as recomputeClientCurve sums them. It runs on the migration's connection,
 * inside the migration's transaction, so it opens none itself (and reads the participants of every
 * round in one query rather than round by round).
 */
export async function backfillPrivacyCurves(db: Kysely<CoordinatorSchema>): Promise<void> {
  const rounds = new SqlRoundsRepository(db, Date.now);
  const curves = new SqlPrivacyCurvesRepository(db);
  const stored = privateRounds(await rounds.list(ALL_ROUNDS));
  const answers = await db.selectFrom('round_participants').select(['round', 'client_id']).where('status', '=', 'answered').execute();
  const answeredBy = new Map<string, Set<number>>();
  for (const { round, client_id } of answers) {
    if (!answeredBy.has(client_id)) answeredBy.set(client_id, new Set());
    answeredBy.get(client_id)!.add(round);
  }
  for (const clientId of [...answeredBy.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const curve = curveOver(clientId, stored.filter((round) => answeredBy.get(clientId)!.has(round.number)));
    if (curve.privateRounds > 0) await curves.save(curve);
  }
}

/**
 * The client's running curve through round `throughRound`, in constant work (one row read).
 * The curve is stored with the orders it was computed on: libs/privacy's DEFAULT_ORDERS may be
 * refined in a later release, and a sum over the old grid cannot be converted to the new one (RDP at
 * an order never computed is unknown). A curve on another grid is therefore recomputed once from the
 * stored rounds (the backfill) and written back on the current grid.
 */
export async function readClientCurve(db: CurveStore, clientId: string, throughRound = Infinity): Promise<PrivacyCurve> {
  const stored = await db.privacyCurves.get(clientId);
  if (!stored) return emptyCurve(clientId);
  if (sameOrders(stored.orders, DEFAULT_ORDERS)) return stored;
  const curve = await recomputeClientCurve(db.rounds, clientId, throughRound);
  await db.privacyCurves.save(curve);
  return curve;
}

/**
 * Charges a private round to the clients that answered it: adds the round's RDP to each one's
 * running curve. Call it in the transaction that records the round's answered participants, before
 * they are recorded (so a curve on an old grid is recomputed without this round, then charged once),
 * with that transaction's repositories.
 */
export async function chargePrivateRound(db: CurveStore, round: number, answered: readonly string[], spec: PrivacySpec, queries: number): Promise<void> {
  const roundRdp = privacyMechanism(spec).roundRdp(queries);
  for (const clientId of answered) {
    const curve = await readClientCurve(db, clientId, round - 1);
    if (curve.throughRound >= round) throw new Error(`privacy curve of client ${clientId}: round ${round} is already charged (curve runs through round ${curve.throughRound})`);
    await db.privacyCurves.save({ clientId, orders: DEFAULT_ORDERS, rdp: curve.rdp.map((r, i) => r + roundRdp[i]), privateRounds: curve.privateRounds + 1, throughRound: round });
  }
}
