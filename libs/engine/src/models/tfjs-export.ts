import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { canonicalJson } from '../weights/spec-check';
import { requireSingleInputOutput } from './layers-model-files';

/**
 * A model as the two files of a standard TF.js layers model: `model.json` (topology + weights
 * manifest) and `weights.bin` (every weight, float32, little-endian, in manifest order). Stock
 * `tf.loadLayersModel('http://host/models/N/model.json')` loads it in a browser or in Node (it
 * fetches weights.bin beside model.json); so does `tf.loadLayersModel('file://...')` with
 * tfjs-node, and fedkd's own loadLayersModelFiles.
 */
export interface TfjsModelFiles {
  /** UTF-8 bytes of model.json. */
  modelJson: Uint8Array;
  /** Bytes of weights.bin. */
  weights: Uint8Array;
}

export interface ExportTfjsOptions {
  /**
   * true: the exported model ends with a softmax Activation layer (named 'probabilities') on top
   * of the logits, so consumers get class probabilities (rows summing to 1). false: it outputs
   * the logits, as fedkd's models do.
   */
  probabilities: boolean;
  /**
   * A plain JSON object (strings, finite numbers, booleans, null, arrays and objects) stored as the
   * model.json's `userDefinedMetadata`, which stock loaders read and hand back from
   * `model.getUserDefinedMetadata()`. Metadata the model itself carries is not exported.
   */
  metadata?: Record<string, unknown>;
}

/** The file names of an export (weights.bin is referenced relatively from model.json). */
export const TFJS_MODEL_JSON = 'model.json';
export const TFJS_WEIGHTS_BIN = 'weights.bin';

const PROBABILITIES_LAYER = 'probabilities';
const EXPORTED_MODEL_NAME = 'fedkd_model';

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

/**
 * Exports a single-input, single-output model as the bytes of model.json and weights.bin.
 *
 * model.json: `format: 'layers-model'`, the topology (`modelTopology`, as `model.save` writes it),
 * one `weightsManifest` group `{ paths: ['weights.bin'], weights: [...] }` of float32 weights,
 * `userDefinedMetadata` (options.metadata, if given) and a top-level `fedkd: { output:
 * 'probabilities' | 'logits' }` that loaders ignore (tf.io copies only the fields it knows).
 * No training configuration and no optimizer state.
 *
 * Deterministic: keys are sorted, and the model and its layers get canonical names (layer i is
 * `<its class in snake_case>_<i>`, e.g. `conv2d_1`, `dense_5`; the model is 'fedkd_model'; weights
 * `dense_5/kernel`...), so the same architecture (initialiser seeds included) and
 * weights give the same bytes in any process, whatever names TF.js generated for the layers
 * (models that nest other models keep their own names). The model itself is not changed.
 */
export async function exportTfjsModel(model: tf.LayersModel, options: ExportTfjsOptions): Promise<TfjsModelFiles> {
  requireSingleInputOutput(model, 'the model to export');
  const metadata = options.metadata === undefined ? undefined : checkedMetadata(options.metadata);
  const artifacts = await saveArtifacts(model);
  const topology = artifacts.modelTopology;
  if (!isPlainObject(topology)) throw new Error('model.save gave no JSON topology');
  const specs = (artifacts.weightSpecs ?? []).map((s): WeightSpec => {
    if (s.dtype !== 'float32' || s.quantization !== undefined) {
      throw new Error(`weight '${s.name}' has dtype ${s.dtype}${s.quantization ? ' (quantised)' : ''}; the export writes float32 weights only`);
    }
    return { name: s.name, shape: [...s.shape], dtype: 'float32' };
  });
  const weights = concatWeightData(artifacts.weightData);
  const expectedBytes = specs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  if (weights.length !== expectedBytes) {
    throw new Error(`model.save gave ${weights.length} weight bytes for weights that need ${expectedBytes}`);
  }

  const renamed = canonicalNames(topology, specs);
  const finalTopology = renamed?.topology ?? structuredClone(topology);
  const finalSpecs = renamed?.specs ?? specs;
  if (options.probabilities) appendSoftmax(finalTopology);

  const modelJson: Record<string, unknown> = {
    format: 'layers-model',
    generatedBy: artifacts.generatedBy ?? 'TensorFlow.js',
    convertedBy: 'fedkd',
    modelTopology: finalTopology,
    weightsManifest: [{ paths: [TFJS_WEIGHTS_BIN], weights: finalSpecs }],
    fedkd: { output: options.probabilities ? 'probabilities' : 'logits' },
  };
  if (metadata !== undefined) modelJson.userDefinedMetadata = metadata;
  return { modelJson: new TextEncoder().encode(JSON.stringify(canonicalJson(modelJson))), weights };
}

/**
 * Writes an export as `dir/model.json` and `dir/weights.bin` (creating dir), each through a
 * temporary file and a rename, weights first. Returns the two paths (model.json first).
 */
export function writeTfjsModel(dir: string, exported: TfjsModelFiles): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const files: [string, Uint8Array][] = [
    [path.join(dir, TFJS_WEIGHTS_BIN), exported.weights],
    [path.join(dir, TFJS_MODEL_JSON), exported.modelJson],
  ];
  for (const [file, bytes] of files) {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
  }
  return [files[1][0], files[0][0]];
}

async function saveArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    { includeOptimizer: false },
  );
  if (saved === undefined) throw new Error('model.save did not call its save handler');
  return saved;
}

function concatWeightData(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  const buffers = Array.isArray(data) ? data : [data];
  const out = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
  let at = 0;
  for (const b of buffers) {
    out.set(new Uint8Array(b), at);
    at += b.byteLength;
  }
  return out;
}

