import { afterAll, describe, expect, it } from 'vitest';
import { splitEmbedded, createPartitioner, subset, type Dataset } from '@fedkd/data';
import { postJson, startTestClient, startTestCoordinator, tempDir, until } from './support/federation-harness';

/**
 * Privacy invariant: nothing derived from private data but the soft predictions leaves a client.
 * One client's private images carry a marker; every byte the coordinator's transport receives is
 * searched for it, for the raw bytes of private images, and for the private label sequence.
 */
const CANARY = Float32Array.from({ length: 64 }, (_, i) => 0.25 + i / 1024 + 1 / 3_000_007);

function privateDataWithCanary(): Dataset {
  const pool = splitEmbedded(0).privatePool.dataset;
  const mine = subset(pool, createPartitioner({ name: 'iid' }).partition(pool.labels, 3, 0).clients[0]);
  for (let row = 0; row < 50; row++) mine.values.set(CANARY, row * 784 + 300);
  return mine;
}

function bytesOf(values: Float32Array | Uint8Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

describe('privacy canary', () => {
  const dir = tempDir('fedkd-canary-');
  let stop: () => Promise<void> = async () => undefined;

  afterAll(async () => {
    await stop();
    dir.remove();
  });

  it.each([
    ['the default rule', undefined],
    ['the selective rule (coverage weights sent too)', 'selective' as const],
  ])('with %s, no byte any client sends contains the canary, a private input or the private labels', async (_, rule) => {
    await stop();
    const coordinator = await startTestCoordinator({
      databasePath: `${dir.path}/${rule ?? 'default'}.sqlite`,
      minClients: 3,
      encoding: 'float32',
      ...(rule ? { aggregation: { name: rule } } : {}),
    });
    const data = privateDataWithCanary();
    const clients = [
      startTestClient(coordinator, 0, { loadPrivateData: () => data, shareSampleCount: true }),
      startTestClient(coordinator, 1),
      startTestClient(coordinator, 2),
    ];
    stop = async () => {
      clients.forEach((c) => c.client.stop());
      await coordinator.stop();
    };
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients');
    const summary = await postJson<{ state: string }>(`${coordinator.url}/rounds`);
    expect(summary.state).toBe('published');

    const wire = Buffer.concat(coordinator.received.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
    // The capture really holds the client's uploads (float32 predictions: 3 x 500 x 10 x 4 bytes at least, + 3 x 500 x 2 of coverage).
    expect(wire.byteLength).toBeGreaterThan(3 * 500 * 10 * 4 + (rule ? 3 * 500 * 2 : 0));
    expect(coordinator.received.some((p) => typeof p === 'string' && p.includes('"coverage"'))).toBe(rule === 'selective');

    expect(wire.indexOf(bytesOf(CANARY.subarray(0, 8)))).toBe(-1);
    expect(wire.indexOf(bytesOf(CANARY.subarray(30, 38)))).toBe(-1);
    const text = wire.toString('latin1');
    expect(text).not.toContain(CANARY[0].toString().slice(0, 10));
    // Any 32 consecutive bytes of a private image (from its non-blank middle) never appear.
    for (const row of [0, 1, 7, 100, 999]) {
      const middle = data.values.subarray(row * 784 + 392, row * 784 + 400);
      expect(wire.indexOf(bytesOf(middle))).toBe(-1);
    }
    // Nor the sequence of private labels, raw or as JSON.
    expect(wire.indexOf(Buffer.from(data.labels.subarray(0, 24)))).toBe(-1);
    expect(text).not.toContain(JSON.stringify(Array.from(data.labels.subarray(0, 12))).slice(1, -1));
    // The only number about the private data that is sent is the opted-in sample count.
    expect(text).toContain(`"sampleCount":${data.count}`);
  });
});
