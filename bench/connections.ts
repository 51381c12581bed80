/**
 * `npm run bench:connections [-- --connections 10000] [-- --step 2000] [-- --json]`: how many idle,
 * authenticated client connections one coordinator process holds, and its resident memory per
 * thousand. The clients here only connect, sign the handshake (enrolled first, as `fedkd enroll`
 * would) and hold the socket: no teacher, no rounds. The coordinator is a real `fedkd coordinator`
 * process (its RSS measured apart from the clients'), on loopback. Numbers, not assertions; the
 * aim (issue 17: 10,000 across three replicas) is printed beside them. With --json, stdout gets
 * exactly one JSON object and the progress goes to stderr.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { MNIST_TASK, taskSha256 } from '@fedkd/data';
import { MLP_SPEC } from '@fedkd/engine';
import { createEnrolmentToken, generateIdentity, signHandshake } from '@fedkd/privacy';
import { federationParser, PROTOCOL_VERSION, type Ack } from '@fedkd/protocol';
import { openDatabase } from '../apps/coordinator/src/persistence/coordinator-database';
import { freePort } from '../apps/cli/src/simulate/process-fleet';

const CLI = join(__dirname, '..', 'apps', 'cli', 'src', 'main.js');
const AIM = 10_000;

interface Step {
  connections: number;
  coordinatorRssMb: number;
  /** (RSS now - RSS with no client) per 1,000 connections. */
  rssPerThousandMb: number;
  /** Seconds to open this step's connections (connect, challenge, signed hello, accepted). */
  connectSeconds: number;
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

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const total = flag('--connections', AIM);
  const step = Math.min(total, flag('--step', 2_000));
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'fedkd-bench-connections-'));
  const sockets: Socket[] = [];
  let coordinator: ReturnType<typeof spawn> | null = null;
  try {
    // Enrol every client beforehand, in the database the coordinator will open (as `fedkd enroll` does, without a process per client).
    const dbPath = join(dir, 'fedkd.sqlite');
    const db = await openDatabase(dbPath);
    const clients: { name: string; token: string; identity: ReturnType<typeof generateIdentity> }[] = [];
    for (let i = 0; i < total; i++) {
      const name = `idle-${i}`;
      const { token, record } = createEnrolmentToken(name, 24 * 3_600_000, Date.now());
      await db.identities.addToken(record);
      clients.push({ name, token, identity: generateIdentity() });
    }
    await db.close();
    say(`enrolled ${total} clients`);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    coordinator = spawn(
      process.execPath,
      [CLI, 'coordinator', '--port', String(port), '--db', dbPath, '--key', join(dir, 'coordinator.key'), '--create-key', '--log-level', 'warn',
        '--max-connections-per-address', String(total + 100), '--max-unauthenticated-connections', '1000', '--hello-timeout-ms', '120000'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const pid = coordinator.pid!;
    for (let tries = 0; ; tries++) {
      const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      if (tries > 600 || coordinator.exitCode !== null) throw new Error('the coordinator did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1_000));
    const baseline = rssMb(pid);
    say(`coordinator ${pid} up on ${url}: RSS ${baseline.toFixed(0)} MB with no client`);

    const taskSha = taskSha256(MNIST_TASK);
    const architecture = { ...MLP_SPEC, hidden: [64] };
    const connect = (c: (typeof clients)[number]) =>
      new Promise<Socket>((resolve, reject) => {
        const socket = io(url, { auth: { protocolVersion: PROTOCOL_VERSION, clientName: c.name }, transports: ['websocket'], forceNew: true, reconnection: false, parser: federationParser });
        socket.once('connect_error', reject);
        socket.once('auth.challenge', (challenge: { nonce: Uint8Array }) => {
          const proof = signHandshake({ nonce: new Uint8Array(challenge.nonce), clientName: c.name, protocolVersion: PROTOCOL_VERSION, timestamp: Date.now() }, c.identity.secretKey);
          const hello = { taskSha256: taskSha, architecture, proof: { publicKey: c.identity.publicKey, timestamp: proof.timestamp, signature: proof.signature }, enrolmentToken: c.token };
          socket
            .timeout(60_000)
            .emitWithAck('hello', hello)
            .then((ack: Ack<unknown>) => (ack.ok ? resolve(socket) : reject(new Error(`hello refused: ${ack.code} ${ack.message}`))), reject);
        });
      });

    const steps: Step[] = [];
    const batch = 100;
    while (sockets.length < total) {
      const started = Date.now();
      const target = Math.min(total, sockets.length + step);
      while (sockets.length < target) {
        const next = clients.slice(sockets.length, Math.min(target, sockets.length + batch));
        sockets.push(...(await Promise.all(next.map(connect))));
      }
      await new Promise((r) => setTimeout(r, 1_000));
      const rss = rssMb(pid);
      const row = { connections: sockets.length, coordinatorRssMb: rss, rssPerThousandMb: ((rss - baseline) * 1_000) / sockets.length, connectSeconds: (Date.now() - started) / 1_000 };
      steps.push(row);
      say(`${row.connections} connections: coordinator RSS ${rss.toFixed(0)} MB (${row.rssPerThousandMb.toFixed(1)} MB per 1,000), this step connected in ${row.connectSeconds.toFixed(1)} s`);
    }
    const health = (await (await fetch(`${url}/health`)).json()) as { connections?: { open?: number; unauthenticated?: number } };
    const result = {
      connections: total,
      aim: AIM,
      coordinatorBaselineRssMb: baseline,
      coordinatorHealthConnections: health.connections ?? null,
      steps,
      benchProcessRssMb: process.memoryUsage().rss / 2 ** 20,
    };
    if (json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      console.log(`\nIdle authenticated connections held by one coordinator process (aim: ${AIM.toLocaleString('en')} across three replicas)\n`);
      console.log('connections | coordinator RSS | RSS per 1,000 | connect time of the step');
      console.log('---|---|---|---');
      for (const s of steps) console.log(`${s.connections.toLocaleString('en')} | ${s.coordinatorRssMb.toFixed(0)} MB | ${s.rssPerThousandMb.toFixed(1)} MB | ${s.connectSeconds.toFixed(1)} s`);
      console.log(`\n(no client: ${baseline.toFixed(0)} MB; /health reports ${JSON.stringify(health.connections ?? {})})`);
    }
  } finally {
    for (const s of sockets) s.disconnect();
    coordinator?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:connections: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