type LayerEntry = Record<string, unknown> & { class_name: string; config: Record<string, unknown> };

function layerEntries(topology: Record<string, unknown>): LayerEntry[] | null {
  const config = topology.config;
  if (!isPlainObject(config) || !Array.isArray(config.layers)) return null;
  const layers = config.layers as unknown[];
  const ok = layers.every(
    (l) => isPlainObject(l) && typeof l.class_name === 'string' && isPlainObject(l.config) && typeof l.config.name === 'string',
  );
  return ok ? (layers as LayerEntry[]) : null;
}

/** Class names of functional models: TF.js's own and Keras 2.13+'s (TF.js registers both). */
const FUNCTIONAL_CLASSES = new Set(['Model', 'Functional']);
const NESTED_MODEL_CLASSES = new Set(['Sequential', ...FUNCTIONAL_CLASSES]);

/**
 * The topology and weight specs with canonical layer names (`<snake class>_<index>`) and model
 * name; null (keep the names) when this cannot be done safely: not a plain Sequential or
 * functional model, a nested model, or a weight whose name does not start with its layer's.
 */
function canonicalNames(
  topology: Record<string, unknown>,
  specs: WeightSpec[],
): { topology: Record<string, unknown>; specs: WeightSpec[] } | null {
  const copy = structuredClone(topology);
  const className = copy.class_name;
  if (className !== 'Sequential' && !FUNCTIONAL_CLASSES.has(String(className))) return null;
  const layers = layerEntries(copy);
  if (layers === null || layers.some((l) => NESTED_MODEL_CLASSES.has(l.class_name))) return null;
  const names = new Map<string, string>();
  layers.forEach((l, i) => names.set(l.config.name as string, `${snakeCase(l.class_name)}_${i}`));
  if (names.size !== layers.length) return null;

  const renamedSpecs: WeightSpec[] = [];
  for (const spec of specs) {
    const slash = spec.name.indexOf('/');
    const owner = slash > 0 ? names.get(spec.name.slice(0, slash)) : undefined;
    if (owner === undefined) return null;
    renamedSpecs.push({ ...spec, name: owner + spec.name.slice(slash) });
  }
  if (new Set(renamedSpecs.map((s) => s.name)).size !== renamedSpecs.length) return null;

  const rename = (name: unknown): unknown => (typeof name === 'string' && names.has(name) ? names.get(name) : name);
  const config = copy.config as Record<string, unknown>;
  config.name = EXPORTED_MODEL_NAME;
  for (const l of layers) {
    l.config.name = rename(l.config.name);
    if ('name' in l) l.name = rename(l.name);
    if (Array.isArray(l.inbound_nodes)) {
      for (const node of l.inbound_nodes as unknown[]) {
        if (!Array.isArray(node)) return null;
        for (const ref of node as unknown[]) {
          if (!Array.isArray(ref)) return null;
          ref[0] = rename(ref[0]);
        }
      }
    }
  }
  for (const key of ['input_layers', 'output_layers']) {
    const refs = config[key];
    if (refs === undefined) continue;
    if (!Array.isArray(refs)) return null;
    for (const ref of refs as unknown[]) {
      if (!Array.isArray(ref)) return null;
      ref[0] = rename(ref[0]);
    }
  }
  return { topology: copy, specs: renamedSpecs };
}

/** Appends a softmax Activation layer after the (single) output, in place. */
function appendSoftmax(topology: Record<string, unknown>): void {
  const layers = layerEntries(topology);
  if (layers === null) throw new Error('cannot append a softmax: the topology has no layer list');
  const taken = new Set(layers.map((l) => l.config.name as string));
  let name = PROBABILITIES_LAYER;
  for (let k = 1; taken.has(name); k++) name = `${PROBABILITIES_LAYER}_${k}`;
  const layerConfig = { name, trainable: true, dtype: 'float32', activation: 'softmax' };
  const config = topology.config as Record<string, unknown>;
  if (topology.class_name === 'Sequential') {
    layers.push({ class_name: 'Activation', config: layerConfig });
    return;
  }
  const outputs = config.output_layers;
  if (!FUNCTIONAL_CLASSES.has(String(topology.class_name)) || !Array.isArray(outputs) || outputs.length !== 1 || !Array.isArray(outputs[0])) {
    throw new Error(`cannot append a softmax to a model of class ${String(topology.class_name)} with these outputs`);
  }
  const [layerName, nodeIndex, tensorIndex] = outputs[0] as unknown[];
  layers.push({ name, class_name: 'Activation', config: layerConfig, inbound_nodes: [[[layerName, nodeIndex, tensorIndex, {}]]] });
  config.output_layers = [[name, 0, 0]];
}

/** 'MaxPooling2D' -> 'max_pooling2d', 'Conv2D' -> 'conv2d', 'InputLayer' -> 'input_layer' (as Keras names layers). */
function snakeCase(className: string): string {
  return className
    .replace(/(.)([A-Z][a-z0-9]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
}

/** A deep copy of metadata, which must be plain JSON (so that it survives JSON and tf's check). */
function checkedMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const visit = (value: unknown, where: string): void => {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new TypeError(`metadata${where} is ${value}, which JSON cannot hold`);
      return;
    }
    if (Array.isArray(value)) return value.forEach((v, i) => visit(v, `${where}[${i}]`));
    if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      for (const [k, v] of Object.entries(value)) visit(v, `${where}.${k}`);
      return;
    }
    throw new TypeError(`metadata${where} is not plain JSON (got ${typeof value === 'object' ? 'an instance of ' + (value as object).constructor?.name : typeof value})`);
  };
  if (!isPlainObject(metadata)) throw new TypeError('metadata must be a plain object');
  visit(metadata, '');
  return structuredClone(metadata);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
