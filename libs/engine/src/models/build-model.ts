import * as tf from '@tensorflow/tfjs';
import { SeededRng } from '../random/seeded-rng';
import type { CnnSpec, MlpSpec, ModelSpec } from './model-spec';

/**
 * Builds a fresh model from a spec, with initial weights drawn from `seed` (so two machines that
 * build the same spec with the same seed start from identical weights). Output: logits.
 */
export function buildModel(spec: ModelSpec, seed: number): tf.LayersModel {
  validateSpec(spec);
  if (spec.kind === 'layers') throw new TypeError('a user architecture (kind layers) is built by instantiateModel, which is asynchronous');
  const rng = new SeededRng(seed).fork('init');
  const init = () => tf.initializers.glorotUniform({ seed: rng.nextUint32() });
  const input = tf.input({ shape: spec.inputShape });
  let x = spec.kind === 'mlp' ? mlpTrunk(spec, input, init) : cnnTrunk(spec, input, init);
  const logits = tf.layers
    .dense({ units: spec.classes, kernelInitializer: init(), biasInitializer: 'zeros' })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits });
}

/**
 * The same layers (shared, not copied) as `model`, with a second output: the penultimate
 * representation [n, width] that feature-based distillation matches.
 */
export function withFeatureOutput(model: tf.LayersModel): tf.LayersModel {
  const features = model.layers[model.layers.length - 2];
  return tf.model({ inputs: model.inputs, outputs: [model.outputs[0], features.output as tf.SymbolicTensor] });
}

type Init = () => ReturnType<typeof tf.initializers.glorotUniform>;

function mlpTrunk(spec: MlpSpec, input: tf.SymbolicTensor, init: Init): tf.SymbolicTensor {
  let x = spec.inputShape.length === 1 ? input : (tf.layers.flatten().apply(input) as tf.SymbolicTensor);
  for (const units of spec.hidden) {
    x = tf.layers.dense({ units, activation: 'relu', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  }
  return x;
}

function cnnTrunk(spec: CnnSpec, input: tf.SymbolicTensor, init: Init): tf.SymbolicTensor {
  let x = input;
  for (const filters of spec.convFilters) {
    x = tf.layers
      .conv2d({ filters, kernelSize: spec.kernelSize, padding: 'same', activation: 'relu', kernelInitializer: init() })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  for (const units of spec.hidden) {
    x = tf.layers.dense({ units, activation: 'relu', kernelInitializer: init() }).apply(x) as tf.SymbolicTensor;
  }
  return x;
}

/** Multiply-adds x2 of one forward pass for one sample (for GFLOP/s figures). */
export function forwardFlopsPerSample(spec: MlpSpec | CnnSpec): number {
  let flops = 0;
  let width: number;
  if (spec.kind === 'mlp') {
    width = spec.inputShape.reduce((a, b) => a * b, 1);
  } else {
    const [h, w, c] = spec.inputShape;
    let [hh, ww, cc] = [h, w, c];
    for (const filters of spec.convFilters) {
      flops += 2 * hh * ww * filters * spec.kernelSize * spec.kernelSize * cc;
      [hh, ww, cc] = [Math.floor(hh / 2), Math.floor(ww / 2), filters];
    }
    width = hh * ww * cc;
  }
  for (const units of [...spec.hidden, spec.classes]) {
    flops += 2 * width * units;
    width = units;
  }
  return flops;
}

export function validateSpec(spec: ModelSpec): void {
  const bad = (what: string) => {
    throw new TypeError(`invalid model spec: ${what} (got ${JSON.stringify(spec)})`);
  };
  if (!spec || (spec.kind !== 'mlp' && spec.kind !== 'cnn' && spec.kind !== 'layers')) bad(`kind must be 'mlp', 'cnn' or 'layers'`);
  const posInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  const rank = spec.kind === 'cnn' ? [3] : [1, 3];
  if (!Array.isArray(spec.inputShape) || !rank.includes(spec.inputShape.length) || !spec.inputShape.every(posInt)) {
    bad(spec.kind === 'cnn' ? 'inputShape must be [height, width, channels] of positive integers' : 'inputShape must be [height, width, channels] or [features] of positive integers');
  }
  if (!posInt(spec.classes) || spec.classes < 2) bad('classes must be an integer >= 2');
  if (spec.kind === 'layers') {
    if (!spec.topology || typeof spec.topology !== 'object' || Array.isArray(spec.topology)) bad('topology must be a layers-model topology object');
    return;
  }
  if (!Array.isArray(spec.hidden) || !spec.hidden.every(posInt)) bad('hidden must be positive integers');
  if (spec.kind === 'cnn') {
    if (!Array.isArray(spec.convFilters) || spec.convFilters.length === 0 || !spec.convFilters.every(posInt)) {
      bad('convFilters must be a non-empty list of positive integers');
    }
    if (!posInt(spec.kernelSize) || spec.kernelSize % 2 === 0) bad('kernelSize must be an odd positive integer');
  }
}
