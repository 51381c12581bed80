/**
 * What the coordinator sends on the read-only `/dashboard` socket.io namespace: a `snapshot` on
 * connect (and again after a round ends or a client comes or goes, so derived figures stay right),
 * and every event of the coordinator's bus as `event`. The namespace handles no event from the
 * browser. Types only: the browser bundle (apps/dashboard) imports them too.
 */
import type { FederationEvent } from '../events/federation-events';

export const DASHBOARD_NAMESPACE = '/dashboard';

export interface DashboardServerEvents {
  snapshot: (snapshot: DashboardSnapshot) => void;
  event: (event: FederationEvent) => void;
}

export interface DashboardSnapshot {
  /** Epoch milliseconds when the coordinator built it. */
  at: number;
  federation: DashboardFederation;
  /** Oldest first (the last DASHBOARD_ROUNDS rounds). */
  rounds: DashboardRound[];
  /** By name. */
  clients: DashboardClient[];
  /** Newest first. */
  models: DashboardModel[];
}

export interface DashboardFederation {
  task: { name: string; classes: number; sha256: string; source: string };
  proxy: { kind: 'public' | 'synthetic'; generator: string | null; size: number };
  /** Whether rounds report test accuracy (an evaluation set) or only agreement with the aggregated targets. */
  metric: 'testAccuracy' | 'agreement';
  minClients: number;
  connected: number;
  /** Identities enrolled and not revoked. */
  enrolled: number;
  /** Clients ever seen. */
  known: number;
  /** The round in progress (not yet in a terminal state), if any, with its phase. */
  currentRound: { number: number; phase: string } | null;
  roundsTotal: number;
  latestModelVersion: number | null;
  /** Every message the coordinator refused since it started, by code (known clients or not). */
  refusals: Record<string, number>;
}

export interface DashboardRound {
  number: number;
  state: string;
  reason: string | null;
  openedAt: number;
  closedAt: number | null;
  proxyKind: string | null;
  generator: string | null;
  testAccuracy: number | null;
  agreement: number | null;
  invited: number | null;
  answered: number | null;
  bytesUp: number;
  bytesDown: number;
  /** Phase durations in milliseconds (openMs, collectMs, aggregateMs, trainMs, evaluateMs, publishMs, roundMs, ...). */
  timings: Record<string, number>;
  modelVersion: number | null;
}

export interface DashboardClient {
  id: string;
  name: string;
  status: string;
  connected: boolean;
  enrolled: boolean;
  firstSeenAt: number;
  lastSeenAt: number;
  /** The client's last answered round and when (of the rounds the dashboard reads). */
  lastAnswer: { round: number; at: number } | null;
  /** Its last outcome that was not an answer (rejected, dropped, declined), with the reason. */
  lastProblem: { round: number; status: string; reason: string | null } | null;
  /** Messages the coordinator refused since it started, by code. */
  refusals: Record<string, number>;
  /** Cumulative epsilon over the private rounds it answered (null: none yet). */
  epsilon: number | null;
  privateRounds: number;
  /** The budget, when the coordinator knows it: only from a round the client declined for its privacy budget. */
  budget: string | null;
}

export interface DashboardModel {
  version: number;
  round: number;
  sha256: string;
  byteLength: number;
  testAccuracy: number | null;
  agreement: number | null;
  createdAt: number;
}
