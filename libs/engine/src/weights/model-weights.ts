import * as tf from '@tensorflow/tfjs';
import { WeightBlobError } from './errors';
import { elementCount } from './format';
import type { NamedWeights } from './types';

/**
 * Moving weights between a tf.LayersModel and plain NamedWeights.
 *
 * tfjs weight names (`model.weights[i].name`) embed layer names that tfjs numbers per process
 * ("dense_Dense3/kernel") and uniquifies with suffixes ("dense_Dense1/kernel_1"), so two models
 * built from the same spec get different names. Here each weight is named canonically by its
 * owning layer's position in `model.layers`, the layer's class and the weight's own short name:
 * "layer2/Dense/kernel". Weights are listed in `model.weights` order (the order tfjs's own
 * getWeights/setWeights use); loading matches by that index and checks names and shapes.
 */

interface ModelWeightSlot {
  canonicalName: string;
  variable: tf.LayerVariable;
}

/** The model's weight variables in `model.weights` order, with their canonical names. */
export function modelWeightSlots(model: tf.LayersModel): ModelWeightSlot[] {
  const names = new Map<tf.LayerVariable, string>();
  model.layers.forEach((layer, layerIndex) => {
    const taken = new Set<string>();
    layer.weights.forEach((w, j) => {
      if (names.has(w)) return; // shared between layers: keep the first owner
      const short = w.originalName.split('/').pop() || `w${j}`;
      const base = `layer${layerIndex}/${layer.getClassName()}/${short}`;
      const name = taken.has(base) ? `${base}#${j}` : base;
      taken.add(name);
      names.set(w, name);
    });
  });
  return model.weights.map((variable, i) => {
    const canonicalName = names.get(variable);
    if (canonicalName === undefined) {
      throw new Error(`model weight #${i} '${variable.name}' belongs to none of model.layers`);
    }
    return { canonicalName, variable };
  });
}

/** Copies the model's weights out as float32 NamedWeights (canonical names, model.weights order). */
export function getModelWeights(model: tf.LayersModel): NamedWeights {
  return modelWeightSlots(model).map(({ canonicalName, variable }) => {
    if (variable.dtype !== 'float32') {
      throw new Error(`weight '${canonicalName}' (${variable.name}) has dtype ${variable.dtype}; only float32 is supported`);
    }
    // dataSync() may hand back the backend's own storage: copy it.
    const values = new Float32Array(variable.read().dataSync() as Float32Array);
    return { name: canonicalName, shape: [...variable.shape] as number[], values };
  });
}

export interface SetModelWeightsOptions {
  /** Require the canonical names to match (default true); shapes and count are always checked. */
  checkNames?: boolean;
}

/**
 * Loads NamedWeights into a model. Checks everything before writing anything, so a refused load
 * leaves the model unchanged: the count (SHAPE_MISMATCH), every shape and element count
 * (SHAPE_MISMATCH naming the tensor) and, unless disabled, the canonical names (NAME_MISMATCH).
 * The values are copied; later changes to `weights` do not reach the model.
 */
export function setModelWeights(
  model: tf.LayersModel,
  weights: NamedWeights,
  opts: SetModelWeightsOptions = {},
): void {
  const checkNames = opts.checkNames ?? true;
  const slots = modelWeightSlots(model);
  if (weights.length !== slots.length) {
    throw new WeightBlobError(
      'SHAPE_MISMATCH',
      `model has ${slots.length} weight tensors but ${weights.length} were given`,
    );
  }
  slots.forEach(({ canonicalName, variable }, i) => {
    const w = weights[i];
    const expected = variable.shape as number[];
    if (!sameShape(expected, w.shape)) {
      throw new WeightBlobError(
        'SHAPE_MISMATCH',
        `weight #${i} '${w.name}' has shape [${w.shape.join(', ')}] but the model's '${canonicalName}' ` +
          `(${variable.name}) has shape [${expected.join(', ')}]`,
      );
    }
    if (elementCount(w.shape) !== w.values.length) {
      throw new WeightBlobError(
        'SHAPE_MISMATCH',
        `weight #${i} '${w.name}' has ${w.values.length} values for shape [${w.shape.join(', ')}]`,
      );
    }
    if (checkNames && w.name !== canonicalName) {
      throw new WeightBlobError(
        'NAME_MISMATCH',
        `weight #${i} is named '${w.name}' but the model's weight there is '${canonicalName}' (${variable.name})`,
      );
    }
    if (variable.dtype !== 'float32') {
      throw new Error(`model weight '${canonicalName}' has dtype ${variable.dtype}; only float32 is supported`);
    }
  });
  tf.tidy(() => {
    slots.forEach(({ variable }, i) => {
      variable.write(tf.tensor(Float32Array.from(weights[i].values), weights[i].shape, 'float32'));
    });
  });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return Array.isArray(b) && a.length === b.length && a.every((d, i) => d === b[i]);
}
