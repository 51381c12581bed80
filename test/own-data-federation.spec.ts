import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { createPartitioner, loadEmbeddedPart, loadTaskFile, MNIST_TASK, subset, writeDataset, type Dataset, type Task } from '@fedkd/data';
import { decodeWeights, exportTfjsModel, instantiateModel, predictAll, selectInputs, setModelWeights, writeTfjsModel } from '@fedkd/engine';
import { readPublicKey, verifyExport } from '@fedkd/privacy';
import type { ClientEvent } from '@fedkd/client';
import { getJson, SMALL_TEACHER, startTestClient, startTestCoordinator, testWorkspace, until } from './support/federation-harness';
import { serveDirectory } from './support/static-server';

/**
 * A federation as users would run it: every client reads its own files in another format (a PNG
 * image folder, a CSV, NPY arrays), one brings its own trained TF.js model.json as its teacher, the
 * coordinator asks about an unlabelled image folder and evaluates on an IDX file, and the student
 * leaves as a TF.js LayersModel that stock TF.js loads.
 */
const CLI = join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
const PROXY_ROWS = 500;
const EVAL_ROWS = 1000;

const rawPixels = (values: Float32Array) => Uint8Array.from(values, (v) => Math.round(v * 255));
const bytesOf = (values: Float32Array | Uint8Array) => Buffer.from(values.buffer, values.byteOffset, values.byteLength);

async function write(format: 'image-folder' | 'csv' | 'npy' | 'idx', dir: string, data: { values: Float32Array; count: number; inputShape: number[]; labels: Uint8Array | null }, task: Task) {
  await writeDataset(format, dir, { raw: rawPixels(data.values), count: data.count, inputShape: data.inputShape, labels: data.labels, task });
}

/** A teacher trained outside fedkd with stock TF.js (softmax output, as Keras models have), saved as model.json + weights. */
async function trainUsersOwnTeacher(data: Dataset, dir: string): Promise<string> {
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
  const x = tf.tensor(data.values, [data.count, 28, 28, 1]);
  const y = tf.tensor1d(Array.from(data.labels), 'float32');
  await model.fit(x, y, { epochs: 5, batchSize: 32, verbose: 0, shuffle: false });
  tf.dispose([x, y]);
  writeTfjsModel(dir, await exportTfjsModel(model, { probabilities: false }));
  model.dispose();
  return join(dir, 'model.json');
}

