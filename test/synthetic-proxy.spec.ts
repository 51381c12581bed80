import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSyntheticImages } from '@fedkd/data';
import { getJson, postJson, startTestClient, startTestCoordinator, testWorkspace, until } from './support/federation-harness';

describe('data-free rounds (synthetic proxy)', () => {
  const workspace = testWorkspace('fedkd-synthetic-');

  it('distils from soft predictions on inputs every client regenerates from a seed; no input crosses the wire', async () => {
    const coordinator = await startTestCoordinator({ databasePath: join(workspace.dir, 'fedkd.sqlite'), minClients: 3, proxy: 'synthetic', generator: 'strokes', proxySize: 1000, encoding: 'float32' });
    const clients = [0, 1, 2].map((i) => startTestClient(coordinator, i));
    workspace.defer(async () => {
      clients.forEach((c) => c.client.stop());
      await coordinator.stop();
    });
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients');
    const summary = await postJson<{ state: string; round: number; testAccuracy: number }>(`${coordinator.url}/rounds`);
    expect(summary.state).toBe('published');
    expect(summary.testAccuracy).toBeGreaterThan(0.3);

    const round = await getJson<{ config: { proxy: { kind: string; generator: string; seed: number; size: number } } }>(`${coordinator.url}/rounds/${summary.round}`);
    expect(round.config.proxy).toMatchObject({ kind: 'synthetic', generator: 'strokes', size: 1000 });
    const inputs = generateSyntheticImages('strokes', round.config.proxy.seed, 1000).images;
    const wire = Buffer.concat(coordinator.received.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
    // Uploads are 1000 x 10 float32 predictions per client, and nothing of the inputs themselves.
    expect(wire.byteLength).toBeGreaterThan(3 * 40_000);
    for (const row of [0, 1, 500, 999]) {
      const inked = inputs.subarray(row * 784, (row + 1) * 784);
      const start = inked.findIndex((v) => v > 0.3);
      expect(wire.indexOf(Buffer.from(inked.slice(start, start + 6).buffer))).toBe(-1);
    }
  });
});
