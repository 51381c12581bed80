import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend';
import { maxAbsDiff, pseudoRandom, softmaxRows, tempDir, writeKerasMlpFixture, type KerasMlpFixture } from './keras-fixture.testing';
import { ModelFileError, loadLayersModelFiles, toLogitsModel, type ModelFileErrorCode } from './layers-model-files';

let root: string;
let count = 0;
const fresh = (name: string) => {
  const dir = path.join(root, `${name}-${count++}`);
  fs.mkdirSync(dir);
  return dir;
};

beforeAll(async () => {
  await initBackend({ log: () => undefined });
  root = tempDir('layers-files');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function predict(model: tf.LayersModel, x: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array).slice();
}

async function expectModelFileError(file: string, code: ModelFileErrorCode, ...fragments: (string | RegExp)[]): Promise<ModelFileError> {
  const before = tf.memory().numTensors;
  let caught: unknown;
  try {
    const model = await loadLayersModelFiles(file);
    model.dispose();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ModelFileError ${code}`).toBeInstanceOf(ModelFileError);
  const err = caught as ModelFileError;
  expect(err.code, err.message).toBe(code);
  for (const f of fragments) expect(err.message).toMatch(f);
  expect(tf.memory().numTensors, 'a refused load leaves no tensors behind').toBe(before);
  return err;
}

describe('loadLayersModelFiles: a Keras model converted by tensorflowjs_converter', () => {
  let fx: KerasMlpFixture;
  const n = 6;
  let x: Float32Array;
  beforeAll(() => {
    fx = writeKerasMlpFixture(fresh('keras'), { features: 4, hidden: 5, classes: 3, shards: 2 });
    x = pseudoRandom(n * 4, 99, 2);
  });

  it('reads model.json and both shards and gives the softmax of the known weights', async () => {
    expect(fx.shardPaths.map((p) => path.basename(p))).toEqual(['group1-shard1of2.bin', 'group1-shard2of2.bin']);
    expect(fs.statSync(fx.shardPaths[0]).size % 4, 'the shards are cut inside a float').not.toBe(0);
    const model = await loadLayersModelFiles(fx.modelJsonPath);
    try {
      expect(model.inputs[0].shape).toEqual([null, 4]);
      expect(model.outputs[0].shape).toEqual([null, 3]);
      expect(maxAbsDiff(predict(model, x, [n, 4]), softmaxRows(fx.logits(x, n), 3))).toBeLessThan(1e-5);
      const kernel = model.getLayer('dense_1').getWeights()[0].dataSync();
      expect(Array.from(kernel)).toEqual(Array.from(fx.kernel2));
    } finally {
      model.dispose();
    }
  });

  it('toLogitsModel strips the final Dense softmax: its outputs are the known logits', async () => {
    const loaded = await loadLayersModelFiles(fx.modelJsonPath);
    const { model, removedSoftmax } = toLogitsModel(loaded);
    try {
      expect(removedSoftmax).toBe(true);
      expect(model).not.toBe(loaded);
      expect(model.getLayer('dense_1').getConfig().activation).toBe('linear');
      expect(loaded.getLayer('dense_1').getConfig().activation, 'the original is unchanged').toBe('softmax');
      expect(maxAbsDiff(predict(model, x, [n, 4]), fx.logits(x, n))).toBeLessThan(1e-5);
      const probs = tf.tidy(() => tf.softmax(model.predict(tf.tensor(x, [n, 4])) as tf.Tensor).dataSync()).slice();
      expect(maxAbsDiff(probs, predict(loaded, x, [n, 4]))).toBeLessThan(1e-5);
    } finally {
      loaded.dispose();
      model.dispose();
    }
    // The rebuilt model owns copies: disposing the original first does not break it.
    const again = await loadLayersModelFiles(fx.modelJsonPath);
    const logits = toLogitsModel(again).model;
    again.dispose();
    expect(maxAbsDiff(predict(logits, x, [n, 4]), fx.logits(x, n))).toBeLessThan(1e-5);
    logits.dispose();
  });

  it('a Keras functional model (class Functional) loads, and toLogitsModel strips its softmax', async () => {
    const f = writeKerasMlpFixture(fresh('functional'), { functional: true });
    const loaded = await loadLayersModelFiles(f.modelJsonPath);
    expect(loaded.getClassName()).toBe('Functional');
    expect(maxAbsDiff(predict(loaded, x, [n, 4]), softmaxRows(f.logits(x, n), 3))).toBeLessThan(1e-5);
    const { model, removedSoftmax } = toLogitsModel(loaded);
    expect(removedSoftmax).toBe(true);
    expect(maxAbsDiff(predict(model, x, [n, 4]), f.logits(x, n))).toBeLessThan(1e-5);
    loaded.dispose();
    model.dispose();
  });

  it('ignores the Keras training_config (loss, optimizer): the model is not compiled', async () => {
    const model = await loadLayersModelFiles(fx.modelJsonPath);
    expect(model.optimizer).toBeUndefined();
    model.dispose();
  });

  it('dequantises uint8- and float16-quantised weights with TF.js\'s own decoder', async () => {
    for (const quantize of ['uint8', 'float16'] as const) {
      const q = writeKerasMlpFixture(fresh(`q-${quantize}`), { quantize, shards: 1 });
      const model = await loadLayersModelFiles(q.modelJsonPath);
      const kernel = Array.from(model.getLayer('dense').getWeights()[0].dataSync());
      expect(maxAbsDiff(kernel, q.kernel1), quantize).toBeLessThan(1e-6);
      expect(maxAbsDiff(kernel, fx.kernel1), `${quantize} differs from float32 by the quantisation error`).toBeGreaterThan(0);
      const { model: logits } = toLogitsModel(model);
      expect(maxAbsDiff(predict(logits, x, [n, 4]), q.logits(x, n))).toBeLessThan(1e-5);
      model.dispose();
      logits.dispose();
    }
  });

  it('loads what TF.js itself saves (bare topology, no model_config), e.g. a functional model', async () => {
    const dir = fresh('tfjs-saved');
    const input = tf.input({ shape: [3] });
    const out = tf.layers.dense({ units: 2 }).apply(tf.layers.dense({ units: 4, activation: 'tanh' }).apply(input)) as tf.SymbolicTensor;
    const original = tf.model({ inputs: input, outputs: out });
    await original.save(
      tf.io.withSaveHandler(async (a) => {
        const json = { modelTopology: a.modelTopology, format: a.format, generatedBy: a.generatedBy, weightsManifest: [{ paths: ['w.bin'], weights: a.weightSpecs }] };
        fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
        fs.writeFileSync(path.join(dir, 'w.bin'), new Uint8Array(a.weightData as ArrayBuffer));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await loadLayersModelFiles(path.join(dir, 'model.json'));
    const xs = pseudoRandom(15, 3);
    expect(maxAbsDiff(predict(loaded, xs, [5, 3]), predict(original, xs, [5, 3]))).toBe(0);
    const same = toLogitsModel(loaded);
    expect(same.removedSoftmax).toBe(false);
    expect(same.model).toBe(loaded);
    original.dispose();
    loaded.dispose();
  });

  it('reads past optimizer state saved with the model (TF.js save with includeOptimizer)', async () => {
    const dir = fresh('with-optimizer');
    const original = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], activation: 'softmax' })] });
    original.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const xs = tf.tensor(pseudoRandom(8 * 4, 1), [8, 4]);
    const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
    await original.fit(xs, ys, { epochs: 1, verbose: 0 });
    tf.dispose([xs, ys]);
    let groups: (string | undefined)[] = [];
    await original.save(
      tf.io.withSaveHandler(async (a) => {
        groups = (a.weightSpecs ?? []).map((s) => s.group);
        const json = { modelTopology: a.modelTopology, format: a.format, trainingConfig: a.trainingConfig, weightsManifest: [{ paths: ['w.bin'], weights: a.weightSpecs }] };
        fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
        fs.writeFileSync(path.join(dir, 'w.bin'), new Uint8Array(a.weightData as ArrayBuffer));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
      { includeOptimizer: true },
    );
    expect(groups).toContain('optimizer');
    const loaded = await loadLayersModelFiles(path.join(dir, 'model.json'));
    expect(loaded.optimizer).toBeUndefined();
    const probe = pseudoRandom(12, 2);
    expect(maxAbsDiff(predict(loaded, probe, [3, 4]), predict(original, probe, [3, 4]))).toBe(0);
    original.optimizer.dispose();
    original.dispose();
    loaded.dispose();
  });
});

describe('loadLayersModelFiles: every refusal names the file and the problem', () => {
  it('model.json missing, or a directory given', async () => {
    const dir = fresh('missing');
    const file = path.join(dir, 'model.json');
    await expectModelFileError(file, 'UNREADABLE', file, /does not exist/);
    await expectModelFileError(dir, 'UNREADABLE', dir, /is a directory/);
  });

  it('model.json that is not JSON, or JSON but not an object', async () => {
    const file = path.join(fresh('not-json'), 'model.json');
    fs.writeFileSync(file, '{"format": "layers-model", ');
    await expectModelFileError(file, 'NOT_JSON', file, /is not JSON/);
    fs.writeFileSync(file, '[1, 2]');
    await expectModelFileError(file, 'NOT_JSON', file, /not an object/);
  });

  it('a TF.js graph model (format graph-model, a GraphDef topology, or no modelTopology)', async () => {
    const file = path.join(fresh('graph'), 'model.json');
    const advice = 'is a TF.js graph model; fedkd needs a layers model (convert Keras models with tensorflowjs_converter --input_format keras)';
    const graph = { format: 'graph-model', generatedBy: '2.15.0', convertedBy: 'TensorFlow.js Converter v4.22.0', modelTopology: { node: [], library: {}, versions: {} }, weightsManifest: [] };
    for (const json of [graph, { ...graph, format: undefined }, { weightsManifest: [] }]) {
      fs.writeFileSync(file, JSON.stringify(json));
      const err = await expectModelFileError(file, 'GRAPH_MODEL', file, /is a TF\.js graph model/, /fedkd needs a layers model/, /--input_format keras/);
      expect(err.message.replace(/ \([^)]*\);/, ';')).toBe(`${file} ${advice}`);
    }
  });

  it('no weightsManifest, or a malformed one', async () => {
    const fx = writeKerasMlpFixture(fresh('no-manifest'));
    delete fx.json.weightsManifest;
    fx.rewrite();
    await expectModelFileError(fx.modelJsonPath, 'BAD_MANIFEST', fx.modelJsonPath, /has no weightsManifest/);
    fx.json.weightsManifest = [{ paths: [], weights: [] }];
    fx.rewrite();
    await expectModelFileError(fx.modelJsonPath, 'BAD_MANIFEST', fx.modelJsonPath, /paths must be a non-empty list/);
    const twice = { name: 'dense/bias', shape: [5], dtype: 'float32' };
    fx.json.weightsManifest = [{ paths: ['group1-shard1of2.bin'], weights: [twice, twice] }];
    fx.rewrite();
    await expectModelFileError(fx.modelJsonPath, 'BAD_MANIFEST', fx.modelJsonPath, /weight 'dense\/bias' appears twice/);
  });

  it('a missing weight shard', async () => {
    const fx = writeKerasMlpFixture(fresh('no-shard'));
    fs.rmSync(fx.shardPaths[1]);
    const err = await expectModelFileError(fx.modelJsonPath, 'MISSING_SHARD', fx.modelJsonPath, /'group1-shard2of2\.bin' is missing/, fx.shardPaths[1]);
    expect(err.file).toBe(fx.shardPaths[1]);
  });

  it('shards shorter or longer than the manifest\'s weights need', async () => {
    const fx = writeKerasMlpFixture(fresh('sizes'));
    const need = (4 * 5 + 5 + 5 * 3 + 3) * 4;
    const second = fs.readFileSync(fx.shardPaths[1]);
    fs.writeFileSync(fx.shardPaths[1], second.subarray(0, second.length - 3));
    await expectModelFileError(fx.modelJsonPath, 'SIZE_MISMATCH', fx.modelJsonPath, `expected ${need} bytes, got ${need - 3}`, /truncated/, /group1-shard1of2\.bin, group1-shard2of2\.bin/);
    fs.writeFileSync(fx.shardPaths[1], Buffer.concat([second, Buffer.alloc(8)]));
    await expectModelFileError(fx.modelJsonPath, 'SIZE_MISMATCH', fx.modelJsonPath, `expected ${need} bytes, got ${need + 8}`, /longer/);
  });

  it('a weight dtype other than float32, or an unknown quantisation', async () => {
    const fx = writeKerasMlpFixture(fresh('dtype'));
    const weights = (fx.json.weightsManifest as { weights: Record<string, unknown>[] }[])[0].weights;
    weights[1].dtype = 'int32';
    fx.rewrite();
    await expectModelFileError(fx.modelJsonPath, 'UNSUPPORTED_DTYPE', fx.modelJsonPath, /weight 'dense\/bias' has dtype "int32"/, /needs float32/);
    weights[1].dtype = 'float32';
    weights[2].quantization = { dtype: 'int4', min: 0, scale: 1 };
    fx.rewrite();
    await expectModelFileError(fx.modelJsonPath, 'UNSUPPORTED_DTYPE', fx.modelJsonPath, /'dense_1\/kernel' is quantised as "int4"/);
  });

  it('an unknown layer class: TF.js\'s own error, with the file name', async () => {
    const fx = writeKerasMlpFixture(fresh('lambda'));
    const layers = ((fx.json.modelTopology as { model_config: { config: { layers: { class_name: string }[] } } }).model_config.config.layers);
    layers[2].class_name = 'Lambda';
    fx.rewrite();
    await expectModelFileError(fx.modelJsonPath, 'TFJS_LOAD', `${fx.modelJsonPath}: TF.js could not build a layers model from it`, /Lambda/);
  });

  it('a Keras 3 model.json (batch_shape) gets a hint about Keras 2', async () => {
    const fx = writeKerasMlpFixture(fresh('keras3'));
    fx.json.generatedBy = 'keras v3.6.0';
    const input = (fx.json.modelTopology as { model_config: { config: { layers: { config: Record<string, unknown> }[] } } }).model_config.config.layers[0].config;
    input.batch_shape = input.batch_input_shape;
    delete input.batch_input_shape;
    fx.rewrite();
    await expectModelFileError(fx.modelJsonPath, 'TFJS_LOAD', fx.modelJsonPath, /Keras 3/, /tf_keras/);
  });

  it('weights that do not fit the topology (a renamed weight)', async () => {
    const fx = writeKerasMlpFixture(fresh('names'));
    (fx.json.weightsManifest as { weights: Record<string, unknown>[] }[])[0].weights[0].name = 'dense_9/kernel';
    fx.rewrite();
    await expectModelFileError(fx.modelJsonPath, 'WEIGHTS_MISMATCH', fx.modelJsonPath, /do not fit its topology/, /dense_9\/kernel/);
  });
});

describe('toLogitsModel', () => {
  const x = pseudoRandom(8 * 6, 5, 1.5);
  /** Builds [6] -> dense 7 relu -> head, and checks softmax(logits model) == original. */
  function check(head: (h: tf.SymbolicTensor) => tf.SymbolicTensor, expectRemoved: boolean) {
    const input = tf.input({ shape: [6] });
    const h = tf.layers.dense({ units: 7, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
    const original = tf.model({ inputs: input, outputs: head(h) });
    const { model, removedSoftmax } = toLogitsModel(original);
    expect(removedSoftmax).toBe(expectRemoved);
    const before = predict(original, x, [8, 6]);
    const after = tf.tidy(() => {
      const out = model.predict(tf.tensor(x, [8, 6])) as tf.Tensor;
      return (expectRemoved ? tf.softmax(out) : out).dataSync();
    });
    expect(maxAbsDiff(after, before)).toBeLessThan(1e-5);
    if (expectRemoved) {
      // The logits are not already probabilities.
      expect(maxAbsDiff(predict(model, x, [8, 6]), before)).toBeGreaterThan(1e-3);
      expect(model.layers.length).toBe(original.layers.length);
      model.dispose();
    }
    original.dispose();
  }

  it('a functional model ending in Dense(softmax)', () => check((h) => tf.layers.dense({ units: 4, activation: 'softmax' }).apply(h) as tf.SymbolicTensor, true));
  it('a functional model ending in Activation(softmax)', () =>
    check((h) => tf.layers.activation({ activation: 'softmax' }).apply(tf.layers.dense({ units: 4 }).apply(h)) as tf.SymbolicTensor, true));
  it('a functional model ending in a Softmax layer', () =>
    check((h) => tf.layers.softmax().apply(tf.layers.dense({ units: 4 }).apply(h)) as tf.SymbolicTensor, true));
  it('a model ending in a linear Dense is returned as it is (its output is taken as logits)', () =>
    check((h) => tf.layers.dense({ units: 4 }).apply(h) as tf.SymbolicTensor, false));

  it('a Sequential ending in Activation(softmax)', () => {
    const original = tf.sequential({
      layers: [tf.layers.dense({ units: 5, inputShape: [6], activation: 'relu' }), tf.layers.dense({ units: 3 }), tf.layers.activation({ activation: 'softmax' })],
    });
    const { model, removedSoftmax } = toLogitsModel(original);
    expect(removedSoftmax).toBe(true);
    expect(model.getClassName()).toBe('Sequential');
    const probs = tf.tidy(() => tf.softmax(model.predict(tf.tensor(x, [8, 6])) as tf.Tensor).dataSync());
    expect(maxAbsDiff(probs, predict(original, x, [8, 6]))).toBeLessThan(1e-5);
    original.dispose();
    model.dispose();
  });

  it('a CNN with batch normalisation (non-trainable moving statistics) and dropout keeps every weight', () => {
    const original = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, activation: 'relu' }),
        tf.layers.batchNormalization({ movingMeanInitializer: 'ones', movingVarianceInitializer: tf.initializers.constant({ value: 2 }) }),
        tf.layers.flatten(),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.dense({ units: 5, activation: 'softmax' }),
      ],
    });
    const { model, removedSoftmax } = toLogitsModel(original);
    expect(removedSoftmax).toBe(true);
    expect(model.weights.length).toBe(original.weights.length);
    const images = pseudoRandom(3 * 8 * 8 * 2, 9, 1);
    const probs = tf.tidy(() => tf.softmax(model.predict(tf.tensor(images, [3, 8, 8, 2])) as tf.Tensor).dataSync());
    expect(maxAbsDiff(probs, predict(original, images, [3, 8, 8, 2]))).toBeLessThan(1e-5);
    original.dispose();
    model.dispose();
  });

  it('refuses models with two outputs or two inputs', () => {
    const a = tf.input({ shape: [3] });
    const b = tf.input({ shape: [3] });
    const twoOut = tf.model({ inputs: a, outputs: [tf.layers.dense({ units: 2, activation: 'softmax' }).apply(a), tf.layers.dense({ units: 2 }).apply(a)] as tf.SymbolicTensor[] });
    expect(() => toLogitsModel(twoOut)).toThrow(/1 inputs and 2 outputs; fedkd needs a model with one input .* and one output/);
    const twoIn = tf.model({ inputs: [a, b], outputs: tf.layers.dense({ units: 2 }).apply(tf.layers.concatenate().apply([a, b])) as tf.SymbolicTensor });
    expect(() => toLogitsModel(twoIn)).toThrow(/2 inputs and 1 outputs/);
    twoOut.dispose();
    twoIn.dispose();
  });
});

describe('no tensor leak', () => {
  it('load, convert to logits and dispose return numTensors to where it started', async () => {
    const fx = writeKerasMlpFixture(fresh('leak'));
    const start = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      const loaded = await loadLayersModelFiles(fx.modelJsonPath);
      const { model } = toLogitsModel(loaded);
      predict(model, pseudoRandom(8, 1), [2, 4]);
      loaded.dispose();
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(start);
  });
});