function softmax(logits: Float32Array, classes: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length; r += classes) {
    const row = logits.subarray(r, r + classes);
    const max = Math.max(...row);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += (out[r + c] = Math.exp(row[c] - max));
    for (let c = 0; c < classes; c++) out[r + c] /= sum;
  }
  return out;
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('a federation of clients with their own files and models', () => {
  const workspace = testWorkspace('fedkd-own-data-');
  const dir = workspace.dir;

  it('reads PNG, CSV and NPY clients and a model.json teacher, publishes, and the export loads in stock TF.js', async () => {
    // The task file every party loads.
    const taskFile = join(dir, 'task.yaml');
    writeFileSync(taskFile, toYaml({ ...MNIST_TASK, name: 'digits' }));
    const task = loadTaskFile(taskFile);

    // Each client's private data, in its own format, on its own disk.
    const pool = loadEmbeddedPart('mnist', 'private', 0);
    const parts = createPartitioner({ name: 'iid' }).partition(pool.labels, 3, 0).clients.map((rows) => subset(pool, rows.subarray(0, 900)));
    await write('image-folder', join(dir, 'client-0'), parts[0], task);
    await write('csv', join(dir, 'client-1'), parts[1], task);
    await write('npy', join(dir, 'client-2'), parts[2], task);
    const ownTeacher = await trainUsersOwnTeacher(parts[2], join(dir, 'client-2-model'));
    // The coordinator's unlabelled public images and its labelled evaluation set.
    const proxy = selectInputs(loadEmbeddedPart('mnist', 'proxy', 0), Array.from({ length: PROXY_ROWS }, (_, i) => i));
    await write('image-folder', join(dir, 'proxy'), { ...proxy, inputShape: [...proxy.inputShape], labels: null }, task);
    const test = loadEmbeddedPart('mnist', 'test', 0);
    const evaluation = subset(test, Array.from({ length: EVAL_ROWS }, (_, i) => i));
    await write('idx', join(dir, 'eval'), evaluation, task);

    const coordinator = await startTestCoordinator({
      databasePath: join(dir, 'fedkd.sqlite'),
      taskPath: taskFile,
      proxyData: join(dir, 'proxy'),
      evalData: `idx:${join(dir, 'eval')}`,
      proxySize: PROXY_ROWS,
      minClients: 3,
      encoding: 'float32',
    });
    workspace.defer(() => coordinator.stop());
    expect(coordinator.federation.publicSet?.ref.source).toBe('coordinator');
    const specs = [join(dir, 'client-0'), `csv:${join(dir, 'client-1', 'data.csv')}`, `npy:${join(dir, 'client-2')}`];
    const clients = specs.map((data, i) =>
      startTestClient(coordinator, i, { task, data, model: SMALL_TEACHER, epochs: 5, holdout: 0.1, ...(i === 2 ? { teacherModelPath: ownTeacher, fineTuneEpochs: 0 } : {}) }),
    );
    workspace.defer(() => clients.forEach((c) => c.client.stop()));
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 90_000, 'three clients');

    // Each read its own files: 810 training samples after a 10 % hold-out, whose accuracy it keeps to itself.
    for (const c of clients) {
      const ready = c.events.find((e) => e.event === 'ready') as Extract<ClientEvent, { event: 'ready' }>;
      expect(ready.samples).toBe(810);
      expect(ready.localOnlyAccuracy).toBeNull();
      expect(ready.holdoutAccuracy).toBeGreaterThan(0.6);
    }
    const teacherLine = (clients[2].events.find((e) => e.event === 'ready') as Extract<ClientEvent, { event: 'ready' }>).teacher;
    expect(teacherLine).toContain('final softmax removed for logits');
    expect(teacherLine).toContain('frozen');

    const summary = await coordinator.rounds.runRound();
    expect(summary).toMatchObject({ state: 'published', modelVersion: 1 });
    expect(summary.testAccuracy).toBeGreaterThan(0.8);
    // Every client fetched the coordinator's public images once, and checked their digest.
    for (const c of clients) expect(c.events.filter((e) => e.event === 'proxy')).toMatchObject([{ inputs: PROXY_ROWS, bytes: PROXY_ROWS * 784 * 4 }]);
    const round = await getJson<{ participants: { status: string }[] }>(`${coordinator.url}/rounds/1`);
    expect(round.participants.map((p) => p.status)).toEqual(['answered', 'answered', 'answered']);

    // Privacy canary: no byte of a private file, nor a private input as the client holds it, reaches the coordinator.
    const wire = Buffer.concat(coordinator.received.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
    expect(wire.byteLength).toBeGreaterThan(3 * PROXY_ROWS * 10 * 4);
    const csvText = readFileSync(join(dir, 'client-1', 'data.csv'));
    const csvLine = csvText.subarray(csvText.indexOf(10) + 1, csvText.indexOf(10, csvText.indexOf(10) + 1));
    expect(csvLine.byteLength).toBeGreaterThan(100);
    expect(wire.indexOf(csvLine.subarray(0, 64))).toBe(-1);
    const pngFolder = join(dir, 'client-0', '3');
    const png = readFileSync(join(pngFolder, readdirSync(pngFolder)[0]));
    expect(wire.indexOf(png.subarray(png.length - 80, png.length - 16))).toBe(-1);
    const npyInputs = readFileSync(join(dir, 'client-2', 'inputs.npy'));
    expect(wire.indexOf(npyInputs.subarray(npyInputs.length - 400, npyInputs.length - 360))).toBe(-1);
    for (const [i, part] of parts.entries()) {
      for (const row of [0, 17, 400]) {
        const middle = part.values.subarray(row * 784 + 380, row * 784 + 388);
        expect(wire.indexOf(bytesOf(middle)), `client ${i} row ${row}`).toBe(-1);
      }
      expect(wire.indexOf(Buffer.from(part.labels.subarray(0, 24)))).toBe(-1);
    }

    // The student leaves as a standard TF.js model: stock tf.loadLayersModel over the coordinator's HTTP...
    const fromCoordinator = await tf.loadLayersModel(tf.io.http(`${coordinator.url}/models/1/model.json`, { requestInit: { headers: coordinator.authHeaders } }));
    const blob = new Uint8Array(await (await fetch(`${coordinator.url}/models/1`, { headers: coordinator.authHeaders })).arrayBuffer());
    const decoded = decodeWeights(blob);
    const student = await instantiateModel(decoded.spec, 0);
    setModelWeights(student, decoded.weights);
    const coordinatorProbabilities = softmax(predictAll(student, evaluation), 10);
    const missing = await fetch(`${coordinator.url}/models/9/model.json`, { headers: coordinator.authHeaders });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'NOT_FOUND', message: 'no model version 9' });
    const other = await fetch(`${coordinator.url}/models/1/secrets.txt`, { headers: coordinator.authHeaders });
    expect(other.status).toBe(404);
    expect(((await other.json()) as { message: string }).message).toContain('a version serves model.json, weights.bin, signature.json');
    const stockProbabilities = predictAll(fromCoordinator, evaluation);
    expect(maxAbsDifference(stockProbabilities, coordinatorProbabilities)).toBeLessThan(1e-5);

    // ... and `fedkd export` writes the same signed files, which stock TF.js loads from a plain web server.
    const out = join(dir, 'export');
    const exported = spawnSync(process.execPath, [CLI, 'export', '--version', '1', '--out', out, '--db', join(dir, 'fedkd.sqlite'), '--key', join(dir, 'keys', 'coordinator.key')], { encoding: 'utf8' });
    expect(exported.status, exported.stderr).toBe(0);
    const files = Object.fromEntries(['model.json', 'weights.bin', 'signature.json'].map((name) => [name, new Uint8Array(readFileSync(join(out, name)))]));
    for (const name of Object.keys(files)) {
      const served = new Uint8Array(await (await fetch(`${coordinator.url}/models/1/${name}`, { headers: coordinator.authHeaders })).arrayBuffer());
      expect(Buffer.from(served).equals(Buffer.from(files[name])), name).toBe(true);
    }
    const coordinatorKey = readPublicKey(join(dir, 'keys', 'coordinator.pub'));
    expect(coordinatorKey.ok && verifyExport(JSON.parse(Buffer.from(files['signature.json']).toString('utf8')), files, coordinatorKey.value)).toMatchObject({ ok: true });
    const web = await serveDirectory(out);
    workspace.defer(() => web.close());
    const fromFiles = await tf.loadLayersModel(`${web.base}/model.json`);
    expect(maxAbsDifference(predictAll(fromFiles, evaluation), coordinatorProbabilities)).toBeLessThan(1e-5);
    // README's example classifies one image with stock TF.js, from the coordinator's URL and from the exported files.
    // (The first image of folder 3 is client 0's first private digit labelled 3: the student's own answer for it is known.)
    const image = join(pngFolder, readdirSync(pngFolder)[0]);
    const row = parts[0].labels.indexOf(3);
    const logits = predictAll(student, selectInputs(parts[0], [row]));
    const answer = logits.indexOf(Math.max(...logits));
    for (const where of [`${coordinator.url}/models/1/model.json`, out]) {
      // Asynchronously: the coordinator answering its HTTP requests runs in this very process.
      const classified = await promisify(execFile)(process.execPath, [join(__dirname, '..', 'examples', 'classify-image.js'), where, image, taskFile], { encoding: 'utf8', env: { ...process.env, FEDKD_TOKEN: coordinator.adminToken } });
      expect(classified.stdout).toMatch(new RegExp(`\\.png: ${answer} \\(p = (0|1)\\.\\d{3}\\)`));
    }
    for (const model of [fromCoordinator, fromFiles, student]) model.dispose();
  });
});
