import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { MLP_SPEC, type MlpSpec } from '@fedkd/engine';
import { PROTOCOL_VERSION, type Ack, type HelloAccepted, type RoundOpen } from '@fedkd/protocol';
import { COORDINATOR_DEFAULTS, type CoordinatorConfig } from '../../apps/coordinator/src/config/coordinator-config';
import { startCoordinator, type RunningCoordinator } from '../../apps/coordinator/src/start-coordinator';
import { FederationGateway } from '../../apps/coordinator/src/transport/federation.gateway';
import { EdgeClient, type ClientEvent, type EdgeClientConfig } from '../../apps/edge-client/src/federation/edge-client';

/** A small, fast federation: 500 proxy inputs, a few epochs. */
export const SMALL_TEACHER: MlpSpec = { ...MLP_SPEC, hidden: [64] };

export interface TestCoordinator extends RunningCoordinator {
  /** Every engine.io packet the coordinator received, as sent (strings and binary attachments). */
  received: (string | Buffer)[];
  stop(): Promise<void>;
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function startTestCoordinator(overrides: Partial<CoordinatorConfig> & { databasePath: string }): Promise<TestCoordinator> {
  const config: CoordinatorConfig = {
    ...COORDINATOR_DEFAULTS,
    port: 0,
    minClients: 2,
    proxySize: 500,
    studentEpochs: 8,
    localEpochs: 1,
    digestEpochs: 1,
    roundDeadlineMs: 60_000,
    ...overrides,
  };
  const running = await startCoordinator(config, { logger: false });
  const received: (string | Buffer)[] = [];
  const server = running.app.get(FederationGateway).server;
  server.engine.on('connection', (socket: { on(event: 'packet', fn: (p: { data?: string | Buffer }) => void): void }) => {
    socket.on('packet', (packet) => {
      if (packet.data !== undefined) received.push(packet.data);
    });
  });
  return { ...running, received, stop: () => running.app.close() };
}

export interface TestClient {
  client: EdgeClient;
  events: ClientEvent[];
  /** Resolves when an event matching `predicate` has been reported. */
  waitFor(predicate: (e: ClientEvent) => boolean, timeoutMs?: number): Promise<ClientEvent>;
}

export function startTestClient(url: string, index: number, overrides: Partial<EdgeClientConfig> = {}): TestClient {
  const events: ClientEvent[] = [];
  const waiters: { predicate: (e: ClientEvent) => boolean; resolve: (e: ClientEvent) => void }[] = [];
  const client = new EdgeClient(
    {
      coordinatorUrl: url,
      clientName: `client-${index}`,
      clientIndex: index,
      clients: 3,
      partition: { name: 'iid' },
      seed: 0,
      model: SMALL_TEACHER,
      epochs: 2,
      shareSampleCount: false,
      ackTimeoutMs: 20_000,
      reconnectDelayMs: 200,
      reconnectDelayMaxMs: 1_000,
      ...overrides,
    },
    (event) => {
      events.push(event);
      for (const w of [...waiters]) {
        if (w.predicate(event)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    },
    () => undefined,
  );
  void client.start();
  return {
    client,
    events,
    waitFor: (predicate, timeoutMs = 60_000) => {
      const seen = events.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for a client event`)), timeoutMs);
        waiters.push({ predicate, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
  };
}

/** A hand-driven client: connects, says hello, and lets the test send whatever it likes. */
export async function connectRawClient(url: string, name: string, protocolVersion = PROTOCOL_VERSION): Promise<{ socket: Socket; clientId: string; rounds: RoundOpen[] }> {
  const socket = io(url, { auth: { protocolVersion, clientName: name }, transports: ['websocket'], forceNew: true, reconnection: false });
  const rounds: RoundOpen[] = [];
  socket.on('round.open', (r: RoundOpen) => rounds.push(r));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const ack = (await socket.timeout(5_000).emitWithAck('hello', { architecture: SMALL_TEACHER })) as Ack<HelloAccepted>;
  if (!ack.ok) throw new Error(`hello refused: ${ack.message}`);
  return { socket, clientId: ack.value.clientId, rounds };
}

export async function until<T>(probe: () => T | undefined | null | false, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function postJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { method: 'POST' });
  if (!response.ok) throw new Error(`POST ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

export async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

export async function untilAsync(probe: () => Promise<boolean>, timeoutMs = 30_000, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for an asynchronous condition');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
