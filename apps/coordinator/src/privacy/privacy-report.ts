import { DEFAULT_ORDERS, epsilonFromRdpBalle2020, epsilonFromRdpClassic, privateRoundRdp } from '@fedkd/privacy';
import type { PrivacySpec } from '@fedkd/protocol';
import type { CoordinatorDatabase } from '../persistence/database.provider';

/** What a private round's config records (RoundsService writes it). */
interface PrivateRoundConfig {
  privacy?: PrivacySpec | null;
  proxy?: { size: number };
}

export interface ClientPrivacy {
  clientId: string;
  /** Cumulative over every private round the client answered, (epsilon, delta) by the classic RDP conversion. */
  epsilon: number;
  epsilonBalle2020: number;
  privateRounds: number;
}

/**
 * The coordinator's view of each client's privacy spending, recomputed from the rounds stored in
 * SQLite (so it survives restarts): every private round a client answered cost it
 * what libs/privacy's privateRoundRdp says (data-independent; the client's own ledger is the
 * authority that refuses rounds). The release of a round is post-processing of the answers,
 * so its epsilon is the largest of its contributors'.
 */
export function clientPrivacy(db: CoordinatorDatabase, clientId: string, delta: number, upToRound = Infinity): ClientPrivacy {
  const rdp = new Array<number>(DEFAULT_ORDERS.length).fill(0);
  let privateRounds = 0;
  for (const summary of db.rounds.list({ limit: 1_000_000, offset: 0 })) {
    if (summary.number > upToRound) continue;
    const config = summary.config as unknown as PrivateRoundConfig;
    if (!config.privacy || !config.proxy) continue;
    const round = db.rounds.get(summary.number);
    const answered = round?.participants.some((p) => p.clientId === clientId && p.status === 'answered');
    if (!answered) continue;
    privateRounds += 1;
    privateRoundRdp(config.privacy, config.proxy.size).forEach((r, i) => (rdp[i] += r));
  }
  if (privateRounds === 0) return { clientId, epsilon: 0, epsilonBalle2020: 0, privateRounds };
  return {
    clientId,
    epsilon: epsilonFromRdpClassic(DEFAULT_ORDERS, rdp, delta).epsilon,
    epsilonBalle2020: epsilonFromRdpBalle2020(DEFAULT_ORDERS, rdp, delta).epsilon,
    privateRounds,
  };
}

/** A private round's privacy metrics: its own cost per contributor, and everyone's running totals. */
export function roundPrivacyMetrics(db: CoordinatorDatabase, round: number, answered: readonly string[], spec: PrivacySpec, queries: number) {
  const { delta } = spec;
  const roundRdp = privateRoundRdp(spec, queries);
  const clients = Object.fromEntries(answered.map((id) => [id, clientPrivacy(db, id, delta, round).epsilon]));
  return {
    ...spec,
    queries,
    accounting: 'data-independent',
    roundEpsilon: epsilonFromRdpClassic(DEFAULT_ORDERS, roundRdp, delta).epsilon,
    cumulativeEpsilonByClient: clients,
    releaseEpsilon: Math.max(0, ...Object.values(clients)),
  };
}
