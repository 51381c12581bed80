import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend';
import { buildModel } from './build-model';
import { maxAbsDiff, pseudoRandom, softmaxRows, tempDir, writeKerasMlpFixture } from './keras-fixture.testing';
import { loadLayersModelFiles, toLogitsModel } from './layers-model-files';
import { CNN_SPEC, MLP_SPEC, zooModelSpec, type MlpSpec, type CnnSpec } from './model-spec';
import { getModelWeights, setModelWeights } from '../weights/model-weights';
import { exportTfjsModel, writeTfjsModel, type TfjsModelFiles } from './tfjs-export';

/** A static file server on 127.0.0.1:0 for `root`, recording the paths it was asked for. */
async function serve(root: string): Promise<{ base: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent((req.url ?? '/').split('?')[0]);
    requests.push(url);
    const file = path.join(root, path.normalize(url));
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const type = file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type }).end(fs.readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

let root: string;
let server: Awaited<ReturnType<typeof serve>>;
let published = 0;

/** Writes the export under root/models/N/ and returns its URL. */
function publish(exported: TfjsModelFiles): { url: string; dir: string; files: string[] } {
  const n = ++published;
  const dir = path.join(root, 'models', String(n));
  const files = writeTfjsModel(dir, exported);
  return { url: `${server.base}/models/${n}/model.json`, dir, files };
}

function predict(model: tf.LayersModel, x: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array).slice();
}

