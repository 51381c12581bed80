import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnrolmentToken, initKeys, readPublicKey } from '@fedkd/privacy';
import { freePort } from '../apps/cli/src/simulate/process-fleet';
import { openDatabase, type CoordinatorDatabase } from '../apps/coordinator/src/persistence/coordinator-database';
import { createTestPostgresDatabase } from '../apps/coordinator/src/persistence/persistence.testing';
import { INTERRUPTED_ROUND_REASON } from '../apps/coordinator/src/persistence/rounds.repository';
import { createApiToken } from '../apps/coordinator/src/auth/api-tokens';
import { postJson, startTestClient, testWorkspace, until, untilAsync, type TestClient } from './support/federation-harness';
import { startRedis } from './support/redis-server';

const CLI = join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
const LEASE_MS = 1_500;
/** Rounds each leader runs once it leads (--rounds). */
const ROUNDS_PER_LEADER = 2;

interface Replica {
  port: number;
  url: string;
  process: ChildProcess;
  log: string[];
}

interface Health {
  replica?: { id: string; leading: boolean };
}

/**
 * Three `fedkd coordinator` processes on one PostgreSQL database and one Redis, clients spread
 * across them, and the leader killed with SIGKILL in the middle of a round.
 */
describe('coordinator replicas on PostgreSQL and Redis', () => {
  const workspace = testWorkspace('fedkd-replicas-');
  const replicas: Replica[] = [];
  const clients: TestClient[] = [];
  let databaseUrl: string;
  let redisUrl: string;
  let keyPath: string;
  let db: CoordinatorDatabase;

  const start = (port: number): Replica => {
    const log: string[] = [];
    const child = spawn(
      process.execPath,
      [
        CLI, 'coordinator', '--host', '127.0.0.1', '--port', String(port), '--db', databaseUrl, '--redis-url', redisUrl, '--key', keyPath,
        '--leader-lease-ms', String(LEASE_MS), '--rounds', String(ROUNDS_PER_LEADER), '--min-clients', '2', '--proxy-size', '200',
        '--student-epochs', '2', '--local-epochs', '1', '--digest-epochs', '1', '--round-deadline-ms', '60000', '--seed', '0', '--public-read', '--log-level', 'info',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer) => log.push(chunk.toString());
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return { port, url: `http://127.0.0.1:${port}`, process: child, log };
  };
  const health = async (replica: Replica): Promise<Health | null> => {
    const response = await fetch(`${replica.url}/health`).catch(() => null);
    return response?.ok ? ((await response.json()) as Health) : null;
  };
  const leaders = async (): Promise<Replica[]> => {
    const found: Replica[] = [];
    for (const r of replicas) if ((await health(r))?.replica?.leading) found.push(r);
    return found;
  };
  const publishedVersions = async () => (await db.models.list()).map((m) => m.version).sort((a, b) => a - b);

  beforeAll(async () => {
    databaseUrl = await createTestPostgresDatabase();
    const redis = await startRedis();
    workspace.defer(() => redis.stop());
    redisUrl = redis.url;
    const keys = initKeys(join(workspace.dir, 'keys'), 'coordinator');
    if (!keys.ok) throw new Error(keys.message);
    keyPath = join(workspace.dir, 'keys', 'coordinator.key');
    const publicKey = readPublicKey(join(workspace.dir, 'keys', 'coordinator.pub'));
    if (!publicKey.ok) throw new Error(publicKey.message);
    // The first replica creates the schema; the others find it.
    replicas.push(start(await freePort()));
    await untilAsync(async () => (await health(replicas[0])) !== null, 60_000, 100);
    replicas.push(start(await freePort()), start(await freePort()));
    await untilAsync(async () => (await Promise.all(replicas.map(health))).every((h) => h !== null), 60_000, 100);
    db = await openDatabase(databaseUrl);
    workspace.defer(() => db.close());
    const enrolmentToken = async (name: string) => {
      const { token, record } = createEnrolmentToken(name, 3_600_000, Date.now());
      await db.identities.addToken(record);
      return token;
    };
    // Client i connects to replica i: each replica has clients, and the leader's relay reaches them all.
    for (let i = 0; i < 3; i++) {
      const client = startTestClient({ url: replicas[i].url, publicKey: publicKey.value, enrolmentToken }, i, { epochs: 1, reconnectDelayMs: 100, reconnectDelayMaxMs: 300 });
      clients.push(client);
      workspace.defer(() => client.client.stop());
    }
  }, 120_000);

  afterAll(() => {
    for (const r of replicas) r.process.kill('SIGKILL');
  });

  it('keeps publishing across a SIGKILL of the leader: the interrupted round fails, a new leader takes over within the lease, every client ends on one model', async () => {
    try {
      // One leader; rounds publish (a round opens once two clients are connected, wherever they are).
      await untilAsync(async () => (await publishedVersions()).length >= 1, 120_000, 100);
      const [leader, ...others] = await leaders();
      expect(others).toEqual([]);

      // Kill the leader in the middle of a round.
      let interrupted = 0;
      await untilAsync(async () => {
        const running = (await db.rounds.list({ limit: 1, offset: 0 }))[0];
        if (running && ['collecting', 'aggregating', 'training'].includes(running.state) && running.number >= 2) interrupted = running.number;
        return interrupted > 0;
      }, 120_000, 20);
      const versionsBefore = await publishedVersions();
      leader.process.kill('SIGKILL');
      const killedAt = Date.now();
      const rest = replicas.filter((r) => r !== leader);
      await untilAsync(async () => (await Promise.all(rest.map(health))).some((h) => h?.replica?.leading), 30_000, 25);
      const takeoverMs = Date.now() - killedAt;
      process.stdout.write(`replicas-failover: a new leader ${takeoverMs} ms after the SIGKILL (lease ${LEASE_MS} ms, renewed every ${LEASE_MS / 3} ms)\n`);
      // The lease runs out at most LEASE_MS after its last renewal; another replica tries every third of it.
      expect(takeoverMs).toBeLessThan(LEASE_MS + LEASE_MS / 3 + 2_000);

      // The interrupted round is failed with a reason; the new leader's next round publishes.
      await untilAsync(async () => (await db.rounds.get(interrupted))?.state === 'failed', 30_000, 50);
      expect((await db.rounds.get(interrupted))?.reason).toBe(INTERRUPTED_ROUND_REASON);
      await untilAsync(async () => (await publishedVersions()).length > versionsBefore.length, 120_000, 100);

      // The killed replica, restarted on its port, rejoins as a follower; its client reconnects to it.
      const restarted = start(leader.port);
      replicas[replicas.indexOf(leader)] = restarted;
      await untilAsync(async () => (await health(restarted)) !== null, 60_000, 100);
      expect((await health(restarted))?.replica?.leading).toBe(false);
      const itsClient = clients[replicas.indexOf(restarted)];
      await until(() => itsClient.events.filter((e) => e.event === 'connected').length >= 2, 60_000, 'the client of the killed replica to reconnect');

      // The new leader runs its rounds to the end; every client ends on the last model.
      await untilAsync(async () => (await publishedVersions()).length >= versionsBefore.length + ROUNDS_PER_LEADER, 240_000, 200);
      await untilAsync(async () => (await db.rounds.list({ limit: 1, offset: 0 }))[0]?.state === 'published', 60_000, 100);
      // A round asked of a follower (POST /rounds behind a load balancer) runs on the leader.
      const admin = (await createApiToken(db, 'replicas-test', 'admin')).token;
      const asked = await postJson<{ round: number; state: string; modelVersion: number }>(`${restarted.url}/rounds`, admin);
      expect(asked).toMatchObject({ state: 'published', modelVersion: (await publishedVersions()).length });
      // Its three clients, one on each replica, all answered it: the followers relayed two of them to the leader.
      expect((await db.rounds.get(asked.round))?.participants.filter((p) => p.status === 'answered')).toHaveLength(3);
      const versions = await publishedVersions();
      const last = (await db.models.latest())!;
      expect(new Set(versions).size).toBe(versions.length);
      expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
      await until(
        () => clients.every((c) => c.events.some((e) => e.event === 'model' && e.ok && e.version === last.version)),
        60_000,
        'every client to hold the last model',
      );
      for (const c of clients) {
        const held = c.events.filter((e) => e.event === 'model' && e.ok).at(-1) as { version: number; sha256?: string };
        expect(held).toMatchObject({ version: last.version, sha256: last.sha256 });
      }
      expect((await leaders()).length).toBe(1);
    } catch (error) {
      for (const r of replicas) process.stderr.write(`--- replica on port ${r.port}:\n${r.log.join('').slice(-6_000)}\n`);
      throw error;
    }
  }, 400_000);
});
