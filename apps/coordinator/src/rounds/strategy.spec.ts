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
    proxy: { kind: 'public', set: { source: 'embedded', dataset: 'mnist', splitSeed: 4 }, size: 2 },
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

  it('asks for a digest of the last student only once one exists', () => {
    expect(strategy().configureRound(1, clients, null).request.digest).toBeNull();
    expect(strategy().configureRound(2, clients, 1).request.digest).toEqual({ studentVersion: 1, epochs: 1 });
    expect(strategy({ digestEpochs: 0 }).configureRound(2, clients, 1).request.digest).toBeNull();
  });

  it('weights by sample count, and refuses when a client did not share its count', () => {
    const s = strategy({ aggregation: { name: 'weighted' } });
    const replies = [
      { clientId: 'c-0', predictions: Float32Array.from([1, 0, 1, 0]) },
      { clientId: 'c-2', predictions: Float32Array.from([0, 1, 0, 1]) },
    ];
    // counts 100 and 300: 0.25 / 0.75
    expect(Array.from(s.aggregate(replies, clients))).toEqual([0.25, 0.75, 0.25, 0.75]);
    expect(() => s.aggregate([...replies, { clientId: 'c-3', predictions: Float32Array.from([1, 0, 1, 0]) }], clients)).toThrow(
      /c-3 did not share/,
    );
  });
});
