import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { getModelWeights, setModelWeights } from '../weights/model-weights';

/**
 * A user's own TF.js layers model on disk: the `model.json` + binary weight shards that
 * `tensorflowjs_converter --input_format keras` writes for a Keras model (or that
 * `model.save('file://...')` writes in TF.js), loaded with plain @tensorflow/tfjs on any backend
 * (no tfjs-node, no file:// handler), and turned into a model that outputs logits.
 */

/** What went wrong with a model on disk (the message always names the file). */
export type ModelFileErrorCode =
  /** model.json or a shard exists but cannot be read (or model.json does not exist). */
  | 'UNREADABLE'
  /** model.json is not a JSON object. */
  | 'NOT_JSON'
  /** A TF.js graph model (or no `modelTopology`): fedkd needs a layers model. */
  | 'GRAPH_MODEL'
  /** `weightsManifest` absent or malformed. */
  | 'BAD_MANIFEST'
  /** A weight shard listed in the manifest is not there. */
  | 'MISSING_SHARD'
  /** The shards hold more or fewer bytes than the manifest's weights need. */
  | 'SIZE_MISMATCH'
  /** A weight whose dtype (or quantisation) fedkd cannot use. */
  | 'UNSUPPORTED_DTYPE'
  /** TF.js could not build the model from its topology (unknown layer class, bad config...). */
  | 'TFJS_LOAD'
  /** The weights do not fit the topology (names, count or shapes). */
  | 'WEIGHTS_MISMATCH';

/** A model file that cannot be used; `file` is the absolute path of the file at fault. */
export class ModelFileError extends Error {
  constructor(
    readonly code: ModelFileErrorCode,
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'ModelFileError';
  }
}

const GRAPH_MODEL_ADVICE =
  'fedkd needs a layers model (convert Keras models with tensorflowjs_converter --input_format keras)';

/** Bytes per stored value of the quantisations TF.js's own weight decoder dequantises to float32. */
const QUANTIZED_BYTES: Readonly<Record<string, number>> = { uint8: 1, uint16: 2, float16: 2 };

/** One entry of a manifest group, as validated here (tf.io's WeightsManifestEntry). */
type ManifestEntry = tf.io.WeightsManifestEntry;

interface ManifestGroup {
  paths: string[];
  weights: ManifestEntry[];
}

/**
 * Loads a TF.js layers model from `model.json` and the weight shards its `weightsManifest` lists
 * (paths relative to model.json's folder, read from disk and concatenated per group in order).
 *
 * What is accepted: `format: 'layers-model'` (or no format) with a Keras/TF.js layers
 * `modelTopology` (`model_config` as tensorflowjs_converter writes it, or the bare
 * `{class_name, config}` TF.js writes); float32 weights, also when the converter quantised them
 * (`quantization.dtype` 'uint8', 'uint16' or 'float16' in the manifest): those are dequantised to
 * float32 by TF.js's own weight decoder (so they carry the quantisation error). Any other weight
 * dtype (int32, bool, string, complex64) is refused, except in optimizer state saved with the
 * model (manifest group 'optimizer', float32 or int32), which is read past and not used. Every
 * model weight in the manifest must match a weight of the topology by name and shape, and every
 * weight of the topology must be given.
 * The Keras `training_config` / TF.js `trainingConfig` (loss, optimizer) is ignored: the model is
 * returned uncompiled, and fedkd trains with its own loss and optimizer.
 *
 * Errors are ModelFileError, each naming the file at fault. The caller owns the returned model
 * (dispose it). The output may be probabilities: pass the model through toLogitsModel.
 */
