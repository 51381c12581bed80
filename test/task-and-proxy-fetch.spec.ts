import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, MNIST_TASK, taskSha256, type Task } from '@fedkd/data';
import { generateIdentity } from '@fedkd/privacy';
import { zooModelSpec } from '@fedkd/engine';
import { type Ack, type HelloAccepted, type ProxyChunk } from '@fedkd/protocol';
import { connectRawClient, connectUnauthenticated, helloFor, startTestClient, startTestCoordinator, testWorkspace, until } from './support/federation-harness';

/**
 * Every party loads the same task: the coordinator announces its digest in the challenge and
 * refuses a hello of another task; a client of another task stops before saying hello. The
 * coordinator serves its own public inputs (`--proxy-data`) to registered clients only.
 */
describe('the task at the handshake, and proxy.fetch', () => {
  const workspace = testWorkspace('fedkd-task-');
  const dir = workspace.dir;
  // A small public set the coordinator serves: 300 digits of random pixels, 28x28x1, as NPY.
  mkdirSync(join(dir, 'proxy'));
  const pixels = Uint8Array.from({ length: 300 * 784 }, (_, i) => (i * 7919) % 256);
  writeFileSync(join(dir, 'proxy', 'inputs.npy'), encodeNpy(pixels, [300, 28, 28, 1], '|u1'));

  async function coordinator() {
    const running = await startTestCoordinator({ databasePath: join(dir, 'fedkd.sqlite'), proxyData: `npy:${join(dir, 'proxy')}`, proxySize: 300 });
    workspace.defer(() => running.stop());
    return running;
  }

  it('announces the task digest in the challenge and refuses a hello of another task, naming both digests', async () => {
    const running = await coordinator();
    const identity = generateIdentity();
    const { socket, nonce } = await connectUnauthenticated(running.url, 'alice');
    workspace.defer(() => void socket.disconnect());
    const other = 'e'.repeat(64);
    const reply = (await socket.timeout(5_000).emitWithAck('hello', { ...helloFor('alice', identity, nonce, await running.enrolmentToken('alice')), taskSha256: other })) as Ack<HelloAccepted>;
    expect(reply).toMatchObject({ ok: false, code: 'TASK_MISMATCH' });
    expect(!reply.ok && reply.message).toContain(taskSha256(MNIST_TASK));
    expect(!reply.ok && reply.message).toContain(other);
  });

  it('a client configured with another task stops before its hello and says why, with both digests', async () => {
    const running = await coordinator();
    const cats: Task = { name: 'cats', input: { shape: [28, 28, 1], scaling: { type: 'divide', by: 255 } }, classes: ['cat', 'not-cat'] };
    const mine = { values: new Float32Array(20 * 784).fill(0.5), labels: Uint8Array.from({ length: 20 }, (_, i) => i % 2), count: 20, inputShape: [28, 28, 1], classes: 2 };
    const client = startTestClient(running, 7, { task: cats, epochs: 1, loadPrivateData: () => mine, model: zooModelSpec('mlp', [28, 28, 1], 2) });
    workspace.defer(() => client.client.stop());
    const refused = await client.waitFor((e) => e.event === 'refused', 60_000);
    expect(refused).toMatchObject({ code: 'TASK_MISMATCH' });
    expect(refused.event === 'refused' && refused.message).toContain(taskSha256(MNIST_TASK));
    expect(refused.event === 'refused' && refused.message).toContain(taskSha256(cats));
    expect(client.events.some((e) => e.event === 'connected')).toBe(false);
  });

  it('serves its public set in chunks to registered clients, and refuses other requests with a reason', async () => {
    const running = await coordinator();
    const ref = running.federation.publicSet!.ref;
    expect(ref).toMatchObject({ source: 'coordinator', count: 300, inputShape: [28, 28, 1] });
    if (ref.source !== 'coordinator') throw new Error('expected a coordinator set');

    const stranger = await connectUnauthenticated(running.url, 'stranger');
    workspace.defer(() => void stranger.socket.disconnect());
    expect(await stranger.socket.timeout(5_000).emitWithAck('proxy.fetch', { sha256: ref.sha256, start: 0, count: 1 })).toMatchObject({ ok: false, code: 'NOT_REGISTERED' });

    const raw = await connectRawClient(running, 'bob');
    workspace.defer(() => void raw.socket.disconnect());
    const fetchRows = (request: unknown) => raw.socket.timeout(5_000).emitWithAck('proxy.fetch', request) as Promise<Ack<ProxyChunk>>;
    const chunk = await fetchRows({ sha256: ref.sha256, start: 10, count: 2 });
    expect(chunk.ok).toBe(true);
    const values = chunk.ok ? new Float32Array(new Uint8Array(chunk.value.data).buffer) : new Float32Array();
    // Rows 10 and 11, scaled by the task (pixel / 255).
    expect(values.length).toBe(2 * 784);
    expect(values[0]).toBeCloseTo(pixels[10 * 784] / 255, 6);
    expect(values[2 * 784 - 1]).toBeCloseTo(pixels[12 * 784 - 1] / 255, 6);

    expect(await fetchRows({ sha256: 'f'.repeat(64), start: 0, count: 1 })).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    const outside = await fetchRows({ sha256: ref.sha256, start: 299, count: 2 });
    expect(outside).toMatchObject({ ok: false, code: 'BAD_SHAPE' });
    expect(!outside.ok && outside.message).toContain('rows [299, 301) are outside the set\'s 300 rows');
    expect(await fetchRows({ sha256: ref.sha256, start: 0, count: 10_000_000 })).toMatchObject({ ok: false, code: 'TOO_LARGE' });
    expect(await fetchRows({ sha256: ref.sha256, start: -1, count: 1 })).toMatchObject({ ok: false, code: 'BAD_MESSAGE' });
    await until(() => raw.socket.connected || undefined, 1_000, 'the socket to stay open');
  });
});
