import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { generateIdentity } from '@fedkd/privacy';
import { federationParser, PROTOCOL_VERSION, type Ack } from '@fedkd/protocol';
import {
  connectRawClient,
  connectUnauthenticated,
  getJson,
  helloFor,
  SMALL_TEACHER,
  startTestClient,
  startTestCoordinator,
  testWorkspace,
  until,
  untilAsync,
  type TestCoordinator,
} from './support/federation-harness';

interface Health {
  connections: { open: number; unauthenticated: number; refused: Record<'perAddress' | 'unauthenticated' | 'preAuthMessageTooLarge' | 'helloTimeout', number> };
}

interface RoundDetail {
  state: string;
  config: { deadline: number; targetAnswers: number | null };
  participants: { clientId: string; status: string; reason: string | null }[];
  transitions: { to: string; at: number }[];
}

/** A socket that connects from `localAddress` (any 127.0.0.0/8 address is loopback) and never says hello. */
function helloless(coordinator: TestCoordinator, localAddress: string): Promise<{ socket: Socket; outcome: 'connected' | string }> {
  const socket = io(coordinator.url, {
    auth: { protocolVersion: PROTOCOL_VERSION, clientName: 'idle' },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    parser: federationParser,
    localAddress,
  } as Parameters<typeof io>[1]);
  return new Promise((resolve) => {
    socket.once('auth.challenge', () => resolve({ socket, outcome: 'connected' }));
    socket.once('connect_error', (e) => resolve({ socket, outcome: `refused: ${e.message}` }));
  });
}

const disconnected = (socket: Socket) => new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));

