import { proxyInputCount } from '@fedkd/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity, signMessage } from '@fedkd/privacy';
import type { Ack, HelloAccepted, ModelPublished } from '@fedkd/protocol';
import { DATABASE, type CoordinatorDatabase } from '../apps/coordinator/src/persistence/database.provider';
import { FederationGateway } from '../apps/coordinator/src/transport/federation.gateway';
import { GRID, type Grid } from '../apps/coordinator/src/transport/grid';
import {
  connectRawClient,
  connectUnauthenticated,
  helloFor,
  postJson,
  startTestClient,
  startTestCoordinator,
  tempDir,
  until,
  type RawClient,
  type TestClient,
  type TestCoordinator,
} from './support/federation-harness';

async function hello(coordinator: TestCoordinator, name: string, build: (nonce: Uint8Array) => object): Promise<Ack<HelloAccepted>> {
  const { socket, nonce } = await connectUnauthenticated(coordinator.url, name);
  try {
    return (await socket.timeout(5_000).emitWithAck('hello', build(nonce))) as Ack<HelloAccepted>;
  } finally {
    socket.disconnect();
  }
}

function signed(client: RawClient, type: string, payload: { round: number; [field: string]: unknown }, seq = Date.now(), federation = client.coordinatorPublicKey) {
  return { ...payload, seq, signature: signMessage({ round: payload.round, type, seq, payload }, client.identity.secretKey, federation) };
}

