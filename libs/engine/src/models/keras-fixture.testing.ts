/**
 * Test helpers: a Keras model as tensorflowjs_converter writes it (model.json + binary shards),
 * generated into a temporary folder with known weights, so tests need no binary fixtures.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { float16BitsToFloat32Array, float32ArrayToFloat16Bits } from '../weights/float16';

/** A fresh folder under os.tmpdir(). */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `fedkd-${prefix}-`));
}

/** Deterministic values in [-scale, scale). */
export function pseudoRandom(count: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

export interface KerasMlpOptions {
  features?: number;
  hidden?: number;
  classes?: number;
  /** Into how many shard files the weight bytes are cut (at arbitrary byte offsets, as the converter does). */
  shards?: number;
  /** Store the weights quantised as the converter's --quantize_uint8 / --quantize_float16 do. */
  quantize?: 'uint8' | 'float16';
  /** The final layer's activation (default 'softmax', as a Keras classifier usually has). */
  outputActivation?: string;
  seed?: number;
  /** Write a Keras functional model (`class_name: 'Functional'`, inbound_nodes) instead of a Sequential. */
  functional?: boolean;
}

export interface KerasMlpFixture {
  dir: string;
  modelJsonPath: string;
  shardPaths: string[];
  features: number;
  classes: number;
  /** The weights as the model will hold them after loading (dequantised if quantised). */
  kernel1: Float32Array;
  bias1: Float32Array;
  kernel2: Float32Array;
  bias2: Float32Array;
  /** Expected logits of the pre-activation output layer for `n` row-major inputs. */
  logits(x: Float32Array, n: number): Float32Array;
  /** The parsed model.json (edit it and call rewrite() to make broken variants). */
  json: Record<string, unknown>;
  rewrite(): void;
}

const kerasInit = (className: string, config: Record<string, unknown>) => ({
  module: 'keras.initializers',
  class_name: className,
  config,
  registered_name: null,
});

function kerasDense(name: string, units: number, activation: string, inputDim: number, first: boolean) {
  return {
    module: 'keras.layers',
    class_name: 'Dense',
    config: {
      name,
      trainable: true,
      dtype: 'float32',
      ...(first ? { batch_input_shape: [null, inputDim] } : {}),
      units,
      activation,
      use_bias: true,
      kernel_initializer: kerasInit('GlorotUniform', { seed: null }),
      bias_initializer: kerasInit('Zeros', {}),
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
    },
    registered_name: null,
    build_config: { input_shape: [null, inputDim] },
  };
}

/**
 * Writes `dir/model.json` and its shards for the Keras model
 * `Sequential([InputLayer((F,)), Dense(H, relu, name='dense'), Dense(C, softmax, name='dense_1')])`
 * (or the same as a functional `keras.Model`) exactly as tensorflowjs_converter 4.22 writes a
 * Keras 2.15 model (snake_case configs, an explicit InputLayer, training_config inside
 * modelTopology, weights named `dense/kernel`...).
 */
export function writeKerasMlpFixture(dir: string, opts: KerasMlpOptions = {}): KerasMlpFixture {
  fs.mkdirSync(dir, { recursive: true });
  const features = opts.features ?? 4;
  const hidden = opts.hidden ?? 5;
  const classes = opts.classes ?? 3;
  const shardCount = opts.shards ?? 2;
  const seed = opts.seed ?? 7;
  const raw = {
    kernel1: pseudoRandom(features * hidden, seed, 0.8),
    bias1: pseudoRandom(hidden, seed + 1, 0.3),
    kernel2: pseudoRandom(hidden * classes, seed + 2, 0.8),
    bias2: pseudoRandom(classes, seed + 3, 0.3),
  };
  const tensors: [string, number[], Float32Array][] = [
    ['dense/kernel', [features, hidden], raw.kernel1],
    ['dense/bias', [hidden], raw.bias1],
    ['dense_1/kernel', [hidden, classes], raw.kernel2],
    ['dense_1/bias', [classes], raw.bias2],
  ];

  const entries: Record<string, unknown>[] = [];
  const chunks: Uint8Array[] = [];
  const loaded: Float32Array[] = [];
  for (const [name, shape, values] of tensors) {
    const entry: Record<string, unknown> = { name, shape, dtype: 'float32' };
    if (opts.quantize === 'uint8') {
      const min = Math.min(...values);
      const max = Math.max(...values);
      const scale = (max - min) / 255;
      const q = Uint8Array.from(values, (v) => Math.round((v - min) / scale));
      entry.quantization = { dtype: 'uint8', min, scale, original_dtype: 'float32' };
      chunks.push(q);
      loaded.push(Float32Array.from(q, (v) => v * scale + min));
    } else if (opts.quantize === 'float16') {
      const bits = float32ArrayToFloat16Bits(values);
      entry.quantization = { dtype: 'float16', original_dtype: 'float32' };
      chunks.push(new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength));
      loaded.push(float16BitsToFloat32Array(bits));
    } else {
      chunks.push(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      loaded.push(values);
    }
    entries.push(entry);
  }
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((at, c) => (all.set(c, at), at + c.length), 0);
  const shardNames = Array.from({ length: shardCount }, (_, i) => `group1-shard${i + 1}of${shardCount}.bin`);
  const cut = Math.ceil(all.length / shardCount) + 1; // not at a tensor boundary
  const shardPaths = shardNames.map((name, i) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, all.subarray(Math.min(all.length, i * cut), i === shardCount - 1 ? all.length : Math.min(all.length, (i + 1) * cut)));
    return p;
  });

  const outputActivation = opts.outputActivation ?? 'softmax';
  const sequentialConfig = () => ({
    class_name: 'Sequential',
    config: {
      name: 'sequential',
      layers: [
        {
          module: 'keras.layers',
          class_name: 'InputLayer',
          config: { batch_input_shape: [null, features], dtype: 'float32', sparse: false, ragged: false, name: 'dense_input' },
          registered_name: null,
        },
        kerasDense('dense', hidden, 'relu', features, true),
        kerasDense('dense_1', classes, outputActivation, hidden, false),
      ],
    },
  });
  // keras.Model(inputs, outputs) as Keras 2.15 serialises it: layer entries with name and inbound_nodes.
  const node = (layer: string) => [[[layer, 0, 0, {}]]];
  const functionalConfig = () => ({
    class_name: 'Functional',
    config: {
      name: 'model',
      trainable: true,
      layers: [
        {
          module: 'keras.layers',
          class_name: 'InputLayer',
          config: { batch_input_shape: [null, features], dtype: 'float32', sparse: false, ragged: false, name: 'input_1' },
          registered_name: null,
          name: 'input_1',
          inbound_nodes: [],
        },
        { ...kerasDense('dense', hidden, 'relu', features, false), name: 'dense', inbound_nodes: node('input_1') },
        { ...kerasDense('dense_1', classes, outputActivation, hidden, false), name: 'dense_1', inbound_nodes: node('dense') },
      ],
      input_layers: [['input_1', 0, 0]],
      output_layers: [['dense_1', 0, 0]],
    },
  });

  const json: Record<string, unknown> = {
    format: 'layers-model',
    generatedBy: 'keras v2.15.0',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: {
      keras_version: '2.15.0',
      backend: 'tensorflow',
      model_config: opts.functional ? functionalConfig() : sequentialConfig(),
      training_config: {
        loss: 'categorical_crossentropy',
        metrics: [[{ module: 'keras.metrics', class_name: 'MeanMetricWrapper', config: { name: 'accuracy', dtype: 'float32', fn: 'categorical_accuracy' }, registered_name: null }]],
        weighted_metrics: null,
        loss_weights: null,
        optimizer_config: {
          module: 'keras.optimizers',
          class_name: 'Adam',
          config: { name: 'Adam', weight_decay: null, clipnorm: null, global_clipnorm: null, clipvalue: null, use_ema: false, ema_momentum: 0.99, ema_overwrite_frequency: null, jit_compile: false, is_legacy_optimizer: false, learning_rate: 0.0010000000474974513, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false },
          registered_name: null,
        },
      },
    },
    weightsManifest: [{ paths: shardNames, weights: entries }],
  };
  const modelJsonPath = path.join(dir, 'model.json');
  const rewrite = () => fs.writeFileSync(modelJsonPath, JSON.stringify(json));
  rewrite();

  const [kernel1, bias1, kernel2, bias2] = loaded;
  const logits = (x: Float32Array, n: number): Float32Array => {
    const out = new Float32Array(n * classes);
    const h = new Float64Array(hidden);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < hidden; j++) {
        let s = bias1[j];
        for (let i = 0; i < features; i++) s += x[r * features + i] * kernel1[i * hidden + j];
        h[j] = Math.max(0, s);
      }
      for (let c = 0; c < classes; c++) {
        let s = bias2[c];
        for (let j = 0; j < hidden; j++) s += h[j] * kernel2[j * classes + c];
        out[r * classes + c] = s;
      }
    }
    return out;
  };
  return { dir, modelJsonPath, shardPaths, features, classes, kernel1, bias1, kernel2, bias2, logits, json, rewrite };
}

/** Row-wise softmax of row-major [n, classes] scores (float64 arithmetic). */
export function softmaxRows(scores: Float32Array, classes: number): Float32Array {
  const out = new Float32Array(scores.length);
  for (let r = 0; r < scores.length / classes; r++) {
    const row = scores.subarray(r * classes, (r + 1) * classes);
    const max = Math.max(...row);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(row[c] - max);
    for (let c = 0; c < classes; c++) out[r * classes + c] = Math.exp(row[c] - max) / sum;
  }
  return out;
}

/** Largest absolute difference between two equally long arrays (Infinity if lengths differ). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
