import { afterAll, describe, expect, it } from 'vitest';
import { connectRawClient, getJson, postJson, untilAsync, startTestClient, startTestCoordinator, tempDir, until, type TestClient, type TestCoordinator } from './support/federation-harness';

interface RoundDetail {
  state: string;
  reason: string | null;
  participants: { clientId: string; status: string; reason: string | null }[];
}

describe('round deadline and minimum clients', () => {
  const dir = tempDir('fedkd-deadline-');
  const clients: TestClient[] = [];
  let coordinator: TestCoordinator | undefined;

  afterAll(async () => {
    clients.forEach((c) => c.client.stop());
    await coordinator?.stop();
    dir.remove();
  });

  it('drops a silent client at the deadline, goes on with those who answered, and keeps serving while the student trains', async () => {
    coordinator = await startTestCoordinator({ databasePath: `${dir.path}/fedkd.sqlite`, roundDeadlineMs: 4_000, studentEpochs: 60 });
    for (let i = 0; i < 2; i++) clients.push(startTestClient(coordinator, i));
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients');
    const silent = await connectRawClient(coordinator, 'silent');

    const started = Date.now();
    const done = postJson<{ state: string; round: number }>(`${coordinator.url}/rounds`);
    await until(() => silent.rounds.length > 0, 10_000, 'round.open');
    const round = silent.rounds[0].round;
    // While the student trains in its worker thread, a new client is admitted at once.
    await untilAsync(async () => (await getJson<RoundDetail>(`${coordinator!.url}/rounds/${round}`)).state === 'training', 20_000);
    const helloStarted = Date.now();
    const late = await connectRawClient(coordinator, 'late-joiner');
    expect(Date.now() - helloStarted).toBeLessThan(1_000);
    expect((await getJson<RoundDetail>(`${coordinator.url}/rounds/${round}`)).state).toBe('training');

    const summary = await done;
    expect(summary.state).toBe('published');
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
    const detail = await getJson<RoundDetail>(`${coordinator.url}/rounds/${round}`);
    expect(detail.participants.find((p) => p.clientId === silent.clientId)).toMatchObject({ status: 'dropped', reason: 'no answer before the deadline' });
    expect(detail.participants.filter((p) => p.status === 'answered')).toHaveLength(2);
    silent.socket.disconnect();
    late.socket.disconnect();
  });

  it('refuses to start a round, storing nothing, when fewer than the minimum are connected', async () => {
    clients.forEach((c) => c.client.stop());
    await untilAsync(async () => (await getJson<{ connected: boolean }[]>(`${coordinator!.url}/clients`)).every((c) => !c.connected), 10_000);
    const lone = await connectRawClient(coordinator!, 'lone');
    const roundsBefore = await getJson<unknown[]>(`${coordinator!.url}/rounds`);
    const response = await fetch(`${coordinator!.url}/rounds`, { method: 'POST', headers: coordinator!.authHeaders });
    expect(response.status).toBe(409);
    expect(await response.json()).toEqual({ code: 'CANNOT_START', message: 'only 1 of the 2 required clients are connected' });
    expect(await getJson<unknown[]>(`${coordinator!.url}/rounds`)).toEqual(roundsBefore);
    lone.socket.disconnect();
  });
});