describe('enrolled identities and signed messages', () => {
  const dir = tempDir('fedkd-identity-');
  let coordinator: TestCoordinator;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    coordinator = await startTestCoordinator({ databasePath: `${dir.path}/fedkd.sqlite`, minClients: 2 });
  });

  afterAll(async () => {
    clients.forEach((c) => c.client.stop());
    await coordinator?.stop();
    dir.remove();
  });

  it('enrols once by token; refuses unenrolled, reused-token, forged, stale and revoked handshakes with reasons', async () => {
    const alice = generateIdentity();
    const token = await coordinator.enrolmentToken('alice');
    // Not enrolled and no token.
    expect(await hello(coordinator, 'alice', (n) => helloFor('alice', alice, n))).toMatchObject({ ok: false, code: 'NOT_REGISTERED' });
    // A wrong proof does not spend the token.
    const mallory = generateIdentity();
    const forged = await hello(coordinator, 'alice', (n) => ({ ...helloFor('alice', mallory, n, token), proof: { ...helloFor('alice', mallory, n).proof, publicKey: alice.publicKey } }));
    expect(forged).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(await hello(coordinator, 'alice', (n) => helloFor('alice', alice, n, token))).toMatchObject({ ok: true });
    // Enrolled: later hellos need no token; the used token cannot admit another key.
    expect(await hello(coordinator, 'alice', (n) => helloFor('alice', alice, n))).toMatchObject({ ok: true });
    expect(await hello(coordinator, 'alice', (n) => helloFor('alice', mallory, n, token))).toMatchObject({ ok: false, code: 'NOT_REGISTERED' });
    // Wrong key for an enrolled name, a stale timestamp, a proof for another nonce.
    expect(await hello(coordinator, 'alice', (n) => helloFor('alice', mallory, n))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    const stale = await hello(coordinator, 'alice', (n) => helloFor('alice', alice, n, undefined, Date.now() - 10 * 60_000));
    expect(stale).toMatchObject({ ok: false, code: 'UNAUTHENTICATED' });
    expect((stale as { message: string }).message).toMatch(/STALE_TIMESTAMP/);
    // A proof made for another connection's nonce does not verify against this one's.
    const otherNonce = new Uint8Array(32).fill(1);
    expect(await hello(coordinator, 'alice', () => helloFor('alice', alice, otherNonce))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    // A replayed hello on the same connection finds its nonce spent.
    const { socket, nonce } = await connectUnauthenticated(coordinator.url, 'alice');
    const message = helloFor('alice', alice, nonce);
    expect(await socket.timeout(5_000).emitWithAck('hello', message)).toMatchObject({ ok: true });
    expect(await socket.timeout(5_000).emitWithAck('hello', message)).toMatchObject({ ok: false, code: 'DUPLICATE' });
    socket.disconnect();
    // Revoked.
    coordinator.app.get<symbol, CoordinatorDatabase>(DATABASE).identities.revoke('alice');
    expect(await hello(coordinator, 'alice', (n) => helloFor('alice', alice, n))).toMatchObject({ ok: false, code: 'REVOKED' });
  });

  it('uses no message that is unsigned, forged, replayed or of another round; a revoked client is cut off at once', async () => {
    for (let i = 0; i < 2; i++) clients.push(startTestClient(coordinator, i, { clients: 2 }));
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients');
    const raw = await Promise.all(['unsigned', 'forger', 'replayer', 'other-round', 'revoked'].map((n) => connectRawClient(coordinator, n)));
    const [unsigned, forger, replayer, otherRound, revoked] = raw;
    const done = postJson<{ state: string; round: number }>(`${coordinator.url}/rounds`);
    await until(() => raw.every((r) => r.rounds.length > 0), 10_000, 'round.open');
    const open = unsigned.rounds[0];
    const n = proxyInputCount(open.proxy);
    const { encodePredictions } = await import('@fedkd/protocol');
    const payload = { round: open.round, encoding: open.encoding, n, classes: 10, ...encodePredictions(new Float32Array(n * 10).fill(0.1), n, 10, open.encoding) };
    const send = async (c: RawClient, message: object) => (await c.socket.timeout(5_000).emitWithAck('round.predictions', message)) as Ack;

    expect(await send(unsigned, payload)).toMatchObject({ ok: false, code: 'UNAUTHENTICATED' });
    const tampered = { ...signed(forger, 'round.predictions', payload), data: Uint8Array.from(payload.data) };
    tampered.data[5] ^= 1;
    expect(await send(forger, tampered)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    const byAnother = signed(forger, 'round.predictions', payload);
    expect(await send(replayer, byAnother)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(await send(otherRound, signed(otherRound, 'round.predictions', { ...payload, round: open.round + 1 }))).toMatchObject({ ok: false, code: 'WRONG_ROUND' });
    // Signed for another coordinator's federation (a client enrolled with two): does not verify here.
    expect(await send(otherRound, signed(otherRound, 'round.predictions', payload, Date.now(), generateIdentity().publicKey))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    coordinator.app.get<symbol, CoordinatorDatabase>(DATABASE).identities.revoke('revoked');
    expect(await send(revoked, signed(revoked, 'round.predictions', payload))).toMatchObject({ ok: false, code: 'REVOKED' });
    const first = signed(replayer, 'round.predictions', payload);
    expect(await send(replayer, first)).toMatchObject({ ok: true });
    expect(await send(replayer, first)).toMatchObject({ ok: false, code: 'REPLAY' });
    raw.forEach((r) => r.socket.disconnect());
    expect((await done).state).toBe('published');
  });

  it('refuses a replayed message after the first was used (same round and sequence number)', async () => {
    const client = await connectRawClient(coordinator, 'declines-twice');
    const done = postJson<{ state: string }>(`${coordinator.url}/rounds`);
    await until(() => client.rounds.length > 0, 10_000, 'round.open');
    const decline = signed(client, 'round.declined', { round: client.rounds[0].round, reason: 'budget spent' });
    expect(await client.socket.timeout(5_000).emitWithAck('round.declined', decline)).toMatchObject({ ok: true });
    expect(await client.socket.timeout(5_000).emitWithAck('round.declined', decline)).toMatchObject({ ok: false, code: 'REPLAY' });
    client.socket.disconnect();
    await done;
  });

  it('every client refuses a tampered or wrongly signed model and keeps its last good one', async () => {
    // The coordinator's own latest model, re-sent with changes, as a man in the middle would.
    const genuine: ModelPublished = coordinator.app.get<symbol, Grid>(GRID).latest()!;
    // Every client has loaded it (a client may still be checking the last round's model when that round's POST returns).
    await until(() => clients.every((c) => c.client.studentVersion === genuine.version), 30_000, 'every client to hold the latest model');
    const before = clients.map((c) => c.client.studentVersion);
    const server = coordinator.app.get(FederationGateway).server;
    const events = clients.map((c) => c.events.length);
    const forgedMetrics = { ...genuine, version: genuine.version + 1, metrics: { ...genuine.metrics, testAccuracy: 0.999 } };
    const otherKey = { ...genuine, version: genuine.version + 1, signature: new Uint8Array(64).fill(9) };
    server.emit('model.published', forgedMetrics);
    server.emit('model.published', otherKey);
    await until(() => clients.every((c, i) => c.events.slice(events[i]).filter((e) => e.event === 'model' && !e.ok).length >= 2), 10_000, 'refusals');
    expect(clients.map((c) => c.client.studentVersion)).toEqual(before);
    for (const c of clients) {
      const refusals = c.events.filter((e) => e.event === 'model' && !e.ok) as { message?: string }[];
      expect(refusals.at(-1)?.message).toMatch(/signature refused: BAD_SIGNATURE/);
    }
  });
});
