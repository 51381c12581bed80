/**
 * `npm run bench:connections [-- --connections 10000] [-- --step 2000] [-- --replicas 3] [-- --json]`:
 * how many idle, authenticated client connections coordinator processes hold, and their resident
 * memory per thousand. The clients here only connect, sign the handshake (enrolled first, as
 * `fedkd enroll` would) and hold the socket: no teacher, no rounds. Each coordinator is a real
 * `fedkd coordinator` process (its RSS measured apart from the clients'), on loopback.
 *
 * --replicas 1 (the default): one coordinator on a SQLite file.
 * --replicas N > 1: a PostgreSQL and a Redis server of this run (Debian's postgresql and
 * redis-server, started on loopback ports in temporary directories, as the tests start them), one
 * database for the federation, and N coordinators sharing it, the Redis (`--redis-url`) and one key.
 * Client i connects directly to replica i mod N (no load balancer in between).
 *
 * Numbers, not assertions; the aim (issue 17: 10,000 across three replicas) is printed beside them.
 * With --json, stdout gets exactly one JSON object and the progress goes to stderr. Every process
 * it starts (coordinators, PostgreSQL, Redis) is stopped on success, on error and on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { io, type Socket } from 'socket.io-client';
import { MNIST_TASK, taskSha256 } from '@fedkd/data';
import { MLP_SPEC } from '@fedkd/engine';
import { createEnrolmentToken, generateIdentity, initKeys, signHandshake } from '@fedkd/privacy';
import { federationParser, PROTOCOL_VERSION, type Ack } from '@fedkd/protocol';
import { openDatabase } from '../apps/coordinator/src/persistence/coordinator-database';
import { freePort } from '../apps/cli/src/simulate/process-fleet';
import { startPostgres, type PostgresServer } from '../test/support/postgres-server';
import { startRedis, type RedisServer } from '../test/support/redis-server';

const CLI = join(__dirname, '..', 'apps', 'cli', 'src', 'main.js');
const AIM = 10_000;
const AIM_REPLICAS = 3;
const DATABASE = 'fedkd_bench';

interface Step {
  connections: number;
  /** RSS of each replica, in replica order. */
  replicaRssMb: number[];
  rssSumMb: number;
  /** (sum of the replicas' RSS now - their sum with no client) per 1,000 connections. */
  rssPerThousandMb: number;
  /** Seconds to open this step's connections (connect, challenge, signed hello, accepted). */
  connectSeconds: number;
  /** This step's connections per second. */
  joinsPerSecond: number;
}

