import { proxyInputCount } from '@fedkd/protocol';
import { describe, expect, it } from 'vitest';
import { generateIdentity, MessageSigner, SecureAggregationClient, type Ed25519KeyPair } from '@fedkd/privacy';
import type { Ack, RoundOpen } from '@fedkd/protocol';
import { ConfigError } from '../apps/coordinator/src/config/coordinator-config';
import {
  connectRawClient,
  getJson,
  postJson,
  startTestClient,
  startTestCoordinator,
  testWorkspace,
  until,
  untilAsync,
  type RawClient,
  type TestClient,
  type TestCoordinator,
} from './support/federation-harness';

interface RoundSummary {
  state: string;
  reason: string | null;
  round: number;
  testAccuracy: number | null;
}

interface RoundDetail {
  participants: { clientId: string; status: string; reason: string | null; bytesUploaded: number }[];
}

/**
 * A raw client that follows the secure-aggregation protocol up to `stopAfter`, then disconnects.
 * `advertiseAs`: sign the key advertisement with this identity instead of the enrolled one; the
 * acknowledgement of the advertisement goes to `acks`.
 */
function followSecureProtocol(client: RawClient, coordinator: TestCoordinator, stopAfter: 'share-keys' | 'never', advertiseAs?: Ed25519KeyPair, acks: Ack[] = []) {
  const signer = new MessageSigner(client.identity.secretKey, client.coordinatorPublicKey);
  let protocol: SecureAggregationClient | null = null;
  const send = (round: number, message: object) =>
    client.socket.timeout(10_000).emitWithAck('secagg', { round, message, ...pick(signer.sign(round, 'secagg', { round, message })) }) as Promise<Ack>;
  client.socket.on('round.open', (open: RoundOpen) => {
    const sa = open.secureAggregation!;
    protocol = new SecureAggregationClient(
      client.clientId,
      { roundId: open.round, vectorLength: proxyInputCount(open.proxy) * open.classes, threshold: sa.threshold, graph: sa.graph },
      { identity: advertiseAs ?? client.identity, federationId: coordinator.publicKey },
    );
    void send(open.round, protocol.advertiseKeys()).then((ack) => acks.push(ack));
  });
  client.socket.on('secagg', async ({ round, message }: { round: number; message: { kind: string } }) => {
    if (message.kind === 'secagg.key-directory') {
      await send(round, await protocol!.shareKeys(message as never));
      if (stopAfter === 'share-keys') client.socket.disconnect();
    }
  });
}

function pick(signed: { seq: number; signature: Uint8Array }) {
  return { seq: signed.seq, signature: signed.signature };
}

