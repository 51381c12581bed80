import * as tf from '@tensorflow/tfjs';
import { buildModel, validateSpec } from './build-model';
import { outputSoftmax, requireSingleInputOutput } from './layers-model-files';
import type { LayersSpec, ModelSpec } from './model-spec';

/**
 * The LayersSpec of a user's model: its Keras/TF.js topology (`model.toJSON(null, false)`, the
 * `modelTopology` object a model.json holds, without weights), its input shape without the batch
 * dimension and its class count (the last dimension of its output). The model must already
 * output logits (pass a loaded model through toLogitsModel first: a final softmax is refused
 * here), with one input and one output of shape [batch, classes], and fixed input dimensions.
 * The topology carries the layer names of this model and the TF.js version that wrote it.
 */
export function layersSpecOf(model: tf.LayersModel): LayersSpec {
  requireSingleInputOutput(model, 'the model');
  if (outputSoftmax(model) !== null) {
    throw new Error('the model ends with a softmax; fedkd needs logits (pass it through toLogitsModel first)');
  }
  const inputShape = model.inputs[0].shape.slice(1);
  if (!inputShape.every((d): d is number => typeof d === 'number' && d > 0)) {
    throw new Error(`the model's inputs have an unspecified size [${formatShape(inputShape)}]; fedkd needs fixed input shapes`);
  }
  const outputShape = model.outputs[0].shape;
  const classes = outputShape[1];
  if (outputShape.length !== 2 || typeof classes !== 'number') {
    throw new Error(`the model's output has shape [${formatShape(outputShape)}]; fedkd needs [batch, classes]`);
  }
  const topology = model.toJSON(null, false);
  if (typeof topology === 'string') throw new Error('model.toJSON returned a string');
  const spec: LayersSpec = { kind: 'layers', inputShape, classes, topology: topology as Record<string, unknown> };
  validateSpec(spec);
  return spec;
}

/**
 * A fresh model for any spec. Zoo kinds ('mlp', 'cnn') are built by buildModel with initial
 * weights drawn from `seed` (identical on every machine). A 'layers' spec is rebuilt from its
 * topology with `tf.models.modelFromJSON`: its initial weights come from the initialisers named
 * in the topology and are NOT seeded (`seed` is ignored; two calls give different weights), which
 * is fine when the weights are set right after (a decoded blob, a trained teacher). The built
 * model is checked against the spec's inputShape and classes, and must output logits (a topology
 * that ends with a softmax is refused). The caller owns the model.
 */
export async function instantiateModel(spec: ModelSpec, seed: number): Promise<tf.LayersModel> {
  validateSpec(spec);
  if (spec.kind !== 'layers') return buildModel(spec, seed);
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON(structuredClone(spec.topology) as Parameters<typeof tf.models.modelFromJSON>[0]);
  } catch (err) {
    throw new Error(`cannot build the model of a 'layers' spec from its topology: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    checkModelShapes(model, spec, "the 'layers' spec's topology");
    if (outputSoftmax(model) !== null) {
      throw new Error("the 'layers' spec's topology ends with a softmax; fedkd needs a topology that outputs logits");
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/**
 * Checks that a model fits a task: one input of shape [batch, ...inputShape] and one output
 * [batch, classes]. Throws an Error naming `what` (e.g. "teacher model.json"), the model's input
 * shape and classes and the task's: "teacher model.json takes inputs [32, 32, 3] and gives 100
 * classes, but the task's inputs are [28, 28, 1] with 10 classes".
 */
export function checkModelShapes(
  model: tf.LayersModel,
  expected: { inputShape: readonly number[]; classes: number },
  what: string,
): void {
  requireSingleInputOutput(model, what);
  const inputShape = model.inputs[0].shape.slice(1);
  const outputShape = model.outputs[0].shape;
  const task = `the task's inputs are [${formatShape(expected.inputShape)}] with ${expected.classes} classes`;
  if (outputShape.length !== 2) {
    throw new Error(
      `${what} takes inputs [${formatShape(inputShape)}] and gives outputs of shape [${formatShape(outputShape.slice(1))}] ` +
        `per input (fedkd needs one score per class), but ${task}`,
    );
  }
  const inputsFit =
    inputShape.length === expected.inputShape.length && inputShape.every((d, i) => d === expected.inputShape[i]);
  if (!inputsFit || outputShape[1] !== expected.classes) {
    throw new Error(
      `${what} takes inputs [${formatShape(inputShape)}] and gives ${outputShape[1] ?? 'an unspecified number of'} classes, but ${task}`,
    );
  }
}

function formatShape(shape: readonly (number | null)[]): string {
  return shape.map((d) => (d === null ? '?' : String(d))).join(', ');
}
