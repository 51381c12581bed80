import { afterAll } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createEnrolmentToken, generateIdentity, initKeys, readPublicKey, signHandshake, type Ed25519KeyPair } from '@fedkd/privacy';
import { io, type Socket } from 'socket.io-client';
import { MLP_SPEC, type MlpSpec } from '@fedkd/engine';
import { MNIST_TASK, taskSha256 } from '@fedkd/data';
import { federationParser, PROTOCOL_VERSION, type Ack, type HelloAccepted, type RoundOpen } from '@fedkd/protocol';
import { COORDINATOR_DEFAULTS, defaultAggregationRule, type CoordinatorConfig } from '../../apps/coordinator/src/config/coordinator-config';
import { startCoordinator, type RunningCoordinator, type StartOptions } from '../../apps/coordinator/src/start-coordinator';
import { DATABASE, type CoordinatorDatabase } from '../../apps/coordinator/src/persistence/database.provider';
import { createApiToken } from '../../apps/coordinator/src/auth/api-tokens';
import { FederationGateway } from '../../apps/coordinator/src/transport/federation.gateway';
import { EdgeClient, type ClientEvent, type EdgeClientConfig } from '../../apps/edge-client/src/federation/edge-client';

/** The digest of the embedded digits' task, which test coordinators serve unless told otherwise. */
export const MNIST_TASK_SHA256 = taskSha256(MNIST_TASK);

/** A small, fast federation: 500 proxy inputs, a few epochs. */
export const SMALL_TEACHER: MlpSpec = { ...MLP_SPEC, hidden: [64] };

