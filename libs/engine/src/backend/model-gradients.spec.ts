/**
 * Whole-model gradients (tf.variableGrads of a softmax cross-entropy loss) on wasm, with the
 * kernels of ./wasm-kernels, against the cpu backend: the MLP and the small CNN of the benchmark,
 * and a CNN with strided convolutions, 'same' pooling and odd sizes.
 *
 * Tolerance: per weight tensor, max |wasm - cpu| <= 1e-4 * max |cpu| (relative to the tensor's
 * largest gradient; float32 accumulation order differs between the backends). Measured: about 1e-6 at most.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../models/build-model';
import { CNN_SPEC, MLP_SPEC } from '../models/model-spec';
import { initBackend } from './select-backend';

const TOLERANCE = 1e-4;

/** A CNN that reaches the kernels' other paths: stride 2, 'same' pooling on odd sizes, valid conv. */
function oddCnn(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [11, 11, 2], filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      tf.layers.conv2d({ filters: 4, kernelSize: 2, padding: 'valid', activation: 'relu', kernelInitializer: init(2), biasInitializer: 'ones' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 6, activation: 'relu', kernelInitializer: init(3) }),
      tf.layers.dense({ units: 3, kernelInitializer: init(4) }),
    ],
  });
}

interface Case {
  name: string;
  build: () => tf.LayersModel;
  batch: number;
}

const CASES: Case[] = [
  { name: 'MLP 784-256-128-10', build: () => buildModel(MLP_SPEC, 11), batch: 16 },
  { name: 'CNN conv16-pool-conv32-pool-dense10', build: () => buildModel(CNN_SPEC, 12), batch: 4 },
  { name: 'CNN with strides, same pooling and odd sizes', build: oddCnn, batch: 5 },
];

/** Weight values, inputs and labels as plain arrays, so both backends get identical data. */
interface Problem {
  weights: Array<{ values: Float32Array; shape: number[] }>;
  x: { values: Float32Array; shape: number[] };
  labels: Int32Array;
}

function makeProblem(c: Case): Problem {
  const model = c.build();
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  const classes = model.outputs[0].shape[1] as number;
  const weights = model.getWeights().map((w) => ({ values: w.dataSync() as Float32Array, shape: w.shape }));
  model.dispose();
  const x = tf.tidy(() => tf.randomNormal([c.batch, ...inputShape], 0, 1, 'float32', 5).dataSync() as Float32Array);
  const labels = Int32Array.from({ length: c.batch }, (_, i) => (i * 7) % classes);
  return { weights, x: { values: x, shape: [c.batch, ...inputShape] }, labels };
}

/** Loss gradients for every trainable weight, in model order, as arrays. */
async function gradientsOn(backend: string, c: Case, p: Problem): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const model = c.build();
  const weights = p.weights.map((w) => tf.tensor(w.values, w.shape));
  model.setWeights(weights);
  const x = tf.tensor(p.x.values, p.x.shape);
  const classes = model.outputs[0].shape[1] as number;
  const y = tf.oneHot(tf.tensor1d(p.labels, 'int32'), classes);
  const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar);
  const arrays = model.trainableWeights.map((w) => grads[w.name].dataSync());
  tf.dispose([...weights, x, y, ...Object.values(grads)]);
  model.dispose();
  return arrays as Float32Array[];
}

function scaledError(actual: Float32Array, expected: Float32Array): number {
  let scale = 1e-6; // all-zero expectations must then match to 1e-10 absolute
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  }
  return Number.isNaN(worst) ? Infinity : worst / scale;
}

beforeAll(async () => {
  await initBackend({ preferred: 'wasm', log: () => undefined });
});

describe('model gradients on wasm equal cpu', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      await tf.setBackend('wasm');
      const problem = makeProblem(c);
      const cpu = await gradientsOn('cpu', c, problem);
      const wasm = await gradientsOn('wasm', c, problem);
      expect(wasm.length).toBe(cpu.length);
      expect(wasm.length).toBeGreaterThan(0);
      wasm.forEach((g, i) => {
        expect(g.length).toBe(cpu[i].length);
        expect(scaledError(g, cpu[i]), `weight ${i}`).toBeLessThanOrEqual(TOLERANCE);
      });
      // Sanity: the gradients are not trivially zero.
      expect(cpu.some((g) => g.some((v) => v !== 0))).toBe(true);
    });
  }
});

describe('training on wasm', () => {
  it('does not leak tensors from step to step (forward, backward, Adam)', async () => {
    await tf.setBackend('wasm');
    const model = buildModel(CNN_SPEC, 3);
    const optimizer = tf.train.adam(1e-3);
    const x = tf.randomNormal([8, 28, 28, 1]);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10);
    const step = () => optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar, false);
    step(); // creates Adam's slots
    const tensors = tf.memory().numTensors;
    const data = tf.engine().backend.numDataIds();
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(data);
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  });
});
