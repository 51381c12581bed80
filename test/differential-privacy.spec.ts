import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ORDERS, epsilonFromRdpClassic, generateIdentity, privacyMechanism, rdpGnmaxDataIndependent } from '@fedkd/privacy';
import type { PrivacySpec } from '@fedkd/protocol';
import { getJson, postJson, startTestClient, startTestCoordinator, testWorkspace, until, type TestClient, type TestCoordinator } from './support/federation-harness';

interface RoundDetail {
  state: string;
  reason: string | null;
  metrics: { privacy?: { roundEpsilon: number; releaseEpsilon: number; cumulativeEpsilonByClient: Record<string, number> } } | null;
  participants: { clientId: string; status: string; reason: string | null }[];
}

const SIGMA = 40;
const DELTA = 1e-5;
const QUERIES = 500;
/** What one private round costs a client, by the same accountant the clients use. */
const epsilonAfter = (rounds: number) =>
  epsilonFromRdpClassic(DEFAULT_ORDERS, rdpGnmaxDataIndependent(SIGMA, DEFAULT_ORDERS).map((r) => r * QUERIES * rounds), DELTA).epsilon;

describe('differentially private rounds', () => {
  const workspace = testWorkspace('fedkd-dp-');

  async function privateFederation(
    name: string,
    secure: boolean,
    budget: number,
    mechanism: PrivacySpec = { mechanism: 'gnmax', sigma: SIGMA, delta: DELTA },
  ): Promise<{ coordinator: TestCoordinator; clients: TestClient[] }> {
    const coordinator = await startTestCoordinator({
      databasePath: join(workspace.dir, name, 'fedkd.sqlite'),
      minClients: 3,
      privacy: mechanism,
      secureAggregation: { enabled: secure, threshold: null, degree: null },
    });
    const clients = [0, 1, 2].map((i) =>
      startTestClient(coordinator, i, { teachersPerClient: 3, epsilonMax: budget, ledgerPath: join(workspace.dir, name, `ledger-${i}.json`) }),
    );
    workspace.defer(async () => {
      clients.forEach((c) => c.client.stop());
      await coordinator.stop();
    });
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients');
    return { coordinator, clients };
  }

  it('answers with noisy votes, charges each ledger, reports epsilon per round and per client; over budget a client declines with a reason, also after a restart', async () => {
    const oneRound = epsilonAfter(1);
    const twoRounds = epsilonAfter(2);
    const budget = (oneRound + twoRounds) / 2;
    const { coordinator, clients } = await privateFederation('plain', false, budget);

    const first = await postJson<{ state: string; round: number }>(`${coordinator.url}/rounds`);
    expect(first.state).toBe('published');
    const detail = await getJson<RoundDetail>(`${coordinator.url}/rounds/${first.round}`);
    expect(detail.metrics!.privacy!.roundEpsilon).toBeCloseTo(oneRound, 6);
    expect(detail.metrics!.privacy!.releaseEpsilon).toBeCloseTo(oneRound, 6);
    const listed = await getJson<{ name: string; privacy?: { epsilon: number } }[]>(`${coordinator.url}/clients`);
    expect(listed.map((c) => c.privacy?.epsilon)).toEqual([oneRound, oneRound, oneRound].map((e) => expect.closeTo(e, 6)));

    // Every vote that crossed the wire was noised: unnoised counts would be whole numbers in [0, 3].
    const voteMessages = coordinator.received.filter((p): p is Buffer => Buffer.isBuffer(p) && p.byteLength === QUERIES * 10 * 4);
    expect(voteMessages).toHaveLength(3);
    for (const message of voteMessages) {
      const values = new Float32Array(new Uint8Array(message).buffer);
      // (A noised float32 value lands on a whole number now and then, about once in 10^5 here: allow a few.)
      expect(values.filter((v) => Number.isInteger(v)).length).toBeLessThan(values.length / 100);
      expect(Math.max(...values)).toBeGreaterThan(3);
    }
    const ledger = JSON.parse(readFileSync(join(workspace.dir, 'plain', 'ledger-0.json'), 'utf8')) as { entries: { round: number }[] };
    expect(ledger.entries.map((e) => e.round)).toEqual([first.round]);

    // Client 0 restarts (same key, same ledger): its next round would pass the budget, so it declines, with the numbers.
    clients[0].client.stop();
    const restarted = startTestClient(coordinator, 0, {
      teachersPerClient: 3,
      epsilonMax: budget,
      ledgerPath: join(workspace.dir, 'plain', 'ledger-0.json'),
      identity: generateIdentity(),
      clientName: 'client-0-restarted',
    });
    workspace.defer(() => restarted.client.stop());
    await restarted.waitFor((e) => e.event === 'connected');
    const second = await postJson<{ state: string; round: number; reason: string }>(`${coordinator.url}/rounds`);
    const declined = await restarted.waitFor((e) => e.event === 'declined');
    expect((declined as { reason: string }).reason).toMatch(/privacy budget: .*would spend epsilon/);
    const secondDetail = await getJson<RoundDetail>(`${coordinator.url}/rounds/${second.round}`);
    const refusal = secondDetail.participants.find((p) => p.status === 'declined');
    expect(refusal?.reason).toMatch(/privacy budget/);
  });

  it('under secure aggregation each client adds only its share of the noise and the coordinator sees only the sum', async () => {
    const { coordinator } = await privateFederation('secure', true, 100);
    const round = await postJson<{ state: string; round: number }>(`${coordinator.url}/rounds`);
    expect(round.state).toBe('published');
    const packets = coordinator.received.filter((p): p is string => typeof p === 'string');
    expect(packets.some((p) => p.includes('"round.votes"'))).toBe(false);
    const detail = await getJson<RoundDetail>(`${coordinator.url}/rounds/${round.round}`);
    expect(detail.metrics!.privacy!.roundEpsilon).toBeCloseTo(epsilonAfter(1), 6);
  });

  it.each<PrivacySpec>([
    { mechanism: 'confident-gnmax', threshold: 8, sigma1: 1, sigma2: 1, delta: DELTA },
    { mechanism: 'gaussian', clipNorm: 1, sigma: 2, delta: DELTA },
  ])('runs $mechanism under secure aggregation and reports what libs/privacy says it costs', async (spec) => {
    const { coordinator } = await privateFederation(`secure-${spec.mechanism}`, true, 1e9, spec);
    const round = await postJson<{ state: string; round: number }>(`${coordinator.url}/rounds`);
    expect(round.state).toBe('published');
    const detail = await getJson<RoundDetail & { metrics: { privacy: { answeredQueries: number } } }>(`${coordinator.url}/rounds/${round.round}`);
    const expected = epsilonFromRdpClassic(DEFAULT_ORDERS, privacyMechanism(spec).roundRdp(QUERIES), DELTA).epsilon;
    expect(detail.metrics.privacy.roundEpsilon).toBeCloseTo(expected, 6);
    if (spec.mechanism === 'confident-gnmax') {
      expect(detail.metrics.privacy.answeredQueries).toBeGreaterThan(0);
      expect(detail.metrics.privacy.answeredQueries).toBeLessThan(QUERIES);
    } else expect(detail.metrics.privacy.answeredQueries).toBe(QUERIES);
  });
});
