import { afterAll, describe, expect, it } from 'vitest';
import { getJson, postJson, startTestClient, startTestCoordinator, tempDir, until, type TestClient } from './support/federation-harness';
import { freePort } from '../apps/cli/src/simulate/process-fleet';

describe('coordinator restart', () => {
  const dir = tempDir('fedkd-restart-');
  const clients: TestClient[] = [];
  let stop: () => Promise<void> = async () => undefined;

  afterAll(async () => {
    clients.forEach((c) => c.client.stop());
    await stop();
    dir.remove();
  });

  it('keeps rounds and models on the same database, numbers the next round after the last, and clients rejoin', async () => {
    const port = await freePort();
    const databasePath = `${dir.path}/fedkd.sqlite`;
    const first = await startTestCoordinator({ databasePath, port });
    stop = () => first.stop();
    for (let i = 0; i < 2; i++) clients.push(startTestClient(first, i, { clients: 2 }));
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients');
    const round1 = await postJson<{ state: string; round: number; modelVersion: number }>(`${first.url}/rounds`);
    expect(round1).toMatchObject({ state: 'published', round: 1, modelVersion: 1 });
    await first.stop();
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'disconnected')), 10_000, 'clients to notice');

    const second = await startTestCoordinator({ databasePath, port });
    stop = () => second.stop();
    expect(await getJson<{ number: number; state: string }[]>(`${second.url}/rounds`)).toMatchObject([{ number: 1, state: 'published' }]);
    await until(() => clients.every((c) => c.events.filter((e) => e.event === 'connected').length >= 2), 30_000, 'clients to rejoin');
    const round2 = await postJson<{ state: string; round: number; modelVersion: number }>(`${second.url}/rounds`);
    expect(round2).toMatchObject({ state: 'published', round: 2, modelVersion: 2 });
    const clientsSeen = await getJson<{ name: string; connected: boolean }[]>(`${second.url}/clients`);
    expect(clientsSeen.filter((c) => c.connected).map((c) => c.name).sort()).toEqual(['client-0', 'client-1']);
  });
});