export async function loadLayersModelFiles(modelJsonPath: string): Promise<tf.LayersModel> {
  const file = path.resolve(modelJsonPath);
  const json = parseModelJson(file, await readModelJson(file));
  const topology = json.modelTopology as Record<string, unknown>;
  const groups = parseManifest(file, json.weightsManifest);
  const specs: ManifestEntry[] = groups.flatMap((g) => g.weights);
  const weightData = await readWeightGroups(file, groups);

  // The topology alone first (no weights in the artifacts), then the weights with model.loadWeights,
  // so that a model whose weights do not fit is disposed instead of leaking its variables.
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: topology,
    format: typeof json.format === 'string' ? json.format : undefined,
    generatedBy: typeof json.generatedBy === 'string' ? json.generatedBy : undefined,
    convertedBy: typeof json.convertedBy === 'string' ? json.convertedBy : undefined,
  };
  if (isPlainObject(json.userDefinedMetadata)) artifacts.userDefinedMetadata = json.userDefinedMetadata as NonNullable<tf.io.ModelArtifacts['userDefinedMetadata']>;
  let model: tf.LayersModel;
  // TF.js builds layer by layer and leaks the variables of those built before a layer it cannot
  // build (a config it refuses, like a name that is not a string): those are disposed on failure.
  const variablesBefore = new Set(Object.keys(tf.engine().state.registeredVariables));
  try {
    // TF.js would build (and leak) the layers before an unknown one: check the class names first.
    const unknown = unknownLayerClasses(topology);
    // A name that is not a string fails only after its layer's initial weights exist (leaked): refuse it first.
    const unnamed = unknown.length === 0 ? unknownLayerClasses(topology, 'names') : [];
    if (unnamed.length > 0) {
      throw new Error(`layer names must be strings: ${unnamed.map((u) => `a '${u.className}' layer is named ${u.layer}`).join(', ')}`);
    }
    if (unknown.length > 0) {
      throw new Error(
        `unknown layer class${unknown.length > 1 ? 'es' : ''} ${unknown.map((u) => `'${u.className}' (layer '${u.layer}')`).join(', ')}: ` +
          'TF.js has no such layer (Lambda and custom layers cannot be loaded; rebuild the model from built-in layers)',
      );
    }
    model = await tf.loadLayersModel({ load: async () => artifacts });
  } catch (err) {
    for (const [name, variable] of Object.entries(tf.engine().state.registeredVariables)) if (!variablesBefore.has(name)) variable.dispose();
    throw new ModelFileError('TFJS_LOAD', file, `${file}: TF.js could not build a layers model from it: ${errorText(err)}${keras3Hint(json)}`);
  }
  let named: tf.NamedTensorMap = {};
  try {
    named = tf.io.decodeWeights(weightData, specs);
    const modelWeights: tf.NamedTensorMap = {};
    for (const spec of specs) if (spec.group !== 'optimizer') modelWeights[spec.name] = named[spec.name];
    model.loadWeights(modelWeights, true);
  } catch (err) {
    model.dispose();
    throw new ModelFileError('WEIGHTS_MISMATCH', file, `${file}: its weights do not fit its topology: ${errorText(err)}`);
  } finally {
    tf.dispose(Object.values(named));
  }
  return model;
}

async function readModelJson(file: string): Promise<string> {
  try {
    const text = await fs.readFile(file, 'utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist (fedkd needs the path of a TF.js model.json)'
        : code === 'EISDIR'
          ? 'is a directory (give the path of the model.json file itself)'
          : `cannot be read (${errorText(err)})`;
    throw new ModelFileError('UNREADABLE', file, `${file} ${why}`);
  }
}

function parseModelJson(file: string, text: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelFileError('NOT_JSON', file, `${file} is not JSON (${errorText(err)})`);
  }
  if (!isPlainObject(json)) {
    throw new ModelFileError('NOT_JSON', file, `${file} is not a TF.js model.json (it holds JSON, but not an object)`);
  }
  const topology = json.modelTopology;
  if (json.format === 'graph-model') {
    throw new ModelFileError('GRAPH_MODEL', file, `${file} is a TF.js graph model (format 'graph-model'); ${GRAPH_MODEL_ADVICE}`);
  }
  if (!isPlainObject(topology)) {
    throw new ModelFileError('GRAPH_MODEL', file, `${file} is a TF.js graph model (it has no layers modelTopology); ${GRAPH_MODEL_ADVICE}`);
  }
  if (Array.isArray(topology.node) && !('class_name' in topology) && !('model_config' in topology)) {
    throw new ModelFileError('GRAPH_MODEL', file, `${file} is a TF.js graph model (its modelTopology is a TensorFlow GraphDef); ${GRAPH_MODEL_ADVICE}`);
  }
  return json;
}

