import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend';
import { decodeWeights, encodeWeights, readWeightHeader } from '../weights/codec';
import { getModelWeights, setModelWeights } from '../weights/model-weights';
import { buildModel } from './build-model';
import { checkModelShapes, instantiateModel, layersSpecOf } from './instantiate-model';
import { maxAbsDiff, pseudoRandom, tempDir, writeKerasMlpFixture } from './keras-fixture.testing';
import { loadLayersModelFiles, toLogitsModel } from './layers-model-files';
import { CNN_SPEC, MLP_SPEC, zooModelSpec, type LayersSpec } from './model-spec';

let root: string;
beforeAll(async () => {
  await initBackend({ log: () => undefined });
  root = tempDir('instantiate');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function predict(model: tf.LayersModel, x: Float32Array, shape: number[]): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(x, shape)) as tf.Tensor).dataSync() as Float32Array).slice();
}

async function kerasLogitsModel(): Promise<tf.LayersModel> {
  const fx = writeKerasMlpFixture(fs.mkdtempSync(`${root}/keras-`), { features: 4, hidden: 5, classes: 3 });
  const loaded = await loadLayersModelFiles(fx.modelJsonPath);
  const { model } = toLogitsModel(loaded);
  loaded.dispose();
  return model;
}

describe('layersSpecOf', () => {
  it('takes the topology, the input shape without the batch dimension and the class count', async () => {
    const model = await kerasLogitsModel();
    const spec = layersSpecOf(model);
    expect(spec.kind).toBe('layers');
    expect(spec.inputShape).toEqual([4]);
    expect(spec.classes).toBe(3);
    expect(spec.topology).toEqual(model.toJSON(null, false));
    expect(spec.topology.class_name).toBe('Sequential');
    const image = buildModel(CNN_SPEC, 1);
    expect(layersSpecOf(image)).toMatchObject({ kind: 'layers', inputShape: [28, 28, 1], classes: 10 });
    model.dispose();
    image.dispose();
  });

  it('refuses a model that still ends with a softmax', async () => {
    const fx = writeKerasMlpFixture(fs.mkdtempSync(`${root}/softmax-`));
    const loaded = await loadLayersModelFiles(fx.modelJsonPath);
    expect(() => layersSpecOf(loaded)).toThrow(/ends with a softmax; fedkd needs logits \(pass it through toLogitsModel first\)/);
    loaded.dispose();
  });
});

describe("a 'layers' spec through the weight blob codec", () => {
  it('encode -> decode -> instantiateModel + setModelWeights gives the same predictions (a Keras model)', async () => {
    const model = await kerasLogitsModel();
    const blob = encodeWeights(layersSpecOf(model), getModelWeights(model));
    const decoded = decodeWeights(blob);
    expect(decoded.spec.kind).toBe('layers');
    const rebuilt = await instantiateModel(decoded.spec, 0);
    setModelWeights(rebuilt, decoded.weights);
    const x = pseudoRandom(10 * 4, 4, 2);
    expect(Array.from(predict(rebuilt, x, [10, 4]))).toEqual(Array.from(predict(model, x, [10, 4])));
    model.dispose();
    rebuilt.dispose();
  });

  it('the same for the zoo CNN taken as a user architecture; its header stays small (a few KB)', async () => {
    const model = buildModel(CNN_SPEC, 9);
    const blob = encodeWeights(layersSpecOf(model), getModelWeights(model));
    expect(readWeightHeader(blob).bodyOffset).toBeLessThan(8_000);
    const decoded = decodeWeights(blob);
    const rebuilt = await instantiateModel(decoded.spec, 0);
    setModelWeights(rebuilt, decoded.weights);
    const x = pseudoRandom(3 * 784, 6, 1);
    expect(maxAbsDiff(predict(rebuilt, x, [3, 28, 28, 1]), predict(model, x, [3, 28, 28, 1]))).toBe(0);
    model.dispose();
    rebuilt.dispose();
  });
});

