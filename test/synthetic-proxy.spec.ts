import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeLearnedGenerator, encodeLearnedGenerator, generateLearnedImages, generateSyntheticImages, initialLearnedGenerator, proxyInputsSha256 } from '@fedkd/data';
import type { RoundOpen } from '@fedkd/protocol';
import { STUDENT_GUIDED_DEFAULTS } from '@fedkd/distill';
import sharp from 'sharp';
import { openDatabase, type CoordinatorDatabase } from '../apps/coordinator/src/persistence/coordinator-database';
import { GRID, type Grid } from '../apps/coordinator/src/transport/grid';
import { freePort } from '../apps/cli/src/simulate/process-fleet';
import { getJson, postJson, startTestClient, startTestCoordinator, testWorkspace, until, type TestCoordinator } from './support/federation-harness';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Some bytes of each of these inputs (where there is ink), as they would appear in a float32 upload. */
function expectAbsentFromWire(coordinator: TestCoordinator, images: Float32Array, rows: number[]): void {
  const wire = Buffer.concat(coordinator.received.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
  for (const row of rows) {
    const input = images.subarray(row * 784, (row + 1) * 784);
    const start = input.findIndex((v) => v > 0.3);
    expect(wire.indexOf(Buffer.from(input.slice(start, start + 6).buffer))).toBe(-1);
  }
}

describe('data-free rounds (synthetic proxy)', () => {
  const workspace = testWorkspace('fedkd-synthetic-');

  /**
   * A coordinator on a fixed port with two test clients, stopped when the test ends. `restart`
   * stops the coordinator, runs `meanwhile` on its stopped state, starts it again and waits for
   * both clients to reconnect.
   */
  async function twoClientFederation(config: Parameters<typeof startTestCoordinator>[0]) {
    const federation = { coordinator: await startTestCoordinator(config) };
    const clients = [0, 1].map((i) => startTestClient(federation.coordinator, i, { clients: 2 }));
    workspace.defer(async () => {
      clients.forEach((c) => c.client.stop());
      await federation.coordinator.stop();
    });
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients');
    let starts = 1;
    const restart = async (meanwhile: () => Promise<void> | void = () => undefined) => {
      await federation.coordinator.stop();
      await meanwhile();
      federation.coordinator = await startTestCoordinator(config);
      starts++;
      await until(() => clients.every((c) => c.events.filter((e) => e.event === 'connected').length >= starts), 30_000, 'clients to rejoin');
    };
    return { federation, restart };
  }

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

    const round = await getJson<{ config: { proxy: { kind: string; generator: string; seed: number; size: number; inputsSha256: string } } }>(`${coordinator.url}/rounds/${summary.round}`);
    expect(round.config.proxy).toMatchObject({ kind: 'synthetic', generator: 'strokes', size: 1000 });
    const generated = generateSyntheticImages('strokes', round.config.proxy.seed, 1000);
    // The digest every client checked its regenerated inputs against before answering.
    expect(round.config.proxy.inputsSha256).toBe(proxyInputsSha256(generated));
    const inputs = generated.values;
    // Uploads are 1000 x 10 float32 predictions per client, and nothing of the inputs themselves.
    expect(coordinator.received.reduce((n, p) => n + p.length, 0)).toBeGreaterThan(3 * 40_000);
    expectAbsentFromWire(coordinator, inputs, [0, 1, 500, 999]);
  });

  it('trains the learned generator from the answers, sends only its weights, and resumes it after a restart', async () => {
    const databasePath = join(workspace.dir, 'learned.sqlite');
    const port = await freePort();
    const config = { databasePath, port, minClients: 2, proxy: 'synthetic' as const, generator: 'learned' as const, proxySize: 400, encoding: 'float32' as const, replaySize: 400 };
    const { federation, restart } = await twoClientFederation(config);
    type Round = {
      config: { proxy: { generator: string; seed: number; size: number; weightsSha256: string; weightsBytes: number } };
      metrics: { queries: number; proxyBytesPerClient: number; studentExamples: number; generator: { pairsUsed: number; answeredClasses: number[] } };
    };
    const rounds: Round[] = [];
    for (let r = 1; r <= 2; r++) {
      expect(await postJson<{ state: string }>(`${federation.coordinator.url}/rounds`)).toMatchObject({ state: 'published' });
      rounds.push(await getJson<Round>(`${federation.coordinator.url}/rounds/${r}`));
    }
    // Round 1 asks with the untrained generator; round 2 with the one round 1's answers trained.
    const initial = encodeLearnedGenerator(initialLearnedGenerator(0));
    expect(rounds[0].config.proxy).toMatchObject({ generator: 'learned', size: 400, weightsSha256: sha256(initial), weightsBytes: initial.byteLength });
    expect(rounds[1].config.proxy.weightsSha256).not.toBe(rounds[0].config.proxy.weightsSha256);
    for (const round of rounds) {
      expect(round.metrics).toMatchObject({ queries: 800, proxyBytesPerClient: initial.byteLength, generator: { pairsUsed: 200 } });
      expect(round.metrics.generator.answeredClasses.reduce((a, b) => a + b, 0)).toBe(400);
    }
    // --replay-size 400: round 2's student rehearses round 1's 400 answers beside its own.
    expect(rounds.map((r) => r.metrics.studentExamples)).toEqual([400, 800]);
    const inputs = generateLearnedImages(decodeLearnedGenerator(initial), rounds[0].config.proxy.seed, 400).values;
    expectAbsentFromWire(federation.coordinator, inputs, [0, 1, 201, 399]);

    // A restart continues from the generator round 2 left, not from scratch.
    let saved: Awaited<ReturnType<CoordinatorDatabase['generators']['latest']>> = null;
    await restart(async () => {
      const db = await openDatabase(databasePath);
      saved = await db.generators.latest();
      await db.close();
    });
    expect(saved!.round).toBe(2);
    expect(await postJson<{ state: string }>(`${federation.coordinator.url}/rounds`)).toMatchObject({ state: 'published' });
    const third = await getJson<Round>(`${federation.coordinator.url}/rounds/3`);
    expect(third.config.proxy.weightsSha256).toBe(sha256(saved!.generator));
    // The replay buffer is stored with the coordinator: after a restart the student still rehearses round 2's answers.
    expect(third.metrics.studentExamples).toBe(800);
  });

  it('student-guided: the coordinator sends uint8 inputs it made against its own student, clients answer about exactly those, the replay buffer is bounded and survives a restart', async () => {
    const databasePath = join(workspace.dir, 'guided.sqlite');
    const samplesDir = join(workspace.dir, 'samples');
    const port = await freePort();
    const config = {
      databasePath,
      port,
      minClients: 2,
      proxy: 'synthetic' as const,
      generator: 'student-guided' as const,
      proxySize: 200,
      encoding: 'float32' as const,
      replaySize: 300,
      samplesDir,
      studentEpochs: 5,
      studentGuided: { ...STUDENT_GUIDED_DEFAULTS, steps: 5 },
    };
    const { federation, restart } = await twoClientFederation(config);
    type Round = {
      config: { proxy: { generator: string; seed: number; size: number; inputsSha256: string; pixelsBytes: number } };
      metrics: { queries: number; proxyBytesPerClient: number; studentExamples: number; replayInputs: number; generator: { steps: number; intendedClassAgreement: number } };
    };
    const rounds: Round[] = [];
    for (let r = 1; r <= 2; r++) {
      expect(await postJson<{ state: string }>(`${federation.coordinator.url}/rounds`)).toMatchObject({ state: 'published' });
      rounds.push(await getJson<Round>(`${federation.coordinator.url}/rounds/${r}`));
    }
    for (const round of rounds) {
      // The question is the inputs themselves: 200 x 784 bytes to each client.
      expect(round.config.proxy).toMatchObject({ generator: 'student-guided', size: 200, pixelsBytes: 200 * 784 });
      expect(round.metrics).toMatchObject({ queries: 400, proxyBytesPerClient: 200 * 784, generator: { steps: 5 } });
      expect(round.metrics.generator.intendedClassAgreement).toBeGreaterThanOrEqual(0);
    }
    // Round 2 rehearses round 1's answers; the buffer then holds 300 of the 400 answered inputs.
    expect(rounds.map((r) => r.metrics.studentExamples)).toEqual([200, 400]);
    expect(rounds.map((r) => r.metrics.replayInputs)).toEqual([200, 300]);
    // What the clients answered about: the digest every client checked its received inputs against, and the inputs stored for replay.
    let stored: Awaited<ReturnType<CoordinatorDatabase['replay']['all']>> = [];
    // A restart reloads the buffer: round 3's student trains on its 200 answers and the 300 stored.
    await restart(async () => {
      const db = await openDatabase(databasePath);
      stored = await db.replay.all();
      await db.close();
    });
    expect(stored.map((c) => [c.round, c.inputs.count])).toEqual([[1, 100], [2, 200]]);
    expect(proxyInputsSha256(stored[1].inputs)).toBe(rounds[1].config.proxy.inputsSha256);
    expect(stored[1].inputs.values.every((v) => Number.isInteger(Math.round(v * 255)) && Math.fround(Math.round(v * 255) / 255) === v)).toBe(true);
    // A person can see what the teachers were asked about: one PNG per round, a row per class.
    const png = await sharp(join(samplesDir, 'round-2.png')).metadata();
    expect(png).toMatchObject({ format: 'png', width: 12 * 57 + 1, height: 10 * 57 + 1 });

    expect(await postJson<{ state: string }>(`${federation.coordinator.url}/rounds`)).toMatchObject({ state: 'published' });
    const third = await getJson<Round>(`${federation.coordinator.url}/rounds/3`);
    expect(third.metrics.studentExamples).toBe(500);
    await restart(async () => {
      const db = await openDatabase(databasePath);
      expect((await db.replay.all()).map((c) => [c.round, c.inputs.count])).toEqual([[2, 100], [3, 200]]);
      await db.close();
    });
  });

  it('clients that regenerate other inputs than the announced digest decline instead of answering about them', async () => {
    const coordinator = await startTestCoordinator({ databasePath: join(workspace.dir, 'digest.sqlite'), proxy: 'synthetic', generator: 'noise', proxySize: 100 });
    const clients = [0, 1].map((i) => startTestClient(coordinator, i, { clients: 2 }));
    workspace.defer(async () => {
      clients.forEach((c) => c.client.stop());
      await coordinator.stop();
    });
    // Stand-in for a runtime that computes the generator differently: the announced digest is not of these inputs.
    const grid = coordinator.app.get<symbol, Grid>(GRID);
    const collect = grid.collect.bind(grid);
    grid.collect = (request: RoundOpen, participants, answers) => collect({ ...request, proxy: { ...request.proxy, inputsSha256: '0'.repeat(64) } as RoundOpen['proxy'] }, participants, answers);
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients');
    const summary = await postJson<{ state: string; reason: string }>(`${coordinator.url}/rounds`);
    expect(summary).toMatchObject({ state: 'failed', reason: 'only 0 of the 2 required clients answered' });
    for (const c of clients) {
      const declined = (await c.waitFor((e) => e.event === 'declined')) as { reason: string };
      expect(declined.reason).toMatch(/^cannot build the proxy inputs: the regenerated inputs differ from the coordinator's \(SHA-256 [0-9a-f]{12}… here, 000000000000… announced\)/);
    }
  });

  it('refuses an odd proxy size for the learned generator before starting', async () => {
    await expect(startTestCoordinator({ databasePath: join(workspace.dir, 'odd.sqlite'), proxy: 'synthetic', generator: 'learned', proxySize: 301 })).rejects.toThrow(
      'proxy-size: the learned generator asks about inputs in pairs: must be even, got 301',
    );
  });

  it('a client declines rounds past its query budget, with the numbers; the round goes on without it', async () => {
    const coordinator = await startTestCoordinator({ databasePath: join(workspace.dir, 'budget.sqlite'), minClients: 1, proxy: 'synthetic', generator: 'noise', proxySize: 300 });
    const clients = [startTestClient(coordinator, 0, { clients: 2, queryBudget: 500 }), startTestClient(coordinator, 1, { clients: 2 })];
    workspace.defer(async () => {
      clients.forEach((c) => c.client.stop());
      await coordinator.stop();
    });
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'clients');
    expect(await postJson<{ state: string }>(`${coordinator.url}/rounds`)).toMatchObject({ state: 'published' });
    expect(await postJson<{ state: string }>(`${coordinator.url}/rounds`)).toMatchObject({ state: 'published' });
    const declined = await clients[0].waitFor((e) => e.event === 'declined');
    expect((declined as { reason: string }).reason).toBe('query budget: this round asks about 300 inputs, 300 of 500 are spent');
    const second = await getJson<{ metrics: { queries: number }; participants: { status: string }[] }>(`${coordinator.url}/rounds/2`);
    expect(second.metrics.queries).toBe(300);
    expect(second.participants.map((p) => p.status).sort()).toEqual(['answered', 'declined']);
  });
});
