/**
 * Availability of the coordinator under the issue-12 scenarios, on loopback: failed starts of
 * POST /rounds with no client, a flood of hello-less sockets from one address, a 1 MiB message
 * before the hello, and a round with one silent client with and without --target-answers.
 * Prints a table (or --json). Real coordinator, real sockets, real edge clients.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { io, type Socket } from 'socket.io-client';
import { MLP_SPEC } from '@fedkd/engine';
import { MNIST_TASK, taskSha256 } from '@fedkd/data';
import { createEnrolmentToken, generateIdentity, initKeys, readPublicKey, signHandshake } from '@fedkd/privacy';
import { federationParser, PROTOCOL_VERSION, type Ack, type HelloAccepted } from '@fedkd/protocol';
import { exitOnError, integerArg } from '@fedkd/command-line';
import { COORDINATOR_DEFAULTS, type CoordinatorConfig } from '../apps/coordinator/src/config/coordinator-config';
import { startCoordinator, type RunningCoordinator } from '../apps/coordinator/src/start-coordinator';
import { DATABASE, type CoordinatorDatabase } from '../apps/coordinator/src/persistence/database.provider';
import { createApiToken } from '../apps/coordinator/src/auth/api-tokens';
import { EdgeClient } from '../apps/edge-client/src/federation/edge-client';

interface Options {
  seed: number;
  deadlineMs: number;
  floodSockets: number;
  json: boolean;
}

interface Row {
  scenario: string;
  setting: string;
  result: string;
}

async function withCoordinator<T>(work: string, name: string, overrides: Partial<CoordinatorConfig>, body: (c: RunningCoordinator & { admin: Record<string, string> }, token: (client: string) => Promise<string>, publicKey: Uint8Array) => Promise<T>): Promise<T> {
  const dir = join(work, name);
  const keys = initKeys(join(dir, 'keys'), 'coordinator');
  if (!keys.ok) throw new Error(keys.message);
  const publicKey = readPublicKey(keys.value.publicKeyPath);
  if (!publicKey.ok) throw new Error(publicKey.message);
  const running = await startCoordinator(
    { ...COORDINATOR_DEFAULTS, port: 0, databasePath: join(dir, 'fedkd.sqlite'), keyPath: keys.value.secretKeyPath, proxySize: 500, studentEpochs: 4, localEpochs: 1, digestEpochs: 0, publicRead: true, ...overrides },
    { logger: false },
  );
  const db = running.app.get<symbol, CoordinatorDatabase>(DATABASE);
  const token = async (client: string) => {
    const { token: t, record } = createEnrolmentToken(client, 3_600_000, Date.now());
    await db.identities.addToken(record);
    return t;
  };
  try {
    // Reads are public here (--public-read); starting a round needs an admin token, as in a deployment.
    const admin = { authorization: `Bearer ${(await createApiToken(db, 'availability-table', 'admin')).token}` };
    return await body(Object.assign(running, { admin }), token, publicKey.value);
  } finally {
    await running.app.close();
  }
}

function rawSocket(url: string, name: string): Promise<{ socket: Socket; nonce: Uint8Array | null; error: string | null }> {
  const socket = io(url, { auth: { protocolVersion: PROTOCOL_VERSION, clientName: name }, transports: ['websocket'], forceNew: true, reconnection: false, parser: federationParser });
  return new Promise((resolve) => {
    socket.once('auth.challenge', (c: { nonce: Uint8Array }) => resolve({ socket, nonce: new Uint8Array(c.nonce), error: null }));
    socket.once('connect_error', (e) => resolve({ socket, nonce: null, error: e.message }));
  });
}

async function failedStarts(work: string): Promise<Row> {
  return withCoordinator(work, 'starts', {}, async (c) => {
    const statuses = new Map<number, number>();
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`${c.url}/rounds`, { method: 'POST', headers: c.admin });
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
    const ms = Date.now() - started;
    const rows = ((await (await fetch(`${c.url}/rounds`)).json()) as unknown[]).length;
    const summary = [...statuses].map(([s, n]) => `${n} x HTTP ${s}`).join(', ');
    return { scenario: '20 x POST /rounds, no client connected', setting: 'defaults', result: `${summary} in ${ms} ms; ${rows} round rows stored` };
  });
}

async function flood(work: string, sockets: number): Promise<Row[]> {
  return withCoordinator(work, 'flood', {}, async (c) => {
    const attempts = await Promise.all(Array.from({ length: sockets }, (_, i) => rawSocket(c.url, `idle-${i}`)));
    const accepted = attempts.filter((a) => a.nonce).length;
    const health = (await (await fetch(`${c.url}/health`)).json()) as { connections: { refused: Record<string, number> } };
    attempts.forEach((a) => a.socket.disconnect());
    for (;;) {
      const now = (await (await fetch(`${c.url}/health`)).json()) as { connections: { open: number } };
      if (now.connections.open === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const { socket, error } = await rawSocket(c.url, 'uploader');
    if (error) throw new Error(`the uploader could not connect: ${error}`);
    const reason = await new Promise<string>((resolve) => {
      socket.once('disconnect', resolve);
      socket.emit('proxy.fetch', { blob: new Uint8Array(1024 * 1024) });
    });
    const after = (await (await fetch(`${c.url}/health`)).json()) as { connections: { refused: Record<string, number> } };
    return [
      {
        scenario: `${sockets} hello-less sockets from one address`,
        setting: `--max-connections-per-address ${COORDINATOR_DEFAULTS.maxConnectionsPerAddress}`,
        result: `${accepted} accepted, ${sockets - accepted} refused (GET /health refused.perAddress ${health.connections.refused.perAddress})`,
      },
      {
        scenario: '1 MiB message before the hello',
        setting: `--pre-auth-max-message-bytes ${COORDINATOR_DEFAULTS.preAuthMaxMessageBytes}`,
        result: `closed (${reason}); refused.preAuthMessageTooLarge ${after.connections.refused.preAuthMessageTooLarge}`,
      },
    ];
  });
}

async function silentClientRound(work: string, options: Options, target: number | null): Promise<Row> {
  const overrides: Partial<CoordinatorConfig> = { seed: options.seed, roundDeadlineMs: options.deadlineMs, ...(target ? { targetAnswers: target, overSelection: 1.5 } : {}) };
  return withCoordinator(work, target ? 'target' : 'no-target', overrides, async (c, token, publicKey) => {
    const connected: Promise<void>[] = [];
    const tokens = [await token('client-0'), await token('client-1')];
    const clients = [0, 1].map((i) => {
      let joined!: () => void;
      connected.push(new Promise((r) => (joined = r)));
      const client = new EdgeClient(
        {
          coordinatorUrl: c.url, clientName: `client-${i}`, clientIndex: i, clients: 3, partition: { name: 'iid' }, seed: options.seed,
          model: { ...MLP_SPEC, hidden: [64] }, epochs: 1, shareSampleCount: false, ackTimeoutMs: 60_000, reconnectDelayMs: 200, reconnectDelayMaxMs: 1_000,
          identity: generateIdentity(), teachersPerClient: 1, epsilonMax: Infinity, ledgerPath: null, queryBudget: null,
          coordinatorPublicKey: publicKey, enrolmentToken: tokens[i],
        },
        (e) => e.event === 'connected' && joined(),
        () => undefined,
      );
      void client.start();
      return client;
    });
    await Promise.all(connected);
    const identity = generateIdentity();
    const { socket, nonce } = await rawSocket(c.url, 'silent');
    const proof = signHandshake({ nonce: nonce!, clientName: 'silent', protocolVersion: PROTOCOL_VERSION, timestamp: Date.now() }, identity.secretKey);
    const hello = (await socket.timeout(5_000).emitWithAck('hello', {
      taskSha256: taskSha256(MNIST_TASK),
      architecture: { ...MLP_SPEC, hidden: [64] },
      proof: { publicKey: identity.publicKey, timestamp: proof.timestamp, signature: proof.signature },
      enrolmentToken: await token('silent'),
    })) as Ack<HelloAccepted>;
    if (!hello.ok) throw new Error(`silent client's hello refused: ${hello.message}`);
    try {
      const summary = (await (await fetch(`${c.url}/rounds`, { method: 'POST', headers: c.admin })).json()) as { round: number; state: string };
      const round = (await (await fetch(`${c.url}/rounds/${summary.round}`)).json()) as { timings: { collectMs: number; roundMs: number }; participants: { status: string }[] };
      const statuses = round.participants.map((p) => p.status).sort().join(', ');
      return {
        scenario: `round: 2 clients answer, 1 silent, deadline ${options.deadlineMs / 1000} s`,
        setting: target ? `--target-answers ${target} --over-selection 1.5` : 'no target',
        result: `${summary.state}; collect ${(round.timings.collectMs / 1000).toFixed(1)} s, round ${(round.timings.roundMs / 1000).toFixed(1)} s; ${statuses}`,
      };
    } finally {
      socket.disconnect();
      clients.forEach((client) => client.stop());
    }
  });
}

async function main(options: Options): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'fedkd-availability-'));
  try {
    const rows = [await failedStarts(work), ...(await flood(work, options.floodSockets)), await silentClientRound(work, options, null), await silentClientRound(work, options, 2)];
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ options, rows }, null, 2)}\n`);
      return;
    }
    process.stdout.write('| scenario | setting | result |\n|---|---|---|\n');
    for (const r of rows) process.stdout.write(`| ${r.scenario} | ${r.setting} | ${r.result} |\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const program = new Command('availability-table')
  .description('Availability under the issue-12 scenarios: failed starts, connection floods, pre-hello uploads, a silent client with and without --target-answers.')
  .option('--seed <n>', 'seed of the clients and the coordinator', integerArg('--seed'), 0)
  .option('--deadline-ms <ms>', 'round deadline', integerArg('--deadline-ms', 1000), 20_000)
  .option('--flood-sockets <n>', 'hello-less sockets opened at once from one address', integerArg('--flood-sockets', 1, 1000), 200)
  .option('--json', 'print JSON instead of a table', false)
  .action((options: Options) => exitOnError('availability-table', () => main(options).then(() => process.exit(0))));
program.parse();