describe('availability', () => {
  const workspace = testWorkspace('fedkd-avail-');

  describe('before authentication', () => {
    let coordinator: TestCoordinator;
    const health = () => getJson<Health>(`${coordinator.url}/health`).then((h) => h.connections);

    it('closes a hello-less socket that sends a 1 MiB message at the small pre-authentication cap, without buffering it', async () => {
      coordinator = await startTestCoordinator({
        databasePath: join(workspace.dir, 'caps/fedkd.sqlite'),
        preAuthMaxMessageBytes: 8 * 1024,
        maxConnectionsPerAddress: 3,
        maxUnauthenticatedConnections: 5,
        helloTimeoutMs: 1_500,
      });
      workspace.defer(() => coordinator.stop());
      const { socket } = await connectUnauthenticated(coordinator.url, 'uploader');
      const closed = disconnected(socket);
      socket.emit('proxy.fetch', { blob: new Uint8Array(1024 * 1024) });
      expect(await closed).toBe('transport close');
      expect(coordinator.received.some((p) => typeof p !== 'string' && p.byteLength >= 1024 * 1024)).toBe(false);
      await untilAsync(async () => (await health()).refused.preAuthMessageTooLarge === 1, 5_000);
    });

    it('closes a hello-less socket whose small messages together exceed the cap', async () => {
      const { socket } = await connectUnauthenticated(coordinator.url, 'chatty');
      const closed = disconnected(socket);
      for (let i = 0; i < 4; i++) socket.emit('proxy.fetch', { pad: 'x'.repeat(3_000) });
      expect(await closed).toBe('transport close');
      await untilAsync(async () => (await health()).refused.preAuthMessageTooLarge === 2, 5_000);
    });

    it('lets an authenticated client send a multi-MiB message (the cap is raised at its hello)', async () => {
      const client = await connectRawClient(coordinator, 'big-sender');
      const ack = (await client.socket.timeout(10_000).emitWithAck('proxy.fetch', { sha256: 'a'.repeat(64), start: 0, count: 1, blob: new Uint8Array(3 * 1024 * 1024) })) as Ack;
      expect(ack).toMatchObject({ ok: false, code: 'BAD_MESSAGE' });
      expect(client.socket.connected).toBe(true);
      client.socket.disconnect();
    });

    it('refuses connections over the per-address and unauthenticated caps, counts them, and honest clients still join', async () => {
      const before = (await health()).refused;
      const flood = await Promise.all(Array.from({ length: 4 }, () => helloless(coordinator, '127.0.0.2')));
      expect(flood.map((f) => f.outcome).sort()).toEqual(['connected', 'connected', 'connected', expect.stringMatching(/^refused/)]);
      // The flood from 127.0.0.2 is capped at 3: an honest client from elsewhere joins meanwhile.
      const honest = await connectRawClient(coordinator, 'honest-1');
      expect((await health()).refused.perAddress).toBe(before.perAddress + 1);

      // 3 + 2 more from 127.0.0.3 fill the 5 unauthenticated places: the next connection is refused.
      const more = [await helloless(coordinator, '127.0.0.3'), await helloless(coordinator, '127.0.0.3'), await helloless(coordinator, '127.0.0.3')];
      expect(more.map((f) => f.outcome)).toEqual(['connected', 'connected', expect.stringMatching(/^refused/)]);
      expect(await health()).toMatchObject({ unauthenticated: 5, refused: { unauthenticated: before.unauthenticated + 1 } });

      // Their hello timeout frees the places; an honest client then joins.
      await untilAsync(async () => (await health()).unauthenticated === 0, 10_000);
      expect((await health()).refused.helloTimeout).toBeGreaterThanOrEqual(5);
      const second = await connectRawClient(coordinator, 'honest-2');
      expect((await getJson<{ name: string; connected: boolean }[]>(`${coordinator.url}/clients`)).filter((c) => c.connected).map((c) => c.name).sort()).toEqual(['honest-1', 'honest-2']);
      [...flood, ...more].forEach((f) => f.socket.disconnect());
      honest.socket.disconnect();
      second.socket.disconnect();
    });
  });

  describe('rounds', () => {
    let coordinator: TestCoordinator;

    it('refuses POST /rounds with too few clients (409, no round stored), then rate limits it (429 with Retry-After)', async () => {
      coordinator = await startTestCoordinator({
        databasePath: join(workspace.dir, 'rounds/fedkd.sqlite'),
        targetAnswers: 2,
        overSelection: 1.5,
        proxySize: 200,
        studentEpochs: 2,
      });
      workspace.defer(() => coordinator.stop());
      const first = await fetch(`${coordinator.url}/rounds`, { method: 'POST', headers: coordinator.authHeaders });
      expect(first.status).toBe(409);
      expect(await first.json()).toEqual({ code: 'CANNOT_START', message: 'only 0 of the 2 required clients are connected' });
      const second = await fetch(`${coordinator.url}/rounds`, { method: 'POST', headers: coordinator.authHeaders });
      expect(second.status).toBe(429);
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await second.json()) as { code: string }).toMatchObject({ code: 'RATE_LIMITED' });
      expect(await getJson<unknown[]>(`${coordinator.url}/rounds`)).toEqual([]);
    });

    it('refuses a hello declaring an architecture over the bounds with TOO_LARGE, and stores no client', async () => {
      const { socket, nonce } = await connectUnauthenticated(coordinator.url, 'giant');
      const hello = { ...helloFor('giant', generateIdentity(), nonce, await coordinator.enrolmentToken('giant')), architecture: { ...SMALL_TEACHER, hidden: [999_999] } };
      const ack = (await socket.timeout(5_000).emitWithAck('hello', hello)) as Ack;
      expect(ack).toEqual({ ok: false, code: 'TOO_LARGE', message: "hello: architecture exceeds the coordinator's bounds: a layer of 999999 units, at most 65536" });
      expect((await getJson<{ name: string }[]>(`${coordinator.url}/clients`)).map((c) => c.name)).not.toContain('giant');
      socket.disconnect();
    });

    it('closes a round at its target of answers instead of waiting for a silent client until the deadline', async () => {
      const clients = [0, 1].map((i) => startTestClient(coordinator, i, { epochs: 1 }));
      clients.forEach((c) => workspace.defer(() => c.client.stop()));
      await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients');
      const silent = await connectRawClient(coordinator, 'silent');
      workspace.defer(() => void silent.socket.disconnect());

      // The failed start above blocks starts for a second: retry when told to.
      let response: Response;
      for (;;) {
        response = await fetch(`${coordinator.url}/rounds`, { method: 'POST', headers: coordinator.authHeaders });
        if (response.status !== 429) break;
        await new Promise((r) => setTimeout(r, 1000 * Number(response.headers.get('retry-after'))));
      }
      expect(response.status).toBe(201);
      const summary = (await response.json()) as { round: number; state: string };
      expect(summary.state).toBe('published');

      const round = await getJson<RoundDetail>(`${coordinator.url}/rounds/${summary.round}`);
      expect(round.config.targetAnswers).toBe(2);
      // ceil(2 x 1.5) = 3 invited: all three, the silent one included.
      expect(round.participants.map((p) => p.status).sort()).toEqual(['answered', 'answered', 'not-needed']);
      expect(round.participants.find((p) => p.clientId === silent.clientId)).toMatchObject({ status: 'not-needed', reason: 'round closed at its target of 2 answers' });
      // Collection ended, and the model was published, before the round's deadline.
      const at = (state: string) => round.transitions.find((t) => t.to === state)!.at;
      expect(at('aggregating')).toBeLessThan(round.config.deadline);
      expect(at('published')).toBeLessThan(round.config.deadline);

      const late = (await silent.socket.timeout(5_000).emitWithAck('round.predictions', { round: summary.round })) as Ack;
      expect(late).toMatchObject({ ok: false, code: 'ROUND_CLOSED' });
    });
  });
});
