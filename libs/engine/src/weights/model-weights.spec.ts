import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelSpec } from '../models/model-spec';
import { decodeWeights, encodeWeights } from './codec';
import { WeightBlobError } from './errors';
import { getModelWeights, setModelWeights } from './model-weights';

// The architecture the spec describes, built by hand so this test does not depend on buildModel.
const SPEC: ModelSpec = { kind: 'mlp', inputShape: [4, 4, 1], hidden: [12], classes: 5 };

function twoDense(hidden = 12, classes = 5): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.flatten({ inputShape: [4, 4, 1] }));
  model.add(tf.layers.dense({ units: hidden, activation: 'relu' }));
  model.add(tf.layers.dense({ units: classes }));
  return model;
}

const models: tf.LayersModel[] = [];
function track<T extends tf.LayersModel>(m: T): T {
  models.push(m);
  return m;
}

function predict(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array).slice();
}

describe('getModelWeights / setModelWeights', () => {
  let x: tf.Tensor;

  beforeAll(async () => {
    await tf.setBackend('cpu');
    x = tf.randomUniform([8, 4, 4, 1], -1, 1, 'float32', 11);
  });

  afterAll(() => {
    x.dispose();
    models.forEach((m) => m.dispose());
  });

  it('names weights by layer position, not by the per-process tfjs layer names', () => {
    const a = track(twoDense());
    const b = track(twoDense());
    // tfjs numbers layers per process, so the raw names differ ...
    expect(a.weights.map((w) => w.name)).not.toEqual(b.weights.map((w) => w.name));
    // ... while the canonical names agree.
    const names = getModelWeights(a).map((w) => w.name);
    expect(names).toEqual(['layer1/Dense/kernel', 'layer1/Dense/bias', 'layer2/Dense/kernel', 'layer2/Dense/bias']);
    expect(getModelWeights(b).map((w) => w.name)).toEqual(names);
    expect(getModelWeights(a).map((w) => w.shape)).toEqual([[16, 12], [12], [12, 5], [5]]);
  });

  it('round-trips a model through encode/decode into a separately built model (float32: identical predictions)', () => {
    const a = track(twoDense());
    const b = track(twoDense());
    // Non-zero biases so that they matter.
    setModelWeights(a, getModelWeights(a).map((w) => (w.name.endsWith('bias') ? { ...w, values: w.values.map((_, i) => 0.01 * (i + 1)) } : w)));
    expect(predict(a, x)).not.toEqual(predict(b, x));

    const blob = encodeWeights(SPEC, getModelWeights(a));
    const decoded = decodeWeights(blob);
    expect(decoded.spec).toEqual(SPEC);
    setModelWeights(b, decoded.weights);

    const pa = predict(a, x);
    const pb = predict(b, x);
    expect(Array.from(new Uint32Array(pb.buffer))).toEqual(Array.from(new Uint32Array(pa.buffer)));
    getModelWeights(b).forEach((w, i) => expect(w.values).toEqual(getModelWeights(a)[i].values));
  });

  it('float16 round trip predicts within half-precision error', () => {
    const a = track(twoDense());
    const b = track(twoDense());
    setModelWeights(b, decodeWeights(encodeWeights(SPEC, getModelWeights(a), { dtype: 'float16' })).weights);
    const pa = predict(a, x);
    const pb = predict(b, x);
    const scale = Math.max(...Array.from(pa, Math.abs));
    pa.forEach((v, i) => expect(Math.abs(pb[i] - v)).toBeLessThan(scale * 2e-3));
  });

  it('works for a functional model (InputLayer at position 0) and does not leak tensors', () => {
    const input = tf.input({ shape: [4, 4, 1] });
    const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
    const h = tf.layers.dense({ units: 12, activation: 'relu' }).apply(flat) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 5 }).apply(h) as tf.SymbolicTensor;
    const f = track(tf.model({ inputs: input, outputs: out }));
    const weights = getModelWeights(f);
    expect(weights.map((w) => w.name)).toEqual([
      'layer2/Dense/kernel',
      'layer2/Dense/bias',
      'layer3/Dense/kernel',
      'layer3/Dense/bias',
    ]);
    // Positions differ from the sequential model (no InputLayer there): names do not match ...
    const s = track(twoDense());
    expect(() => setModelWeights(s, weights)).toThrow(expect.objectContaining({ code: 'NAME_MISMATCH' }));
    // ... but shapes do, and the name check can be turned off.
    const before = tf.memory().numTensors;
    setModelWeights(s, weights, { checkNames: false });
    expect(tf.memory().numTensors).toBe(before);
    expect(predict(s, x)).toEqual(predict(f, x));
  });

  it('returns copies: changing the returned arrays or the loaded arrays does not touch the model', () => {
    const a = track(twoDense());
    const p = predict(a, x);
    const w = getModelWeights(a);
    w[0].values.fill(5);
    expect(predict(a, x)).toEqual(p);
    const fresh = getModelWeights(a);
    setModelWeights(a, fresh);
    fresh[0].values.fill(7);
    expect(predict(a, x)).toEqual(p);
  });

  it('refuses a wrong count or shape with SHAPE_MISMATCH naming the tensor, leaving the model unchanged', () => {
    const a = track(twoDense());
    const p = predict(a, x);
    const good = getModelWeights(a);
    const other = getModelWeights(track(twoDense(12, 6)));

    const catchErr = (fn: () => void) => {
      try {
        fn();
      } catch (err) {
        return err as WeightBlobError;
      }
      throw new Error('expected an error');
    };

    let err = catchErr(() => setModelWeights(a, good.slice(0, 3)));
    expect(err).toBeInstanceOf(WeightBlobError);
    expect(err.code).toBe('SHAPE_MISMATCH');
    expect(err.message).toMatch(/4 weight tensors but 3/);

    // Last layer has 6 classes instead of 5: the first two tensors fit, the third (kernel [12, 6]) does not.
    const mixed = [good[0], good[1], other[2], other[3]];
    // Write a recognisable value into the fitting tensors: they must not be applied.
    mixed[0] = { ...mixed[0], values: mixed[0].values.map(() => 9) };
    err = catchErr(() => setModelWeights(a, mixed));
    expect(err.code).toBe('SHAPE_MISMATCH');
    expect(err.message).toContain("'layer2/Dense/kernel'");
    expect(err.message).toContain('[12, 6]');
    expect(err.message).toContain('[12, 5]');
    expect(predict(a, x)).toEqual(p);

    err = catchErr(() => setModelWeights(a, [good[0], { ...good[1], values: new Float32Array(11) }, good[2], good[3]]));
    expect(err.code).toBe('SHAPE_MISMATCH');
    expect(err.message).toContain("'layer1/Dense/bias'");
    expect(predict(a, x)).toEqual(p);
  });
});