function parseManifest(file: string, manifest: unknown): ManifestGroup[] {
  const bad = (what: string): never => {
    throw new ModelFileError('BAD_MANIFEST', file, `${file}: ${what}`);
  };
  if (manifest === undefined || manifest === null) {
    bad('has no weightsManifest, so the trained weights are missing (fedkd needs model.json together with its .bin weight shards)');
  }
  if (!Array.isArray(manifest)) bad('weightsManifest must be an array of {paths, weights} groups');
  const names = new Set<string>();
  return (manifest as unknown[]).map((group, g) => {
    if (!isPlainObject(group)) return bad(`weightsManifest[${g}] is not an object`);
    const { paths, weights } = group;
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string' && p.length > 0)) {
      return bad(`weightsManifest[${g}].paths must be a non-empty list of file names`);
    }
    if (!Array.isArray(weights)) return bad(`weightsManifest[${g}].weights must be an array`);
    const entries = weights.map((w: unknown, i: number): ManifestEntry => {
      if (!isPlainObject(w) || typeof w.name !== 'string' || w.name.length === 0) {
        return bad(`weightsManifest[${g}].weights[${i}] needs a non-empty name`);
      }
      const where = `weight '${w.name}'`;
      if (names.has(w.name)) return bad(`${where} appears twice in weightsManifest`);
      names.add(w.name);
      if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
        return bad(`${where} needs a shape of non-negative integers`);
      }
      if (w.group === 'optimizer' && (w.dtype === 'float32' || w.dtype === 'int32') && w.quantization === undefined) {
        return w as unknown as ManifestEntry; // optimizer state saved with the model: read past, not used
      }
      if (w.dtype !== 'float32') {
        throw new ModelFileError(
          'UNSUPPORTED_DTYPE',
          file,
          `${file}: ${where} has dtype ${JSON.stringify(w.dtype)}; fedkd needs float32 weights`,
        );
      }
      if (w.quantization !== undefined) {
        const q = w.quantization;
        const qDtype = isPlainObject(q) ? q.dtype : undefined;
        if (typeof qDtype !== 'string' || !(qDtype in QUANTIZED_BYTES)) {
          throw new ModelFileError(
            'UNSUPPORTED_DTYPE',
            file,
            `${file}: ${where} is quantised as ${JSON.stringify(qDtype)}; fedkd reads float32 weights and ` +
              `float32 weights quantised as ${Object.keys(QUANTIZED_BYTES).join(', ')}`,
          );
        }
        if (qDtype !== 'float16' && !(isPlainObject(q) && typeof q.min === 'number' && typeof q.scale === 'number')) {
          return bad(`${where} is quantised as ${qDtype} but lacks the numbers min and scale`);
        }
      }
      return w as unknown as ManifestEntry;
    });
    return { paths: paths as string[], weights: entries };
  });
}

/** Bytes the manifest says a weight takes in its shard. */
function storedByteLength(entry: ManifestEntry): number {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  return count * (entry.quantization ? QUANTIZED_BYTES[entry.quantization.dtype] : 4);
}