describe('instantiateModel', () => {
  it('builds zoo specs with buildModel: the same seed gives the same weights', async () => {
    const spec = zooModelSpec('mlp', [12], 3);
    const a = await instantiateModel(spec, 42);
    const b = buildModel(spec, 42);
    expect(getModelWeights(a)).toEqual(getModelWeights(b));
    a.dispose();
    b.dispose();
  });

  it("builds a 'layers' spec from its topology with fresh, unseeded initial weights", async () => {
    const model = await kerasLogitsModel();
    const spec = layersSpecOf(model);
    const a = await instantiateModel(spec, 1);
    const b = await instantiateModel(spec, 1);
    expect(a.inputs[0].shape).toEqual([null, 4]);
    expect(a.outputs[0].shape).toEqual([null, 3]);
    expect(getModelWeights(a).map((w) => w.name)).toEqual(getModelWeights(model).map((w) => w.name));
    expect(maxAbsDiff(getModelWeights(a)[0].values, getModelWeights(b)[0].values)).toBeGreaterThan(0);
    for (const m of [model, a, b]) m.dispose();
  });

  it("refuses a 'layers' spec whose shapes disagree with its topology, or whose topology ends with a softmax", async () => {
    const model = await kerasLogitsModel();
    const spec = layersSpecOf(model);
    const start = tf.memory().numTensors;
    await expect(instantiateModel({ ...spec, classes: 10 }, 0)).rejects.toThrow(
      "the 'layers' spec's topology takes inputs [4] and gives 3 classes, but the task's inputs are [4] with 10 classes",
    );
    const withSoftmax = structuredClone(spec) as LayersSpec & { topology: { config: { layers: { config: Record<string, unknown> }[] } } };
    withSoftmax.topology.config.layers.at(-1)!.config.activation = 'softmax';
    await expect(instantiateModel(withSoftmax, 0)).rejects.toThrow(/ends with a softmax/);
    await expect(instantiateModel({ ...spec, topology: { class_name: 'Sequential', config: { layers: [{ class_name: 'Lambda', config: {} }] } } }, 0)).rejects.toThrow(
      /cannot build the model of a 'layers' spec from its topology: .*Lambda/,
    );
    expect(tf.memory().numTensors, 'refused models are disposed').toBe(start);
    model.dispose();
  });
});

describe('checkModelShapes', () => {
  it('names what, the model\'s input shape and classes, and the task\'s', () => {
    const input = tf.input({ shape: [32, 32, 3] });
    const pooled = tf.layers.globalAveragePooling2d({}).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 100 }).apply(pooled) as tf.SymbolicTensor });
    expect(() => checkModelShapes(model, { inputShape: [28, 28, 1], classes: 10 }, 'teacher model.json')).toThrow(
      new Error('teacher model.json takes inputs [32, 32, 3] and gives 100 classes, but the task\'s inputs are [28, 28, 1] with 10 classes'),
    );
    expect(() => checkModelShapes(model, { inputShape: [32, 32, 3], classes: 10 }, 'student')).toThrow(/student takes inputs \[32, 32, 3\] and gives 100 classes/);
    expect(() => checkModelShapes(model, { inputShape: [32, 32], classes: 100 }, 'student')).toThrow(/inputs are \[32, 32\] with 100 classes/);
    expect(() => checkModelShapes(model, { inputShape: [32, 32, 3], classes: 100 }, 'student')).not.toThrow();
    model.dispose();
  });

  it('refuses outputs that are not [batch, classes], and several inputs', () => {
    const input = tf.input({ shape: [6] });
    const seq = tf.model({ inputs: input, outputs: tf.layers.reshape({ targetShape: [2, 3] }).apply(input) as tf.SymbolicTensor });
    expect(() => checkModelShapes(seq, { inputShape: [6], classes: 3 }, 'teacher model.json')).toThrow(
      /teacher model.json takes inputs \[6\] and gives outputs of shape \[2, 3\] per input \(fedkd needs one score per class\)/,
    );
    const other = tf.input({ shape: [6] });
    const two = tf.model({ inputs: [input, other], outputs: tf.layers.add().apply([input, other]) as tf.SymbolicTensor });
    expect(() => checkModelShapes(two, { inputShape: [6], classes: 6 }, 'teacher model.json')).toThrow(/teacher model.json has 2 inputs and 1 outputs/);
    seq.dispose();
    two.dispose();
  });

  it('accepts the zoo models for their own specs', () => {
    for (const spec of [MLP_SPEC, CNN_SPEC, zooModelSpec('mlp', [12], 3)]) {
      const model = buildModel(spec, 1);
      expect(() => checkModelShapes(model, spec, 'zoo')).not.toThrow();
      model.dispose();
    }
  });
});

describe('no tensor leak', () => {
  it('spec, blob, instantiate, set weights and dispose return numTensors to where it started', async () => {
    const start = tf.memory().numTensors;
    const model = await kerasLogitsModel();
    const decoded = decodeWeights(encodeWeights(layersSpecOf(model), getModelWeights(model)));
    const rebuilt = await instantiateModel(decoded.spec, 0);
    setModelWeights(rebuilt, decoded.weights);
    predict(rebuilt, pseudoRandom(8, 1), [2, 4]);
    model.dispose();
    rebuilt.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
