import { proxyInputCount } from '@fedkd/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signMessage } from '@fedkd/privacy';
import { encodePredictions, PROTOCOL_VERSION, type Ack } from '@fedkd/protocol';
import {
  connectRawClient,
  connectUnauthenticated,
  type RawClient,
  getJson,
  postJson,
  startTestClient,
  startTestCoordinator,
  tempDir,
  until,
  type TestClient,
  type TestCoordinator,
} from './support/federation-harness';

interface RoundDetail {
  number: number;
  state: string;
  reason: string | null;
  metrics: { testAccuracy: number } | null;
  participants: { clientId: string; status: string; reason: string | null; bytesUploaded: number }[];
}

describe('federated rounds over real sockets', () => {
  const dir = tempDir('fedkd-rounds-');
  let coordinator: TestCoordinator;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    coordinator = await startTestCoordinator({ databasePath: `${dir.path}/fedkd.sqlite`, minClients: 3, localEpochs: 3 });
    // Weak start (1 epoch), stronger every round (3 local epochs + digest): round 2 should improve.
    for (let i = 0; i < 3; i++) clients.push(startTestClient(coordinator, i, { epochs: 1 }));
    await until(() => coordinator.rounds && clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients to connect');
  });

  afterAll(async () => {
    clients.forEach((c) => c.client.stop());
    await coordinator?.stop();
    dir.remove();
  });

  it('3 clients, 2 rounds: the round-2 student beats round 1, and every client holds the same version and hash', async () => {
    const first = await postJson<{ state: string; testAccuracy: number }>(`${coordinator.url}/rounds`);
    const second = await postJson<{ state: string; testAccuracy: number; modelVersion: number }>(`${coordinator.url}/rounds`);
    expect(first.state).toBe('published');
    expect(second.state).toBe('published');
    expect(second.testAccuracy).toBeGreaterThan(first.testAccuracy);

    const models = await getJson<{ version: number; sha256: string }[]>(`${coordinator.url}/models`);
    const latest = models.find((m) => m.version === second.modelVersion)!;
    for (const c of clients) {
      const loaded = (await c.waitFor((e) => e.event === 'model' && e.version === latest.version)) as { ok: boolean; sha256: string };
      expect(loaded.ok).toBe(true);
      expect(loaded.sha256).toBe(latest.sha256);
    }
    const blob = new Uint8Array(await (await fetch(`${coordinator.url}/models/${latest.version}`, { headers: coordinator.authHeaders })).arrayBuffer());
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(blob).digest('hex')).toBe(latest.sha256);

    const round = await getJson<RoundDetail>(`${coordinator.url}/rounds/2`);
    expect(round.participants.map((p) => p.status)).toEqual(['answered', 'answered', 'answered']);
    // float16, 500 proxy inputs x 10 classes: 10,000 bytes each.
    expect(round.participants.every((p) => p.bytesUploaded === 10_000)).toBe(true);
  });

  it('completes a round with the good clients while refusing bad messages with reasons', async () => {
    const bad = await Promise.all(['wrong-shape', 'nan', 'too-large', 'stale', 'vanisher', 'huge'].map((n) => connectRawClient(coordinator, n)));
    const [wrongShape, nan, tooLarge, stale, vanisher, huge] = bad;
    const acks: Record<string, Ack> = {};
    const roundDone = postJson<{ state: string; round: number }>(`${coordinator.url}/rounds`);
    await until(() => bad.every((b) => b.rounds.length > 0), 10_000, 'round.open at every raw client');
    const open = wrongShape.rounds[0];
    const n = proxyInputCount(open.proxy);
    const uniform = new Float32Array(n * 10).fill(0.1);
    const send = async (name: string, client: RawClient, message: { round: number; [field: string]: unknown }) => {
      acks[name] = (await client.socket.timeout(5_000).emitWithAck('round.predictions', signed(client, 'round.predictions', message))) as Ack;
    };
    vanisher.socket.disconnect();
    await send('wrong-shape', wrongShape, { round: open.round, encoding: 'float16', n: n - 1, classes: 10, ...encodePredictions(uniform.subarray(10), n - 1, 10, 'float16') });
    const withNan = uniform.slice();
    withNan[17] = Number.NaN;
    await send('nan', nan, { round: open.round, encoding: 'float16', n, classes: 10, ...encodePredictions(withNan, n, 10, 'float16') });
    await send('too-large', tooLarge, { round: open.round, encoding: 'float16', n, classes: 10, data: new Uint8Array(open.maxPayloadBytes + 4096) });
    await send('stale', stale, { round: open.round - 1, encoding: 'float16', n, classes: 10, ...encodePredictions(uniform, n, 10, 'float16') });
    stale.socket.disconnect();
    // Over the transport's message limit (8 MiB by default): socket.io closes that connection.
    const closed = new Promise<string>((resolve) => huge.socket.once('disconnect', resolve));
    huge.socket.emit('round.predictions', { round: open.round, encoding: 'float16', n, classes: 10, data: new Uint8Array(9 * 1024 * 1024) });
    expect(await closed).toMatch(/transport close/);

    const summary = await roundDone;
    expect(summary.state).toBe('published');
    expect(acks['wrong-shape']).toMatchObject({ ok: false, code: 'BAD_SHAPE' });
    expect(acks.nan).toMatchObject({ ok: false, code: 'NOT_FINITE' });
    expect(acks['too-large']).toMatchObject({ ok: false, code: 'TOO_LARGE' });
    expect(acks.stale).toMatchObject({ ok: false, code: 'STALE_ROUND' });
    for (const ack of Object.values(acks)) expect((ack as { message: string }).message.length).toBeGreaterThan(10);

    const round = await getJson<RoundDetail>(`${coordinator.url}/rounds/${summary.round}`);
    const statusOf = (id: string) => round.participants.find((p) => p.clientId === id)?.status;
    expect(statusOf(wrongShape.clientId)).toBe('rejected');
    expect(statusOf(nan.clientId)).toBe('rejected');
    expect(statusOf(tooLarge.clientId)).toBe('rejected');
    expect(statusOf(stale.clientId)).toBe('dropped');
    expect(statusOf(vanisher.clientId)).toBe('dropped');
    expect(statusOf(huge.clientId)).toBe('dropped');
    expect(round.participants.filter((p) => p.status === 'answered')).toHaveLength(3);
    bad.forEach((b) => b.socket.disconnect());
  });

  it('refuses a message from a socket that never said hello, and a wrong protocol version naming both', async () => {
    const { io } = await import('socket.io-client');
    const socket = io(coordinator.url, { auth: { protocolVersion: PROTOCOL_VERSION, clientName: 'mute' }, transports: ['websocket'], forceNew: true });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const ack = (await socket.timeout(5_000).emitWithAck('round.predictions', { round: 1 })) as Ack;
    expect(ack).toMatchObject({ ok: false, code: 'NOT_REGISTERED' });
    socket.disconnect();
    await expect(connectUnauthenticated(coordinator.url, 'future', 99)).rejects.toThrow(new RegExp(`99.*${PROTOCOL_VERSION}`));
  });
});

/** The message with its signature envelope, as an enrolled client sends it. */
function signed(client: RawClient, type: string, payload: { round: number; [field: string]: unknown }) {
  const seq = Date.now();
  return { ...payload, seq, signature: signMessage({ round: payload.round, type, seq, payload }, client.identity.secretKey, client.coordinatorPublicKey) };
}