export interface TestCoordinator extends RunningCoordinator {
  /** Every engine.io packet the coordinator received, as sent (strings and binary attachments). */
  received: (string | Buffer)[];
  /** The coordinator's public key, as clients pin it. */
  publicKey: Uint8Array;
  /** A fresh one-time enrolment token for `clientName` (as `fedkd enroll` makes). */
  enrolmentToken(clientName: string): Promise<string>;
  /** An admin API token (as `fedkd admin token create --scope admin` makes): getJson/postJson send it to this coordinator. */
  adminToken: string;
  /** `Authorization: Bearer <admin token>`, for requests the test makes itself (fetch, tf.io.http). */
  authHeaders: Record<string, string>;
  stop(): Promise<void>;
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Starts a coordinator on a free loopback port; its key lives beside the database (created once). Silent unless `options` say where to log. */
export async function startTestCoordinator(overrides: Partial<CoordinatorConfig> & { databasePath: string }, options: StartOptions = { logger: false }): Promise<TestCoordinator> {
  const keyDir = join(dirname(overrides.databasePath), 'keys');
  if (!existsSync(join(keyDir, 'coordinator.key'))) {
    const created = initKeys(keyDir, 'coordinator');
    if (!created.ok) throw new Error(created.message);
  }
  const publicKey = readPublicKey(join(keyDir, 'coordinator.pub'));
  if (!publicKey.ok) throw new Error(publicKey.message);
  const config: CoordinatorConfig = {
    ...COORDINATOR_DEFAULTS,
    keyPath: join(keyDir, 'coordinator.key'),
    port: 0,
    minClients: 2,
    proxySize: 500,
    studentEpochs: 8,
    localEpochs: 1,
    digestEpochs: 1,
    roundDeadlineMs: 60_000,
    // The rule `fedkd coordinator` picks when --agg is not given: reputation, or the mean under secure aggregation.
    aggregation: defaultAggregationRule(overrides.secureAggregation?.enabled ?? false),
    ...overrides,
  };
  const running = await startCoordinator(config, options);
  const received: (string | Buffer)[] = [];
  const server = running.app.get(FederationGateway).server;
  server.engine.on('connection', (socket: { on(event: 'packet', fn: (p: { data?: string | Buffer }) => void): void }) => {
    socket.on('packet', (packet) => {
      if (packet.data !== undefined) received.push(packet.data);
    });
  });
  const db = running.app.get<symbol, CoordinatorDatabase>(DATABASE);
  const adminToken = (await createApiToken(db, `test-admin-${(await db.apiTokens.list()).length + 1}`, 'admin')).token;
  tokensByOrigin.set(new URL(running.url).origin, adminToken);
  return {
    ...running,
    received,
    publicKey: publicKey.value,
    adminToken,
    authHeaders: { authorization: `Bearer ${adminToken}` },
    enrolmentToken: async (clientName) => {
      const { token, record } = createEnrolmentToken(clientName, 3_600_000, Date.now());
      await db.identities.addToken(record);
      return token;
    },
    stop: async () => {
      tokensByOrigin.delete(new URL(running.url).origin);
      await running.app.close();
    },
  };
}

/** The admin token of each running test coordinator, by origin: what getJson/postJson send. */
const tokensByOrigin = new Map<string, string>();

function authorization(url: string, token: string | undefined): Record<string, string> {
  const bearer = token ?? tokensByOrigin.get(new URL(url).origin);
  return bearer ? { authorization: `Bearer ${bearer}` } : {};
}

export interface TestClient {
  client: EdgeClient;
  events: ClientEvent[];
  /** Resolves when an event matching `predicate` has been reported. */
  waitFor(predicate: (e: ClientEvent) => boolean, timeoutMs?: number): Promise<ClientEvent>;
}

/** What an edge client needs of a coordinator: its URL, its public key, and tokens to enrol with (in this process, or a child's). */
export type CoordinatorContact = Pick<TestCoordinator, 'url' | 'publicKey' | 'enrolmentToken'>;

/** An edge client in this process, enrolled with a fresh key and token on first contact. */
export function startTestClient(coordinator: CoordinatorContact, index: number, overrides: Partial<EdgeClientConfig> = {}): TestClient {
  const url = coordinator.url;
  const events: ClientEvent[] = [];
  const waiters: { predicate: (e: ClientEvent) => boolean; resolve: (e: ClientEvent) => void }[] = [];
  const config: EdgeClientConfig = {
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
    identity: generateIdentity(),
    teachersPerClient: 1,
    epsilonMax: Infinity,
    ledgerPath: null,
    queryBudget: null,
    coordinatorPublicKey: coordinator.publicKey,
    ...overrides,
  };
  const client = new EdgeClient(
    config,
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
  // The client starts once its token is stored (unless the test gave its own).
  const token = 'enrolmentToken' in overrides ? Promise.resolve(overrides.enrolmentToken) : coordinator.enrolmentToken(overrides.clientName ?? `client-${index}`);
  void token.then((enrolmentToken) => {
    config.enrolmentToken = enrolmentToken;
    return client.start();
  });
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

export interface RawClient {
  socket: Socket;
  clientId: string;
  identity: Ed25519KeyPair;
  /** The coordinator's public key: the federation every message of this client is signed for. */
  coordinatorPublicKey: Uint8Array;
  rounds: RoundOpen[];
}

/** Connects and waits for the coordinator's challenge nonce. */
export async function connectUnauthenticated(url: string, name: string, protocolVersion = PROTOCOL_VERSION): Promise<{ socket: Socket; nonce: Uint8Array; rounds: RoundOpen[] }> {
  const socket = io(url, { auth: { protocolVersion, clientName: name }, transports: ['websocket'], forceNew: true, reconnection: false, parser: federationParser });
  const rounds: RoundOpen[] = [];
  socket.on('round.open', (r: RoundOpen) => rounds.push(r));
  const nonce = await new Promise<Uint8Array>((resolve, reject) => {
    socket.once('auth.challenge', (c: { nonce: Uint8Array }) => resolve(new Uint8Array(c.nonce)));
    socket.once('connect_error', reject);
  });
  return { socket, nonce, rounds };
}

/** A signed hello for `nonce`, with an enrolment token when given. */
export function helloFor(name: string, identity: Ed25519KeyPair, nonce: Uint8Array, enrolmentToken?: string, timestamp = Date.now()) {
  const proof = signHandshake({ nonce, clientName: name, protocolVersion: PROTOCOL_VERSION, timestamp }, identity.secretKey);
  return {
    taskSha256: MNIST_TASK_SHA256,
    architecture: SMALL_TEACHER,
    proof: { publicKey: identity.publicKey, timestamp: proof.timestamp, signature: proof.signature },
    ...(enrolmentToken ? { enrolmentToken } : {}),
  };
}

/** A hand-driven, enrolled client: connects, says a signed hello, and lets the test send whatever it likes. */
export async function connectRawClient(coordinator: TestCoordinator, name: string): Promise<RawClient> {
  const identity = generateIdentity();
  const { socket, nonce, rounds } = await connectUnauthenticated(coordinator.url, name);
  const ack = (await socket.timeout(5_000).emitWithAck('hello', helloFor(name, identity, nonce, await coordinator.enrolmentToken(name)))) as Ack<HelloAccepted>;
  if (!ack.ok) throw new Error(`hello refused: ${ack.message}`);
  return { socket, clientId: ack.value.clientId, identity, coordinatorPublicKey: coordinator.publicKey, rounds };
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

/** POST with the coordinator's admin token (or `token`). */
export async function postJson<T>(url: string, token?: string): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: authorization(url, token) });
  if (!response.ok) throw new Error(`POST ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

/** GET with the coordinator's admin token (or `token`). */
export async function getJson<T>(url: string, token?: string): Promise<T> {
  const response = await fetch(url, { headers: authorization(url, token) });
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

/**
 * A temporary directory and a list of things to stop, both undone after the file's tests (in
 * reverse order: clients before their coordinator, then the directory). Call inside `describe`.
 */
export function testWorkspace(prefix: string): { dir: string; defer(cleanup: () => Promise<void> | void): void } {
  const dir = tempDir(prefix);
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    dir.remove();
  });
  return { dir: dir.path, defer: (cleanup) => cleanups.push(cleanup) };
}
