import { beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { federationParser } from '@fedkd/protocol';
import type { FederationEvent } from '../apps/coordinator/src/events/federation-events';
import { COORDINATOR_DEFAULTS } from '../apps/coordinator/src/config/coordinator-config';
import { startCoordinator } from '../apps/coordinator/src/start-coordinator';
import { postJson, startTestClient, startTestCoordinator, testWorkspace, until, type TestCoordinator } from './support/federation-harness';
import { startRedis, type RedisServer } from './support/redis-server';

describe("replicas' broadcasts over a real Redis (socket.io Redis Streams adapter)", () => {
  const workspace = testWorkspace('fedkd-redis-');
  let redis: RedisServer;
  let leader: TestCoordinator;
  let follower: TestCoordinator;

  beforeAll(async () => {
    redis = await startRedis();
    workspace.defer(() => redis.stop());
    leader = await startTestCoordinator({ databasePath: `${workspace.dir}/a/fedkd.sqlite`, redisUrl: redis.url, publicRead: true, minClients: 2, studentEpochs: 2 });
    workspace.defer(() => leader.stop());
    follower = await startTestCoordinator({ databasePath: `${workspace.dir}/b/fedkd.sqlite`, redisUrl: redis.url, publicRead: true });
    workspace.defer(() => follower.stop());
  }, 60_000);

  it("a dashboard connected to another replica sees the round's events as they happen", async () => {
    const dashboard = io(`${follower.url}/dashboard`, { transports: ['websocket'], forceNew: true, reconnection: false, parser: federationParser });
    workspace.defer(() => void dashboard.disconnect());
    const seen: FederationEvent[] = [];
    dashboard.on('event', (event: FederationEvent) => seen.push(event));
    await new Promise<void>((resolve, reject) => {
      dashboard.once('snapshot', () => resolve());
      dashboard.once('connect_error', reject);
    });
    for (let i = 0; i < 2; i++) {
      const client = startTestClient(leader, i, { epochs: 1 });
      workspace.defer(() => client.client.stop());
    }
    await until(() => seen.filter((e) => e.type === 'client.connected').length === 2, 60_000, "the leader's clients joining, seen from the other replica");
    const summary = await postJson<{ round: number; state: string; testAccuracy: number }>(`${leader.url}/rounds`);
    expect(summary.state).toBe('published');
    const ended = await until(() => seen.find((e) => e.type === 'round.ended' && e.round === summary.round), 20_000, "the round's end on the other replica");
    expect(ended).toMatchObject({ state: 'published', testAccuracy: summary.testAccuracy });
    expect(seen.filter((e) => e.type === 'round.phase' && e.round === summary.round).map((e) => (e as { phase: string }).phase)).toEqual(['open', 'collecting', 'aggregating', 'training', 'published']);
  });

  it('refuses to start when Redis cannot be reached, naming the server without its password', async () => {
    const config = { ...COORDINATOR_DEFAULTS, port: 0, databasePath: `${workspace.dir}/c/fedkd.sqlite`, keyPath: `${workspace.dir}/a/keys/coordinator.key`, redisUrl: 'redis://ops:s3cret@127.0.0.1:1' };
    const started = startCoordinator(config, { logger: false });
    await expect(started).rejects.toThrow(/^--redis-url: cannot reach Redis at redis:\/\/ops:\*\*\*@127\.0\.0\.1:1/);
    await expect(started).rejects.not.toThrow(/s3cret/);
  });
});