interface Replica {
  index: number;
  url: string;
  process: ChildProcess;
  baselineRssMb: number;
}

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got '${process.argv[at + 1]}'`);
  return value;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stderr.write(`${line}\n`);

/** What this run started, stopped by cleanup() (once) on success, error or signal. */
const started = { db: undefined as Awaited<ReturnType<typeof openDatabase>> | undefined, sockets: [] as Socket[], children: [] as ChildProcess[], postgres: undefined as PostgresServer | undefined, redis: undefined as RedisServer | undefined, dir: '' };
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await started.db?.close().catch(() => undefined);
    for (const s of started.sockets) s.disconnect();
    await Promise.all(
      started.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    await started.redis?.stop().catch((error: unknown) => say(`stopping redis-server: ${String(error)}`));
    await started.postgres?.stop().catch((error: unknown) => say(`stopping PostgreSQL: ${String(error)}`));
    if (started.dir) rmSync(started.dir, { recursive: true, force: true });
  })();
  return cleaning;
}

async function waitHealthy(url: string, child: ChildProcess, what: string): Promise<void> {
  for (let tries = 0; ; tries++) {
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok) return;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before answering /health`);
    if (tries > 600) throw new Error(`${what} did not answer /health within 60 s`);
    await sleep(100);
  }
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const total = flag('--connections', AIM);
  const step = Math.min(total, flag('--step', 2_000));
  const replicaCount = flag('--replicas', 1);
  started.dir = mkdtempSync(join(tmpdir(), 'fedkd-bench-connections-'));
  const dir = started.dir;

  // The database: a SQLite file for one coordinator; PostgreSQL (and Redis for the socket.io adapter) for replicas.
  let database = join(dir, 'fedkd.sqlite');
  let redisUrl: string | undefined;
  if (replicaCount > 1) {
    started.postgres = await startPostgres();
    if (cleaning) return void (await started.postgres.stop());
    const admin = new PgClient({ connectionString: started.postgres.url });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await admin.end();
    }
    database = started.postgres.url.replace(/\/postgres$/, `/${DATABASE}`);
    started.redis = await startRedis();
    if (cleaning) return void (await started.redis.stop());
    redisUrl = started.redis.url;
    say(`PostgreSQL at ${database}, Redis at ${redisUrl}`);
  }

  // Enrol every client beforehand, in the database the coordinators will open (as `fedkd enroll` does, without a process per client).
  const enrolStart = Date.now();
  const db = (started.db = await openDatabase(database));
  const clients: { name: string; token: string; identity: ReturnType<typeof generateIdentity> }[] = [];
  // In chunks, yielding between them: Ed25519 key generation in JavaScript takes milliseconds, and a Ctrl-C must get through.
  while (clients.length < total && !cleaning) {
    const chunk = Array.from({ length: Math.min(50, total - clients.length) }, (_, k) => {
      const name = `idle-${clients.length + k}`;
      return { name, ...createEnrolmentToken(name, 24 * 3_600_000, Date.now()), identity: generateIdentity() };
    });
    await Promise.all(chunk.map((c) => db.identities.addToken(c.record)));
    clients.push(...chunk.map(({ name, token, identity }) => ({ name, token, identity })));
  }
  await db.close();
  started.db = undefined;
  say(`enrolled ${total} clients in ${((Date.now() - enrolStart) / 1000).toFixed(1)} s`);

  // One key for every replica (clients pin its public half).
  const keys = initKeys(join(dir, 'keys'), 'coordinator');
  if (!keys.ok) throw new Error(`coordinator key: ${keys.message}`);
  const perReplica = Math.ceil(total / replicaCount);
  const startReplica = async (index: number): Promise<Omit<Replica, 'baselineRssMb'>> => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const args = [CLI, 'coordinator', '--port', String(port), '--db', database, '--key', keys.value.secretKeyPath, '--log-level', 'warn',
      '--max-connections-per-address', String(perReplica + 100), '--max-unauthenticated-connections', '1000', '--hello-timeout-ms', '120000'];
    if (redisUrl) args.push('--redis-url', redisUrl);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    started.children.push(child);
    if (cleaning) child.kill('SIGKILL');
    await waitHealthy(url, child, `coordinator ${index}`);
    return { index, url, process: child };
  };
  // The first replica migrates the database alone; the others then start together.
  const first = await startReplica(0);
  const others = await Promise.all(Array.from({ length: replicaCount - 1 }, (_, i) => startReplica(i + 1)));
  await sleep(1_000);
  const replicas: Replica[] = [first, ...others].map((r) => ({ ...r, baselineRssMb: rssMb(r.process.pid!) }));
  const baselineSum = replicas.reduce((s, r) => s + r.baselineRssMb, 0);
  for (const r of replicas) say(`coordinator ${r.index} (pid ${r.process.pid}) up on ${r.url}: RSS ${r.baselineRssMb.toFixed(0)} MB with no client`);
  const spread = replicaCount > 1 ? `client i connects directly to replica i mod ${replicaCount} (round-robin, no load balancer)` : 'every client connects to the one coordinator';
  say(spread);
  for (const r of replicas) {
    r.process.once('exit', (code, signal) => {
      if (!cleaning) say(`coordinator ${r.index} exited (${code ?? signal}) during the bench`);
    });
  }

  const taskSha = taskSha256(MNIST_TASK);
  const architecture = { ...MLP_SPEC, hidden: [64] };
  const connect = (c: (typeof clients)[number], url: string) =>
    new Promise<Socket>((resolve, reject) => {
      const socket = io(url, { auth: { protocolVersion: PROTOCOL_VERSION, clientName: c.name }, transports: ['websocket'], forceNew: true, reconnection: false, parser: federationParser });
      socket.once('connect_error', reject);
      socket.once('auth.challenge', (challenge: { nonce: Uint8Array }) => {
        const proof = signHandshake({ nonce: new Uint8Array(challenge.nonce), clientName: c.name, protocolVersion: PROTOCOL_VERSION, timestamp: Date.now() }, c.identity.secretKey);
        const hello = { taskSha256: taskSha, architecture, proof: { publicKey: c.identity.publicKey, timestamp: proof.timestamp, signature: proof.signature }, enrolmentToken: c.token };
        socket
          .timeout(60_000)
          .emitWithAck('hello', hello)
          .then((ack: Ack<unknown>) => (ack.ok ? resolve(socket) : reject(new Error(`hello refused by ${url}: ${ack.code} ${ack.message}`))), reject);
      });
    });

  const sockets = started.sockets;
  const steps: Step[] = [];
  const batch = 100;
  while (sockets.length < total) {
    const t0 = Date.now();
    const target = Math.min(total, sockets.length + step);
    const before = sockets.length;
    while (sockets.length < target) {
      const from = sockets.length;
      const next = clients.slice(from, Math.min(target, from + batch));
      sockets.push(...(await Promise.all(next.map((c, k) => connect(c, replicas[(from + k) % replicaCount].url)))));
    }
    const connectSeconds = (Date.now() - t0) / 1_000;
    await sleep(1_000);
    const replicaRssMb = replicas.map((r) => rssMb(r.process.pid!));
    const rssSumMb = replicaRssMb.reduce((s, v) => s + v, 0);
    const row: Step = {
      connections: sockets.length,
      replicaRssMb,
      rssSumMb,
      rssPerThousandMb: ((rssSumMb - baselineSum) * 1_000) / sockets.length,
      connectSeconds,
      joinsPerSecond: (sockets.length - before) / connectSeconds,
    };
    steps.push(row);
    say(
      `${row.connections} connections: RSS ${replicaRssMb.map((v) => v.toFixed(0)).join(' + ')} = ${rssSumMb.toFixed(0)} MB ` +
        `(${row.rssPerThousandMb.toFixed(1)} MB per 1,000), this step joined in ${connectSeconds.toFixed(1)} s (${row.joinsPerSecond.toFixed(1)}/s)`,
    );
  }
  const healthBodies = await Promise.all(
    replicas.map(async (r) => (await (await fetch(`${r.url}/health`)).json()) as { connections?: { open?: number; unauthenticated?: number }; replica?: { id?: string; leading?: boolean } }),
  );
  const health = healthBodies.map((h) => h.connections ?? null);
  // With PostgreSQL one replica leads rounds (none run here: the clients stay idle).
  const leading = healthBodies.map((h) => h.replica?.leading ?? null);
  const result = {
    replicas: replicaCount,
    database: replicaCount > 1 ? 'postgres' : 'sqlite',
    redis: replicaCount > 1,
    spread,
    connections: total,
    aim: { connections: AIM, replicas: AIM_REPLICAS },
    baselineRssMb: replicas.map((r) => r.baselineRssMb),
    healthConnections: health,
    leading,
    steps,
    benchProcessRssMb: process.memoryUsage().rss / 2 ** 20,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const who = replicaCount > 1 ? `${replicaCount} coordinator replicas (PostgreSQL, Redis; ${spread})` : 'one coordinator process (SQLite)';
    console.log(`\nIdle authenticated connections held by ${who} (aim: ${AIM.toLocaleString('en')} across ${AIM_REPLICAS} replicas)\n`);
    const replicaColumns = replicas.map((r) => `replica ${r.index} RSS`);
    console.log(['connections', ...(replicaCount > 1 ? replicaColumns : []), replicaCount > 1 ? 'RSS sum' : 'coordinator RSS', 'RSS per 1,000', 'joins/s', 'step took'].join(' | '));
    console.log(Array.from({ length: (replicaCount > 1 ? replicaCount : 0) + 5 }, () => '---').join('|'));
    for (const s of steps) {
      console.log(
        [
          s.connections.toLocaleString('en'),
          ...(replicaCount > 1 ? s.replicaRssMb.map((v) => `${v.toFixed(0)} MB`) : []),
          `${s.rssSumMb.toFixed(0)} MB`,
          `${s.rssPerThousandMb.toFixed(1)} MB`,
          s.joinsPerSecond.toFixed(1),
          `${s.connectSeconds.toFixed(1)} s`,
        ].join(' | '),
      );
    }
    console.log(`\n(no client: ${replicas.map((r) => r.baselineRssMb.toFixed(0)).join(' + ')} MB; /health reports ${health.map((h) => JSON.stringify(h ?? {})).join(', ')})`);
    if (replicaCount > 1) console.log(`(leading rounds, per /health: ${leading.map((l, i) => `replica ${i} ${l === null ? 'unknown' : l ? 'yes' : 'no'}`).join(', ')})`);
  }
}

// While stopping, a server going away may fail a pending query or socket: that is expected, not a crash.
process.on('uncaughtException', (error) => {
  if (cleaning) return say(`while stopping: ${error.message}`);
  say(`bench:connections: ${error.stack ?? error.message}`);
  void cleanup().finally(() => process.exit(1));
});

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    say(`bench:connections: ${signal}, stopping every process it started`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

main()
  .then(() => cleanup())
  .then(
    () => process.exit(0),
    (error: unknown) => {
      if (!cleaning) process.stderr.write(`bench:connections: ${error instanceof Error ? error.message : String(error)}\n`);
      void cleanup().finally(() => process.exit(1));
    },
  );
