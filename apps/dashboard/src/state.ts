import type { FederationEvent } from '../../coordinator/src/events/federation-events';
import type { DashboardRound, DashboardSnapshot } from '../../coordinator/src/dashboard/dashboard-protocol';

export type { FederationEvent };
export type { DashboardClient, DashboardModel, DashboardRound, DashboardSnapshot } from '../../coordinator/src/dashboard/dashboard-protocol';

const TERMINAL = ['published', 'failed', 'cancelled'];

/**
 * A bus event applied to the last snapshot, so the page moves as the round does; the coordinator
 * follows the events that change derived figures with a fresh snapshot, which replaces all this.
 */
export function applyEvent(snapshot: DashboardSnapshot, event: FederationEvent): DashboardSnapshot {
  const next: DashboardSnapshot = { ...snapshot, federation: { ...snapshot.federation }, rounds: snapshot.rounds.slice(), clients: snapshot.clients.slice() };
  const f = next.federation;
  const round = (n: number): DashboardRound => {
    let i = next.rounds.findIndex((r) => r.number === n);
    if (i < 0) {
      next.rounds.push(emptyRound(n, event.at, f.proxy.kind, f.proxy.generator));
      next.rounds.sort((a, b) => a.number - b.number);
      i = next.rounds.findIndex((r) => r.number === n);
      f.roundsTotal++;
    }
    const copy = { ...next.rounds[i] };
    next.rounds[i] = copy;
    return copy;
  };
  switch (event.type) {
    case 'round.phase': {
      const r = round(event.round);
      r.state = event.phase;
      if (event.reason) r.reason = event.reason;
      f.currentRound = TERMINAL.includes(event.phase) ? null : { number: event.round, phase: event.phase };
      break;
    }
    case 'round.answers': {
      const r = round(event.round);
      r.invited = event.invited;
      r.answered = event.outcomes.filter((o) => o.status === 'answered').length;
      r.bytesUp = event.outcomes.reduce((sum, o) => sum + o.bytesUploaded, 0);
      break;
    }
    case 'round.ended': {
      const r = round(event.round);
      Object.assign(r, {
        state: event.state,
        reason: event.reason,
        testAccuracy: event.testAccuracy,
        agreement: event.agreement,
        bytesUp: event.bytesUp,
        bytesDown: event.bytesDown,
        timings: event.timings,
        modelVersion: event.modelVersion,
        closedAt: event.at,
      });
      f.currentRound = null;
      if (event.modelVersion !== null) f.latestModelVersion = event.modelVersion;
      break;
    }
    case 'client.connected':
    case 'client.disconnected': {
      f.connected = event.connected;
      next.clients = next.clients.map((c) => (c.id === event.clientId ? { ...c, connected: event.type === 'client.connected' } : c));
      break;
    }
    case 'message.refused': {
      f.refusals = { ...f.refusals, [event.code]: (f.refusals[event.code] ?? 0) + 1 };
      next.clients = next.clients.map((c) => (c.name === event.clientName ? { ...c, refusals: { ...c.refusals, [event.code]: (c.refusals[event.code] ?? 0) + 1 } } : c));
      break;
    }
  }
  return next;
}

function emptyRound(number: number, at: number, proxyKind: string, generator: string | null): DashboardRound {
  return {
    number,
    state: 'open',
    reason: null,
    openedAt: at,
    closedAt: null,
    proxyKind,
    generator,
    testAccuracy: null,
    agreement: null,
    invited: null,
    answered: null,
    bytesUp: 0,
    bytesDown: 0,
    timings: {},
    modelVersion: null,
  };
}

/** The figure the charts plot: test accuracy with an evaluation set, else agreement. */
export function metricOf(snapshot: DashboardSnapshot, r: { testAccuracy: number | null; agreement: number | null }): number | null {
  return snapshot.federation.metric === 'testAccuracy' ? r.testAccuracy : r.agreement;
}

/** Per published round with the metric: its number, the cumulative bytes (up + down) of all rounds up to it, and the metric. */
export function chartSeries(snapshot: DashboardSnapshot): { rounds: number[]; megabytes: number[]; values: number[] } {
  const out = { rounds: [] as number[], megabytes: [] as number[], values: [] as number[] };
  let bytes = 0;
  for (const r of snapshot.rounds) {
    bytes += r.bytesUp + r.bytesDown;
    const value = metricOf(snapshot, r);
    if (r.state !== 'published' || value === null) continue;
    out.rounds.push(r.number);
    out.megabytes.push(bytes / 1e6);
    out.values.push(value);
  }
  return out;
}