describe('secure aggregation end to end', () => {
  const workspace = testWorkspace('fedkd-secagg-');

  it('is refused at configuration time for a rule that needs individual predictions', async () => {
    await expect(
      startTestCoordinator({ databasePath: `${workspace.dir}/refused/fedkd.sqlite`, minClients: 3, aggregation: { name: 'median' }, secureAggregation: { enabled: true, threshold: null, degree: null } }),
    ).rejects.toThrow(new ConfigError("secure-agg: aggregation rule median needs each client's predictions, but secure aggregation reveals only their sum: use --agg mean, weighted or selective"));
  });

  it('is refused at configuration time with a threshold that is not a majority of the neighbours', async () => {
    await expect(
      startTestCoordinator({ databasePath: `${workspace.dir}/minority/fedkd.sqlite`, minClients: 3, aggregation: { name: 'mean' }, secureAggregation: { enabled: true, threshold: 2, degree: 4 } }),
    ).rejects.toThrow(/secagg-threshold: must be a strict majority of the 4 neighbours \(at least 3\), got 2/);
  });

  it('runs a coordinator\'s unsafe threshold only with clients that opted in; the others decline, with the reason', async () => {
    const coordinator = await startTestCoordinator({
      databasePath: `${workspace.dir}/unsafe/fedkd.sqlite`,
      minClients: 3,
      encoding: 'float32',
      aggregation: { name: 'mean' },
      secureAggregation: { enabled: true, threshold: 2, degree: null, unsafeThreshold: true },
    });
    // Three clients accept unsafe thresholds (--secagg-accept-unsafe-threshold), the fourth does not.
    const clients = Array.from({ length: 4 }, (_, i) => startTestClient(coordinator, i, { clients: 4, acceptUnsafeSecAggThreshold: i < 3 }));
    workspace.defer(async () => {
      clients.forEach((c) => c.client.stop());
      await coordinator.stop();
    });
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients');
    const summary = await postJson<RoundSummary>(`${coordinator.url}/rounds`);
    expect(summary.state).toBe('published');
    const detail = await getJson<RoundDetail>(`${coordinator.url}/rounds/${summary.round}`);
    expect(detail.participants.map((p) => p.status).sort()).toEqual(['answered', 'answered', 'answered', 'declined']);
    expect(detail.participants.find((p) => p.status === 'declined')!.reason).toMatch(/unsafe threshold \(2, allowed below a majority of the neighbours\): start the client with --secagg-accept-unsafe-threshold/);
    expect(clients[3]!.events.some((e) => e.event === 'declined' && e.acknowledged)).toBe(true);
  });

  async function federation(name: string, secure: boolean, aggregation: 'mean' | 'weighted' | 'selective' = 'mean', count = 4): Promise<{ coordinator: TestCoordinator; clients: TestClient[] }> {
    const coordinator = await startTestCoordinator({
      databasePath: `${workspace.dir}/${name}/fedkd.sqlite`,
      minClients: 3,
      encoding: 'float32',
      aggregation: { name: aggregation },
      secureAggregation: { enabled: secure, threshold: null, degree: null },
    });
    const clients = Array.from({ length: count }, (_, i) => startTestClient(coordinator, i, { clients: count, shareSampleCount: true, partition: { name: 'dirichlet', alpha: 0.5 } }));
    workspace.defer(async () => {
      clients.forEach((c) => c.client.stop());
      await coordinator.stop();
    });
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients');
    return { coordinator, clients };
  }

  it('gives the same student as the plain mean (within 0.5 points), and the coordinator never receives a plain prediction', async () => {
    const plain = await federation('plain', false);
    const plainRound = await postJson<RoundSummary>(`${plain.coordinator.url}/rounds`);
    const secure = await federation('secure', true);
    const secureRound = await postJson<RoundSummary>(`${secure.coordinator.url}/rounds`);
    expect(plainRound.state).toBe('published');
    expect(secureRound.state).toBe('published');
    expect(Math.abs(secureRound.testAccuracy! - plainRound.testAccuracy!)).toBeLessThanOrEqual(0.005);

    // No round.predictions event (plain soft predictions) ever reached the secure coordinator.
    const packets = secure.coordinator.received.filter((p): p is string => typeof p === 'string');
    expect(packets.some((p) => p.includes('"round.predictions"'))).toBe(false);
    expect(packets.filter((p) => p.includes('"secagg"')).length).toBeGreaterThanOrEqual(4 * 4);
    const detail = await getJson<RoundDetail>(`${secure.coordinator.url}/rounds/${secureRound.round}`);
    expect(detail.participants.map((p) => p.status)).toEqual(['answered', 'answered', 'answered', 'answered']);
    // Each client's masked vector alone is 4 bytes x 500 x 10.
    expect(detail.participants.every((p) => p.bytesUploaded > 20_000)).toBe(true);
    const report = secure.clients[0].events.find((e) => e.event === 'round') as { ok: boolean; secureAggregation?: { bytes: number; cryptoMs: number } };
    expect(report.ok).toBe(true);
    expect(report.secureAggregation!.bytes).toBeGreaterThan(20_000);
  });

  it('unmasks from the survivors when a client drops after sharing its keys, and refuses keys signed by other than the enrolled identity', async () => {
    const { coordinator } = await federation('dropout', true);
    const dropper = await connectRawClient(coordinator, 'dropper');
    followSecureProtocol(dropper, coordinator, 'share-keys');
    // An enrolled client whose advertisement is signed (for this federation) by a key it never enrolled.
    const impostor = await connectRawClient(coordinator, 'impostor');
    const impostorAcks: Ack[] = [];
    followSecureProtocol(impostor, coordinator, 'never', generateIdentity(), impostorAcks);
    const summary = await postJson<RoundSummary>(`${coordinator.url}/rounds`);
    expect(summary.state).toBe('published');
    const detail = await getJson<RoundDetail>(`${coordinator.url}/rounds/${summary.round}`);
    expect(detail.participants.find((p) => p.clientId === dropper.clientId)?.status).toBe('dropped');
    expect(detail.participants.find((p) => p.clientId === impostor.clientId)).toMatchObject({ status: 'rejected', reason: expect.stringMatching(/^KEY_MISMATCH: .*other than the one it enrolled with/) });
    expect(impostorAcks).toEqual([expect.objectContaining({ ok: false, message: expect.stringMatching(/KEY_MISMATCH/) })]);
    expect(detail.participants.filter((p) => p.status === 'answered')).toHaveLength(4);
  });

  it('aborts cleanly, with the reason, when too few survive to unmask', async () => {
    const { coordinator, clients } = await federation('abort', true);
    // Three of the four clients vanish after sharing their keys: one survivor, threshold 2.
    const droppers = await Promise.all(['d-0', 'd-1', 'd-2'].map((n) => connectRawClient(coordinator, n)));
    droppers.forEach((d) => followSecureProtocol(d, coordinator, 'share-keys'));
    clients.slice(1).forEach((c) => c.client.stop());
    await untilAsync(async () => (await getJson<{ connected: boolean }[]>(`${coordinator.url}/clients`)).filter((c) => c.connected).length === 4, 10_000);
    const summary = await postJson<RoundSummary>(`${coordinator.url}/rounds`);
    expect(summary.state).toBe('failed');
    expect(summary.reason).toMatch(/secure aggregation aborted: BELOW_THRESHOLD/);
  });

  it('runs with more participants than socket.io\'s default of 10 binary attachments per message allows', async () => {
    // The key directory carries two keys per participant: 7 participants are 14 attachments.
    const { coordinator } = await federation('seven', true, 'mean', 7);
    const summary = await postJson<RoundSummary>(`${coordinator.url}/rounds`);
    expect(summary.state).toBe('published');
    const detail = await getJson<RoundDetail>(`${coordinator.url}/rounds/${summary.round}`);
    expect(detail.participants.map((p) => p.status)).toEqual(Array(7).fill('answered'));
  });

  it('works with the selective rule: clients mask coverage-weighted predictions and their coverage, the coordinator gets only the sums, and the student matches the plain selective round', async () => {
    const plain = await federation('selective-plain', false, 'selective');
    const plainRound = await postJson<RoundSummary>(`${plain.coordinator.url}/rounds`);
    const secure = await federation('selective-secure', true, 'selective');
    const secureRound = await postJson<RoundSummary>(`${secure.coordinator.url}/rounds`);
    expect([plainRound.state, secureRound.state]).toEqual(['published', 'published']);
    // The masked sums are exact to 2^-16 per value: the targets, and so the students, nearly agree.
    expect(Math.abs(secureRound.testAccuracy! - plainRound.testAccuracy!)).toBeLessThanOrEqual(0.01);
    const packets = secure.coordinator.received.filter((p): p is string => typeof p === 'string');
    expect(packets.some((p) => p.includes('"round.predictions"'))).toBe(false);
    // In the clear each client sends 500 x 10 float32 predictions and 500 float16 coverage weights;
    // masked, 500 x (10 + 1) values of 4 bytes: the coverage is counted in the bytes either way.
    const plainDetail = await getJson<RoundDetail>(`${plain.coordinator.url}/rounds/${plainRound.round}`);
    expect(plainDetail.participants.every((p) => p.status === 'answered' && p.bytesUploaded === 500 * 10 * 4 + 500 * 2)).toBe(true);
    const secureDetail = await getJson<RoundDetail & { metrics: { selection: { rows: number; kept: number; uncovered: number; ambiguous: number } } }>(`${secure.coordinator.url}/rounds/${secureRound.round}`);
    expect(secureDetail.participants.every((p) => p.status === 'answered' && p.bytesUploaded >= 500 * 11 * 4)).toBe(true);
    // The round's metrics say how many inputs the rule kept from the sums (by default only the uncovered ones are dropped).
    const { selection } = secureDetail.metrics;
    expect(selection.rows).toBe(500);
    expect(selection.kept + selection.uncovered + selection.ambiguous).toBe(500);
    expect(selection.ambiguous).toBe(0);
    const openPackets = secure.clients[0].events.filter((e) => e.event === 'round');
    expect(openPackets).toEqual([expect.objectContaining({ ok: true, secureAggregation: expect.objectContaining({ bytes: expect.any(Number) }) })]);
  });

  it('works with weighted aggregation (sample counts scale the masked vectors)', async () => {
    const { coordinator } = await federation('weighted', true, 'weighted');
    const summary = await postJson<RoundSummary>(`${coordinator.url}/rounds`);
    expect(summary.state).toBe('published');
    expect(summary.testAccuracy).toBeGreaterThan(0.5);
  });
});