async function readWeightGroups(file: string, groups: ManifestGroup[]): Promise<ArrayBuffer> {
  const dir = path.dirname(file);
  const parts: Uint8Array[] = [];
  for (const [g, group] of groups.entries()) {
    const shards: Uint8Array[] = [];
    for (const rel of group.paths) {
      const shardPath = path.resolve(dir, rel);
      try {
        shards.push(await fs.readFile(shardPath));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          throw new ModelFileError('MISSING_SHARD', shardPath, `${file}: weight shard '${rel}' is missing (looked for ${shardPath})`);
        }
        throw new ModelFileError('UNREADABLE', shardPath, `${file}: weight shard ${shardPath} cannot be read (${errorText(err)})`);
      }
    }
    const expected = group.weights.reduce((n, w) => n + storedByteLength(w), 0);
    const got = shards.reduce((n, s) => n + s.length, 0);
    if (got !== expected) {
      const which = groups.length > 1 ? ` of weight group ${g + 1}` : '';
      throw new ModelFileError(
        'SIZE_MISMATCH',
        file,
        `${file}: the weight shards${which} (${group.paths.join(', ')}) do not match the manifest's weights ` +
          `(expected ${expected} bytes, got ${got}): ${got < expected ? 'a shard is truncated' : 'a shard is longer than its weights'} ` +
          `or belongs to another model`,
      );
    }
    parts.push(...shards);
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out.buffer;
}

/**
 * Layer class names in the topology (nested models and wrapped layers included) that TF.js has not
 * registered; with `'names'`, the layers whose config gives a name that is not a string.
 */
function unknownLayerClasses(topology: Record<string, unknown>, check: 'classes' | 'names' = 'classes'): { className: string; layer: string }[] {
  const known = tf.serialization.SerializationMap.getMap().classNameMap;
  const found: { className: string; layer: string }[] = [];
  const visitLayer = (entry: unknown): void => {
    if (!isPlainObject(entry) || typeof entry.class_name !== 'string') return;
    const config = isPlainObject(entry.config) ? entry.config : {};
    if (check === 'names' && config.name !== undefined && config.name !== null && typeof config.name !== 'string') {
      found.push({ className: entry.class_name, layer: (JSON.stringify(config.name) ?? typeof config.name).slice(0, 40) });
    } else if (check === 'classes' && !(entry.class_name in known)) {
      found.push({ className: entry.class_name, layer: String(config.name ?? entry.name ?? '?') });
    }
    visitLayers(config.layers);
    visitLayer(config.layer);
  };
  const visitLayers = (layers: unknown): void => {
    if (Array.isArray(layers)) layers.forEach(visitLayer);
  };
  visitLayer(isPlainObject(topology.model_config) ? topology.model_config : topology);
  return found;
}

function keras3Hint(json: Record<string, unknown>): string {
  const keras3 = /^keras v3/i.test(String(json.generatedBy ?? '')) || JSON.stringify(json.modelTopology).includes('"batch_shape"');
  return keras3
    ? ' (this model.json looks like Keras 3\'s, whose layer configs TF.js 4.22 cannot read: save the model with Keras 2 / tf_keras before converting it)'
    : '';
}

/** How a model's single output applies softmax, if it does. */
export type OutputSoftmax = 'activation-argument' | 'activation-layer' | 'softmax-layer';

/**
 * Whether the layer that produces the model's (single) output applies softmax: a layer with
 * `activation: 'softmax'` (Dense, Conv2D, ... or an Activation layer), or a Softmax layer. Only
 * that last layer is looked at (a softmax followed by, say, a Reshape is not recognised).
 * Throws if the output comes from a nested model whose own output is a softmax (fedkd cannot
 * strip that one: save the model flat).
 */
export function outputSoftmax(model: tf.LayersModel): OutputSoftmax | null {
  requireSingleInputOutput(model, 'the model');
  const layer = model.outputs[0].sourceLayer;
  const kind = layerSoftmax(layer);
  if (kind === null && layer instanceof tf.LayersModel && layer.outputs.length === 1 && layerSoftmax(layer.outputs[0].sourceLayer) !== null) {
    throw new Error(
      `the model's output comes from the nested model '${layer.name}', whose last layer applies softmax; ` +
        'fedkd cannot remove a softmax inside a nested model: rebuild the model without nesting (or without the softmax)',
    );
  }
  return kind;
}

