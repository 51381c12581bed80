import { DEFAULT_ORDERS, epsilonFromRdpBalle2020, epsilonFromRdpClassic, privacyMechanism } from '@fedkd/privacy';
import type { PrivacySpec } from '@fedkd/protocol';
import { readClientCurve, type CurveStore } from './privacy-curves';

export interface ClientPrivacy {
  clientId: string;
  /** Cumulative over every private round the client answered, (epsilon, delta) by the classic RDP conversion. */
  epsilon: number;
  epsilonBalle2020: number;
  privateRounds: number;
  /**
   * Always data-independent in a federation: the coordinator sees each round's noisy vote
   * histograms (their sum), a Gaussian mechanism whose RDP does not depend on the votes, so no
   * data-dependent (PATE 2018) bound applies to what it holds.
   */
  accounting: 'data-independent';
}

/** The delta at which the coordinator reports each client's epsilon (REST, dashboard, metrics): the private rounds' --dp-delta, or 1e-5 without them. */
export function reportingDelta(privacy: PrivacySpec | null): number {
  return privacy?.delta ?? 1e-5;
}

/**
 * The coordinator's view of a client's privacy spending, from its running RDP curve stored in
 * the database (so it survives restarts; one row read per client): every private round a client answered
 * cost it what its libs/privacy mechanism's roundRdp says (data-independent; the client's own ledger is
 * the authority that refuses rounds). The release of a round is post-processing of the answers,
 * so its epsilon is the largest of its contributors'.
 */
export async function clientPrivacy(db: CurveStore, clientId: string, delta: number): Promise<ClientPrivacy> {
  const curve = await readClientCurve(db, clientId);
  if (curve.privateRounds === 0) return { clientId, epsilon: 0, epsilonBalle2020: 0, privateRounds: 0, accounting: 'data-independent' };
  return {
    clientId,
    epsilon: epsilonFromRdpClassic(curve.orders, curve.rdp, delta).epsilon,
    epsilonBalle2020: epsilonFromRdpBalle2020(curve.orders, curve.rdp, delta).epsilon,
    privateRounds: curve.privateRounds,
    accounting: 'data-independent',
  };
}

/**
 * A private round's privacy metrics: its own cost per contributor, and everyone's running totals
 * (read after chargePrivateRound charged this round, so they include it).
 */
export async function roundPrivacyMetrics(db: CurveStore, round: number, answered: readonly string[], spec: PrivacySpec, queries: number) {
  const { delta } = spec;
  const roundRdp = privacyMechanism(spec).roundRdp(queries);
  const clients: Record<string, number> = {};
  for (const id of answered) clients[id] = (await clientPrivacy(db, id, delta)).epsilon;
  return {
    ...spec,
    queries,
    accounting: 'data-independent',
    roundEpsilon: epsilonFromRdpClassic(DEFAULT_ORDERS, roundRdp, delta).epsilon,
    cumulativeEpsilonByClient: clients,
    releaseEpsilon: Math.max(0, ...Object.values(clients)),
  };
}
