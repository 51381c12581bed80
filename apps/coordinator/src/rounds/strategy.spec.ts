import { describe, expect, it } from 'vitest';
import { MLP_SPEC } from '@fedkd/engine';
import { PublicProxyDistillationStrategy, type ConnectedClient } from './strategy';

const clients: ConnectedClient[] = Array.from({ length: 10 }, (_, i) => ({
  clientId: `c-${i}`,
  name: `client-${i}`,
  architecture: MLP_SPEC,
  sampleCount: i === 3 ? null : 100 * (i + 1),
}));

function strategy(overrides: Partial<ConstructorParameters<typeof PublicProxyDistillationStrategy>[0]> = {}) {
  return new PublicProxyDistillationStrategy({
    splitSeed: 4,
    proxy: { kind: 'public', set: { source: 'embedded', dataset: 'mnist', splitSeed: 4 }, setCount: 2000, size: 2 },
    temperature: 2,
    encoding: 'float16',
    classes: 2,
    participation: 1,
    aggregation: { name: 'mean' },
    localEpochs: 1,
    digestEpochs: 1,
    maxPayloadBytes: () => 1000,
    secureAggregation: null,
    privacy: null,
    minimumContributors: 2,
    ...overrides,
  });
}

describe('public-proxy distillation strategy', () => {
  it('invites ceil(participation x connected) clients, reproducibly per round', () => {
    const s = strategy({ participation: 0.25 });
    const round5 = s.configureRound(5, clients, null).participants.map((p) => p.clientId);
    expect(round5).toHaveLength(3);
    expect(s.configureRound(5, clients, null).participants.map((p) => p.clientId)).toEqual(round5);
    expect(s.configureRound(6, clients, null).participants.map((p) => p.clientId)).not.toEqual(round5);
  });

  it('invites the same clients whatever order they connected in', () => {
    const s = strategy({ participation: 0.3 });
    const forward = s.configureRound(2, clients, null).participants.map((p) => p.clientId);
    const backward = s.configureRound(2, [...clients].reverse(), null).participants.map((p) => p.clientId);
    expect(backward).toEqual(forward);
  });

  it('with a target number of answers, invites ceil(target x over-selection) clients, at most all connected', () => {
    const s = strategy({ participation: 0.1, targetAnswers: 4, overSelection: 1.3 });
    expect(s.invitationCount(10)).toBe(6);
    expect(s.configureRound(1, clients, null).participants).toHaveLength(6);
    expect(s.invitationCount(5)).toBe(5);
    expect(strategy({ participation: 0.25 }).invitationCount(10)).toBe(3);
  });

  it('invites clients that recently dropped or were rejected less often, reproducibly, but not never', () => {
    const s = strategy({ participation: 0.5 });
    const failures = new Map([
      ['c-0', 1],
      ['c-1', 3],
    ]);
    const invitations = new Map(clients.map((c) => [c.clientId, 0]));
    for (let round = 1; round <= 2000; round++) {
      for (const p of s.configureRound(round, clients, null, failures).participants) invitations.set(p.clientId, invitations.get(p.clientId)! + 1);
    }
    const reliable = clients.slice(2).map((c) => invitations.get(c.clientId)!);
    const reliableMean = reliable.reduce((a, b) => a + b, 0) / reliable.length;
    expect(invitations.get('c-0')!).toBeLessThan(0.8 * reliableMean);
    expect(invitations.get('c-1')!).toBeLessThan(invitations.get('c-0')!);
    expect(invitations.get('c-1')!).toBeGreaterThan(0);
    expect(s.configureRound(7, clients, null, failures).participants).toEqual(s.configureRound(7, clients, null, failures).participants);
  });

  it('asks about the same public rows every round, or a fresh seeded sample each round with resample', () => {
    const fixed = strategy();
    expect(fixed.configureRound(1, clients, null).request.proxy).toMatchObject({ indices: [0, 1] });
    expect(fixed.configureRound(2, clients, 1).request.proxy).toMatchObject({ indices: [0, 1] });
    const resampled = strategy({ proxy: { kind: 'public', set: { source: 'embedded', dataset: 'mnist', splitSeed: 4 }, setCount: 2000, size: 50, resample: true } });
    const rows = (round: number) => (resampled.configureRound(round, clients, null).request.proxy as { indices: number[] }).indices;
    expect(rows(1)).toHaveLength(50);
    expect(new Set(rows(1)).size).toBe(50);
    expect(rows(1)).toEqual(rows(1));
    expect(rows(2)).not.toEqual(rows(1));
    expect(Math.max(...rows(1), ...rows(2))).toBeLessThan(2000);
  });

  it('asks for a digest of the last student only once one exists', () => {
    expect(strategy().configureRound(1, clients, null).request.digest).toBeNull();
    expect(strategy().configureRound(2, clients, 1).request.digest).toEqual({ studentVersion: 1, epochs: 1 });
    expect(strategy({ digestEpochs: 0 }).configureRound(2, clients, 1).request.digest).toBeNull();
  });

  it('weights by sample count as answers arrive, and refuses when a participant did not share its count', () => {
    const s = strategy({ aggregation: { name: 'weighted' } });
    const aggregation = s.startAggregation([clients[0], clients[2]]);
    aggregation.add('c-2', Float32Array.from([0, 1, 0, 1]));
    aggregation.add('c-0', Float32Array.from([1, 0, 1, 0]));
    // counts 100 and 300: 0.25 / 0.75
    expect(Array.from(aggregation.result())).toEqual([0.25, 0.75, 0.25, 0.75]);
    expect(aggregation.heldMatrices).toBe(0);
    expect(() => s.startAggregation([clients[0], clients[3]])).toThrow(/c-3 did not share/);
  });

  it('holds every answer only for median and trimmed mean, and refuses answers beyond --max-held-answers with the reason', () => {
    const row = Float32Array.from([0.5, 0.5, 0.5, 0.5]);
    const mean = strategy().startAggregation(clients.slice(0, 3));
    clients.slice(0, 3).forEach((c) => mean.add(c.clientId, row));
    expect(mean.heldMatrices).toBe(0);
    const median = strategy({ aggregation: { name: 'median' }, maxHeldAnswers: 2 }).startAggregation(clients.slice(0, 3));
    median.add('c-0', row);
    median.add('c-1', row);
    expect(median.heldMatrices).toBe(2);
    expect(() => median.add('c-2', row)).toThrow(/needs every answer in memory .* bytes per answer/);
  });

  it('releases the same private labels whatever order the noisy votes arrive in', () => {
    const s = strategy({ privacy: { mechanism: 'gnmax', sigma: 1, delta: 1e-5 } });
    const votes = [Float32Array.from([3.25, 1.5, 0.125, 9]), Float32Array.from([-2.75, 4, 1e-7, 0.5]), Float32Array.from([1, 1, 3, 3.0000001])];
    const forward = s.startAggregation(clients.slice(0, 3));
    const backward = s.startAggregation(clients.slice(0, 3));
    votes.forEach((v, k) => forward.add(`c-${k}`, v));
    [...votes].reverse().forEach((v, k) => backward.add(`c-${2 - k}`, v));
    expect(Array.from(forward.result())).toEqual(Array.from(backward.result()));
    expect(Array.from(forward.result())).toEqual([0, 1, 0, 1]);
  });
});
