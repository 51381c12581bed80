import { describe, expect, it } from 'vitest';
import { applyEvent, chartSeries, type DashboardSnapshot, type FederationEvent } from './state';

function snapshot(): DashboardSnapshot {
  return {
    at: 0,
    federation: {
      task: { name: 'mnist', classes: 10, sha256: 'a'.repeat(64), source: 'embedded:mnist' },
      proxy: { kind: 'public', generator: null, size: 500 },
      metric: 'testAccuracy',
      minClients: 2,
      connected: 1,
      enrolled: 2,
      known: 2,
      currentRound: null,
      roundsTotal: 1,
      latestModelVersion: 1,
      refusals: {},
    },
    rounds: [
      { number: 1, state: 'published', reason: null, openedAt: 1, closedAt: 2, proxyKind: 'public', generator: null, testAccuracy: 0.5, agreement: 0.6, invited: 2, answered: 2, bytesUp: 1e6, bytesDown: 2e6, timings: { trainMs: 10 }, modelVersion: 1 },
    ],
    clients: [
      { id: 'c-1', name: 'client-0', status: 'active', connected: true, enrolled: true, firstSeenAt: 0, lastSeenAt: 0, lastAnswer: null, lastProblem: null, refusals: {}, epsilon: null, privateRounds: 0, budget: null },
      { id: 'c-2', name: 'client-1', status: 'active', connected: false, enrolled: true, firstSeenAt: 0, lastSeenAt: 0, lastAnswer: null, lastProblem: null, refusals: {}, epsilon: null, privateRounds: 0, budget: null },
    ],
    models: [],
  };
}

describe('the dashboard state', () => {
  it('follows a round through its events: a new row, its phase, answers, end, and the chart over cumulative bytes', () => {
    const events: FederationEvent[] = [
      { type: 'client.connected', clientId: 'c-2', name: 'client-1', connected: 2, at: 10 },
      { type: 'round.phase', round: 2, phase: 'open', reason: null, at: 11 },
      { type: 'round.phase', round: 2, phase: 'collecting', reason: null, at: 12 },
      { type: 'round.answers', round: 2, invited: 2, outcomes: [{ clientId: 'c-1', status: 'answered', reason: null, bytesUploaded: 3e5 }, { clientId: 'c-2', status: 'dropped', reason: 'deadline', bytesUploaded: 0 }], at: 13 },
      { type: 'message.refused', event: 'round.predictions', clientName: 'client-1', clientId: 'c-2', code: 'STALE_ROUND', at: 14 },
    ];
    const before = snapshot();
    let state = events.reduce(applyEvent, before);
    expect(state.federation).toMatchObject({ connected: 2, currentRound: { number: 2, phase: 'collecting' }, roundsTotal: 2, refusals: { STALE_ROUND: 1 } });
    expect(state.clients.map((c) => [c.connected, c.refusals])).toEqual([[true, {}], [true, { STALE_ROUND: 1 }]]);
    expect(state.rounds.map((r) => [r.number, r.state, r.answered, r.invited, r.bytesUp])).toEqual([[1, 'published', 2, 2, 1e6], [2, 'collecting', 1, 2, 3e5]]);
    state = applyEvent(state, { type: 'round.ended', round: 2, state: 'published', reason: null, modelVersion: 2, testAccuracy: 0.75, agreement: 0.8, bytesUp: 3e5, bytesDown: 7e5, timings: { collectMs: 5, trainMs: 9 }, at: 20 });
    expect(state.federation).toMatchObject({ currentRound: null, latestModelVersion: 2 });
    expect(chartSeries(state)).toEqual({ rounds: [1, 2], megabytes: [3, 4], values: [0.5, 0.75] });
    // The snapshot it started from is left as it was.
    expect(before.rounds).toHaveLength(1);
    expect(before.federation.connected).toBe(1);
  });

  it('charts agreement when there is no evaluation set, and leaves failed rounds out of the chart but not out of the bytes', () => {
    const s = snapshot();
    s.federation.metric = 'agreement';
    s.rounds.push({ ...s.rounds[0], number: 2, state: 'failed', testAccuracy: null, agreement: null, bytesUp: 1e6, bytesDown: 0 });
    s.rounds.push({ ...s.rounds[0], number: 3, agreement: 0.9, bytesUp: 0, bytesDown: 1e6 });
    expect(chartSeries(s)).toEqual({ rounds: [1, 3], megabytes: [3, 5], values: [0.6, 0.9] });
  });
});