beforeAll(async () => {
  await initBackend({ log: () => undefined });
  root = tempDir('tfjs-export');
  server = await serve(root);
});
afterAll(async () => {
  await server.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('exportTfjsModel: stock tf.loadLayersModel over HTTP', () => {
  const cases: [string, MlpSpec | CnnSpec, number][] = [
    ['the zoo MLP (784-256-128-10)', MLP_SPEC, 16],
    ['the zoo CNN (28x28x1, conv 16/32)', CNN_SPEC, 8],
    ['a feature-vector MLP (12 features, 3 classes)', zooModelSpec('mlp', [12], 3), 32],
  ];
  for (const [what, spec, n] of cases) {
    it(`${what}: predictions equal softmax(fedkd logits) within 1e-5`, async () => {
      const model = buildModel(spec, 11);
      const shape = [n, ...spec.inputShape];
      const x = pseudoRandom(shape.reduce((a, b) => a * b, 1), 3, 1);
      const logits = predict(model, x, shape);
      const metadata = { modelVersion: published + 1, task: { name: 'test', classes: spec.classes } };
      const { url } = publish(await exportTfjsModel(model, { probabilities: true, metadata }));
      server.requests.length = 0;
      const loaded = await tf.loadLayersModel(url);
      try {
        expect(server.requests).toEqual([`/models/${published}/model.json`, `/models/${published}/weights.bin`]);
        const probs = predict(loaded, x, shape);
        expect(maxAbsDiff(probs, softmaxRows(logits, spec.classes))).toBeLessThan(1e-5);
        for (let r = 0; r < n; r++) {
          expect(probs.subarray(r * spec.classes, (r + 1) * spec.classes).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        }
        expect(loaded.getUserDefinedMetadata()).toEqual(metadata);
        expect(loaded.layers.at(-1)!.getClassName()).toBe('Activation');
      } finally {
        loaded.dispose();
        model.dispose();
      }
    });
  }

  it('with probabilities false the loaded model outputs the logits themselves', async () => {
    const model = buildModel(CNN_SPEC, 5);
    const x = pseudoRandom(4 * 784, 8, 1);
    const { url } = publish(await exportTfjsModel(model, { probabilities: false }));
    const loaded = await tf.loadLayersModel(url);
    expect(maxAbsDiff(predict(loaded, x, [4, 28, 28, 1]), predict(model, x, [4, 28, 28, 1]))).toBeLessThan(1e-5);
    expect(loaded.getUserDefinedMetadata()).toBeUndefined();
    loaded.dispose();
    model.dispose();
  });
});

describe('exportTfjsModel: the files', () => {
  it('model.json: layers-model, one manifest group [weights.bin] of float32 weights, sorted keys, output kind; weights.bin holds every parameter', async () => {
    const spec = zooModelSpec('mlp', [12], 3);
    const model = buildModel(spec, 1);
    const exported = await exportTfjsModel(model, { probabilities: true, metadata: { b: 1, a: [true, null, 'x'] } });
    const text = new TextDecoder().decode(exported.modelJson);
    const json = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(['convertedBy', 'fedkd', 'format', 'generatedBy', 'modelTopology', 'userDefinedMetadata', 'weightsManifest']);
    expect(json.format).toBe('layers-model');
    expect(json.fedkd).toEqual({ output: 'probabilities' });
    expect(json.userDefinedMetadata).toEqual({ a: [true, null, 'x'], b: 1 });
    const manifest = json.weightsManifest as { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
    expect(manifest).toHaveLength(1);
    expect(manifest[0].paths).toEqual(['weights.bin']);
    expect(manifest[0].weights.map((w) => w.dtype)).toEqual(Array(6).fill('float32'));
    expect(manifest[0].weights.map((w) => w.name)).toEqual([
      'dense_1/kernel', 'dense_1/bias', 'dense_2/kernel', 'dense_2/bias', 'dense_3/kernel', 'dense_3/bias',
    ]);
    expect(exported.weights.length).toBe(4 * model.countParams());
    const first = new Float32Array(exported.weights.buffer.slice(exported.weights.byteOffset, exported.weights.byteOffset + 12 * 64 * 4));
    expect(Array.from(first)).toEqual(Array.from(model.weights[0].read().dataSync()));
    const topology = json.modelTopology as { config: { layers: { name: string; class_name: string; config: Record<string, unknown> }[] } };
    const last = topology.config.layers.at(-1)!;
    expect([last.name, last.class_name, last.config.activation]).toEqual(['probabilities', 'Activation', 'softmax']);
    const logitsJson = JSON.parse(new TextDecoder().decode((await exportTfjsModel(model, { probabilities: false })).modelJson)) as Record<string, unknown>;
    expect(logitsJson.fedkd).toEqual({ output: 'logits' });
    expect('userDefinedMetadata' in logitsJson).toBe(false);
    model.dispose();
  });

  it('is deterministic: the same weights give the same bytes, whatever names TF.js gave the layers', async () => {
    const a = buildModel(CNN_SPEC, 3);
    const b = buildModel(CNN_SPEC, 3);
    // Same topology (initialiser seeds included), other weights.
    const c = buildModel(CNN_SPEC, 3);
    const other = buildModel(CNN_SPEC, 4);
    setModelWeights(c, getModelWeights(other));
    other.dispose();
    expect(a.layers[1].name).not.toBe(b.layers[1].name);
    const ea = await exportTfjsModel(a, { probabilities: true, metadata: { v: 1 } });
    const eb = await exportTfjsModel(b, { probabilities: true, metadata: { v: 1 } });
    const ec = await exportTfjsModel(c, { probabilities: true, metadata: { v: 1 } });
    expect(Buffer.from(ea.modelJson).equals(Buffer.from(eb.modelJson))).toBe(true);
    expect(Buffer.from(ea.weights).equals(Buffer.from(eb.weights))).toBe(true);
    expect(Buffer.from(ea.modelJson).equals(Buffer.from(ec.modelJson)), 'same architecture, same model.json').toBe(true);
    expect(Buffer.from(ea.weights).equals(Buffer.from(ec.weights))).toBe(false);
    for (const m of [a, b, c]) m.dispose();
  });

  it('writeTfjsModel writes model.json and weights.bin, which loadLayersModelFiles reads back (Keras model, softmax round trip)', async () => {
    const fx = writeKerasMlpFixture(fs.mkdtempSync(path.join(root, 'keras-')));
    const loaded = await loadLayersModelFiles(fx.modelJsonPath);
    const { model } = toLogitsModel(loaded);
    loaded.dispose();
    const dir = path.join(root, 'written');
    const files = writeTfjsModel(dir, await exportTfjsModel(model, { probabilities: true }));
    expect(files).toEqual([path.join(dir, 'model.json'), path.join(dir, 'weights.bin')]);
    expect(fs.readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    const back = await loadLayersModelFiles(files[0]);
    const logitsBack = toLogitsModel(back);
    expect(logitsBack.removedSoftmax).toBe(true);
    const x = pseudoRandom(5 * 4, 2, 2);
    expect(maxAbsDiff(predict(logitsBack.model, x, [5, 4]), fx.logits(x, 5))).toBeLessThan(1e-5);
    expect(maxAbsDiff(predict(back, x, [5, 4]), softmaxRows(fx.logits(x, 5), 3))).toBeLessThan(1e-5);
    for (const m of [model, back, logitsBack.model]) m.dispose();
  });

  it('a Keras functional model exports with canonical names and a softmax, and stock-loads over HTTP', async () => {
    // A linear output layer: toLogitsModel keeps the loaded model, of class Functional.
    const fx = writeKerasMlpFixture(fs.mkdtempSync(path.join(root, 'keras-')), { functional: true, outputActivation: 'linear' });
    const { model, removedSoftmax } = toLogitsModel(await loadLayersModelFiles(fx.modelJsonPath));
    expect(removedSoftmax).toBe(false);
    const exported = await exportTfjsModel(model, { probabilities: true });
    const json = JSON.parse(new TextDecoder().decode(exported.modelJson)) as { modelTopology: { class_name: string; config: { layers: { name: string }[]; output_layers: unknown } } };
    expect(json.modelTopology.class_name).toBe('Functional');
    expect(json.modelTopology.config.layers.map((l) => l.name)).toEqual(['input_layer_0', 'dense_1', 'dense_2', 'probabilities']);
    expect(json.modelTopology.config.output_layers).toEqual([['probabilities', 0, 0]]);
    const { url } = publish(exported);
    const stock = await tf.loadLayersModel(url);
    const x = pseudoRandom(7 * 4, 12, 2);
    expect(maxAbsDiff(predict(stock, x, [7, 4]), softmaxRows(fx.logits(x, 7), 3))).toBeLessThan(1e-5);
    stock.dispose();
    model.dispose();
  });

  it('refuses metadata that is not plain JSON, and models with two outputs', async () => {
    const model = buildModel(zooModelSpec('mlp', [4], 2), 1);
    await expect(exportTfjsModel(model, { probabilities: true, metadata: { x: NaN } })).rejects.toThrow(/metadata\.x is NaN/);
    await expect(exportTfjsModel(model, { probabilities: true, metadata: { when: new Date(0) } })).rejects.toThrow(/metadata\.when is not plain JSON/);
    const input = tf.input({ shape: [4] });
    const two = tf.model({ inputs: input, outputs: [tf.layers.dense({ units: 2 }).apply(input), tf.layers.dense({ units: 3 }).apply(input)] as tf.SymbolicTensor[] });
    await expect(exportTfjsModel(two, { probabilities: false })).rejects.toThrow(/1 inputs and 2 outputs/);
    model.dispose();
    two.dispose();
  });
});

describe('no tensor leak', () => {
  it('load (Keras files), convert, export, stock load and dispose return numTensors to where it started', async () => {
    const fx = writeKerasMlpFixture(fs.mkdtempSync(path.join(root, 'keras-')));
    const start = tf.memory().numTensors;
    const loaded = await loadLayersModelFiles(fx.modelJsonPath);
    const logits = toLogitsModel(loaded).model;
    const keras = publish(await exportTfjsModel(logits, { probabilities: true }));
    const stock = await tf.loadLayersModel(keras.url);
    predict(stock, pseudoRandom(8, 1), [2, 4]);
    for (const m of [loaded, logits, stock]) m.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('export of a zoo CNN, stock load and dispose return numTensors to where it started', async () => {
    const start = tf.memory().numTensors;
    const model = buildModel(CNN_SPEC, 2);
    const { url } = publish(await exportTfjsModel(model, { probabilities: true }));
    const loaded = await tf.loadLayersModel(url);
    predict(loaded, pseudoRandom(784, 1), [1, 28, 28, 1]);
    loaded.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
