import { describe, expect, it, beforeAll } from 'vitest';
import { FederationEvents, type FederationEvent } from '../apps/coordinator/src/events/federation-events';
import { connectRawClient, postJson, startTestClient, startTestCoordinator, testWorkspace, until, type TestCoordinator } from './support/federation-harness';

describe('the coordinator event bus during a real round', () => {
  const workspace = testWorkspace('fedkd-events-');
  let coordinator: TestCoordinator;
  const seen: FederationEvent[] = [];

  beforeAll(async () => {
    coordinator = await startTestCoordinator({ databasePath: `${workspace.dir}/fedkd.sqlite`, minClients: 2, studentEpochs: 2 });
    workspace.defer(() => coordinator.stop());
    coordinator.app.get(FederationEvents).subscribe((e) => seen.push(e));
    for (let i = 0; i < 2; i++) {
      const client = startTestClient(coordinator, i, { epochs: 1 });
      workspace.defer(() => client.client.stop());
    }
    await until(() => seen.filter((e) => e.type === 'client.connected').length === 2, 60_000, 'two clients to connect');
  });

  it('tells each phase of a published round in order, its answers and its end with accuracy and bytes', async () => {
    const summary = await postJson<{ round: number; state: string; testAccuracy: number }>(`${coordinator.url}/rounds`);
    expect(summary.state).toBe('published');
    const ofRound = seen.filter((e) => 'round' in e && e.round === summary.round);
    expect(ofRound.filter((e) => e.type === 'round.phase').map((e) => (e as { phase: string }).phase)).toEqual(['open', 'collecting', 'aggregating', 'training', 'published']);
    const answers = ofRound.find((e) => e.type === 'round.answers');
    expect(answers).toMatchObject({ invited: 2 });
    expect(answers!.type === 'round.answers' && answers!.outcomes.every((o) => o.status === 'answered' && o.bytesUploaded > 0)).toBe(true);
    const ended = ofRound.find((e) => e.type === 'round.ended');
    expect(ended).toMatchObject({ state: 'published', testAccuracy: summary.testAccuracy, modelVersion: expect.any(Number) });
    expect(ended!.type === 'round.ended' && ended!.bytesUp > 0 && ended!.bytesDown > 0 && ended!.timings.trainMs >= 0).toBe(true);
    expect(ofRound.map((e) => e.type).indexOf('round.ended')).toBe(ofRound.length - 1);
  });

  it('tells a refused message with its code, and a client that leaves', async () => {
    const raw = await connectRawClient(coordinator, 'client-raw');
    await until(() => seen.some((e) => e.type === 'client.connected' && e.name === 'client-raw'), 10_000, 'the raw client to join');
    const ack = (await raw.socket.timeout(5_000).emitWithAck('round.predictions', { round: 999 })) as { ok: boolean; code: string };
    expect(ack.ok).toBe(false);
    const refused = await until(() => seen.find((e) => e.type === 'message.refused' && e.clientName === 'client-raw'), 10_000, 'the refusal event');
    expect(refused).toMatchObject({ event: 'round.predictions', code: ack.code, clientId: raw.clientId });
    raw.socket.disconnect();
    const left = await until(() => seen.find((e) => e.type === 'client.disconnected' && e.name === 'client-raw'), 10_000, 'the disconnection event');
    expect(left).toMatchObject({ clientId: raw.clientId, connected: 2 });
  });
});