function layerSoftmax(layer: tf.layers.Layer): OutputSoftmax | null {
  const className = layer.getClassName();
  if (className === 'Softmax') return 'softmax-layer';
  const config = layer.getConfig() as { activation?: unknown };
  if (config.activation === 'softmax') return className === 'Activation' ? 'activation-layer' : 'activation-argument';
  return null;
}

/**
 * fedkd needs logits. If the model's single output comes from a softmax (a layer with
 * `activation: 'softmax'` such as Keras's final `Dense(C, activation='softmax')`, or a final
 * `Activation('softmax')` / `Softmax` layer), returns an equivalent model whose output is the
 * pre-softmax logits: the same topology rebuilt with that layer's activation set to linear (an
 * Activation/Softmax layer becomes an identity `Activation('linear')`, so layer indices, and so
 * fedkd's canonical weight names, do not change), with copies of the same weight values;
 * softmax(new(x)) equals old(x). The new model is independent of `model`: the caller owns both
 * (dispose the original when it is no longer needed).
 *
 * Otherwise the model is returned as it is (the same object, removedSoftmax false) and its output
 * is taken to be logits. Note that this includes outputs that are neither logits nor a softmax
 * (a sigmoid, say): distillation will treat them as logits.
 *
 * Models with several inputs or several outputs are refused (Error).
 */
export function toLogitsModel(model: tf.LayersModel): { model: tf.LayersModel; removedSoftmax: boolean } {
  const kind = outputSoftmax(model);
  if (kind === null) return { model, removedSoftmax: false };
  const outputName = model.outputs[0].sourceLayer.name;

  const className = model.getClassName();
  if (className !== 'Sequential' && className !== 'Model' && className !== 'Functional') {
    throw new Error(`cannot remove the softmax of a model of class ${className} (only Sequential and functional models)`);
  }
  // getConfig() is the TS-side (camelCase) form that fromConfig reads; deep-copied before editing.
  const config = JSON.parse(JSON.stringify(model.getConfig())) as { layers?: unknown };
  const entry = Array.isArray(config.layers)
    ? (config.layers as unknown[]).find(
        (l): l is { className: string; config: Record<string, unknown> } =>
          isPlainObject(l) && isPlainObject(l.config) && l.config.name === outputName,
      )
    : undefined;
  if (entry === undefined) throw new Error(`cannot find the output layer '${outputName}' in the model's configuration`);
  if (kind === 'softmax-layer') {
    const { name, trainable, dtype } = entry.config;
    entry.className = 'Activation';
    entry.config = { name, trainable, ...(dtype === undefined ? {} : { dtype }), activation: 'linear' };
  } else {
    entry.config.activation = 'linear';
  }

  const serializable = config as unknown as tf.serialization.ConfigDict;
  // fastWeightInit: the initialisers' values would be overwritten at once.
  const rebuilt =
    className === 'Sequential'
      ? tf.Sequential.fromConfig<tf.Sequential>(tf.Sequential, serializable, {}, true)
      : tf.LayersModel.fromConfig<tf.LayersModel>(tf.LayersModel, serializable, {}, true);
  try {
    setModelWeights(rebuilt, getModelWeights(model));
  } catch (err) {
    rebuilt.dispose();
    throw err;
  }
  return { model: rebuilt, removedSoftmax: true };
}

/** Throws unless the model has exactly one input and one output. */
export function requireSingleInputOutput(model: tf.LayersModel, what: string): void {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new Error(
      `${what} has ${model.inputs.length} inputs and ${model.outputs.length} outputs; ` +
        'fedkd needs a model with one input (an image or a feature vector) and one output (the class scores)',
    );
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
