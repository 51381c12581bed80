import { createHash } from 'node:crypto';
import { SeededRng, type InputSet } from '@fedkd/engine';

/**
 * The learned synthetic generator of the data-free mode. Class-conditional and deliberately small,
 * so that its weights can cross the wire every round and every client regenerates bit-identical
 * inputs in plain JavaScript (no TensorFlow kernel, so no backend-dependent rounding):
 *
 *   centre(z, y) = templates[y] + directions · z          (logits of the 28x28 pixels)
 *   pair(z, y, e) = sigmoid(centre ± sigma · upsample(e)), e a coarse resolution x resolution normal field
 *
 * Inputs come in antithetic pairs (+e, -e): the difference of the federation's answers on a pair
 * is a zeroth-order estimate of how the answers change along e, which is all the coordinator needs
 * to train the templates against black-box teachers. `templates` are learned; `directions` (the
 * within-class variation) are fixed random values regenerated from `directionSeed`, so only the
 * templates travel. Nothing here was trained on private data: its weights are public.
 */
export interface LearnedGenerator {
  classes: number;
  side: number;
  latent: number;
  /** Spread of the pair perturbation, in logits. */
  sigma: number;
  /** Side of the coarse perturbation field (upsampled to `side` by nearest neighbour). */
  resolution: number;
  directionSeed: number;
  /** Scale of the fixed random variation directions. */
  directionScale: number;
  /** [classes x side*side] pixel logits: what the coordinator learns. */
  templates: Float32Array;
}

/** What generating a round's inputs also gives the coordinator: each pair's class and perturbation. */
export interface LearnedGeneration extends InputSet {
  /** Intended class of pair i (inputs 2i and 2i+1). */
  pairClasses: Int32Array;
  /** [pairs x resolution*resolution] coarse perturbation of each pair. */
  perturbations: Float32Array;
}

/** Whether a materialised proxy came from the learned generator (and so carries its pairs). */
export function isLearnedGeneration(set: InputSet): set is LearnedGeneration {
  return 'pairClasses' in set && 'perturbations' in set;
}

export const LEARNED_GENERATOR_DEFAULTS = { classes: 10, side: 28, latent: 16, sigma: 1, resolution: 7, directionScale: 0.3 } as const;

/** The untrained generator: small random templates, i.e. smooth-ish noise around grey. */
export function initialLearnedGenerator(seed: number, options: Partial<Omit<LearnedGenerator, 'templates' | 'directionSeed'>> = {}): LearnedGenerator {
  const shape = { ...LEARNED_GENERATOR_DEFAULTS, ...options };
  const rng = new SeededRng(seed).fork('learned-generator-init');
  const templates = new Float32Array(shape.classes * shape.side * shape.side);
  for (let i = 0; i < templates.length; i++) templates[i] = rng.normal(0, 0.5);
  const generator = { ...shape, directionSeed: rng.nextUint32(), templates };
  checkGenerator(generator);
  return generator;
}

/** `count` (even) inputs: count/2 antithetic pairs, classes in turn. Deterministic in (generator, seed, count). */
export function generateLearnedImages(generator: LearnedGenerator, seed: number, count: number): LearnedGeneration {
  if (!Number.isInteger(count) || count < 2 || count % 2 !== 0 || count > 100_000) {
    throw new RangeError(`the learned generator makes inputs in pairs: count must be an even integer in [2, 100000], got ${count}`);
  }
  const { classes, side, latent, sigma, resolution, templates } = generator;
  const pixels = side * side;
  const directions = directionsOf(generator);
  const rng = new SeededRng(seed).fork('learned-generator-inputs');
  const pairs = count / 2;
  const values = new Float32Array(count * pixels);
  const pairClasses = new Int32Array(pairs);
  const perturbations = new Float32Array(pairs * resolution * resolution);
  const coarse = coarseIndex(side, resolution);
  const z = new Float64Array(latent);
  for (let i = 0; i < pairs; i++) {
    const y = i % classes;
    pairClasses[i] = y;
    for (let j = 0; j < latent; j++) z[j] = rng.normal();
    const e = perturbations.subarray(i * resolution * resolution, (i + 1) * resolution * resolution);
    for (let k = 0; k < e.length; k++) e[k] = rng.normal();
    const plus = values.subarray(2 * i * pixels, (2 * i + 1) * pixels);
    const minus = values.subarray((2 * i + 1) * pixels, (2 * i + 2) * pixels);
    for (let p = 0; p < pixels; p++) {
      let v = templates[y * pixels + p];
      for (let j = 0; j < latent; j++) v += directions[p * latent + j] * z[j];
      const d = sigma * e[coarse[p]];
      plus[p] = sigmoid(v + d);
      minus[p] = sigmoid(v - d);
    }
  }
  return { values, count, inputShape: [side, side, 1], pairClasses, perturbations };
}

/** For pixel p of a side x side image, the cell of the coarse resolution x resolution field it takes. */
export function coarseIndex(side: number, resolution: number): Int32Array {
  const index = new Int32Array(side * side);
  for (let p = 0; p < index.length; p++) index[p] = Math.floor((Math.floor(p / side) * resolution) / side) * resolution + Math.floor(((p % side) * resolution) / side);
  return index;
}

function directionsOf(generator: LearnedGenerator): Float32Array {
  const rng = new SeededRng(generator.directionSeed).fork('learned-generator-directions');
  const directions = new Float32Array(generator.side * generator.side * generator.latent);
  for (let i = 0; i < directions.length; i++) directions[i] = rng.normal(0, generator.directionScale);
  return directions;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

// --- wire form: "FKDG", u32 header length, JSON header (shape + SHA-256 of the body), float32 templates.

const MAGIC = [0x46, 0x4b, 0x44, 0x47];
/** Far above any sensible generator (10 x 28 x 28 float32 is 31 KiB): refuse before parsing. */
export const MAX_GENERATOR_BYTES = 1 << 20; // the same limit as the protocol's MAX_GENERATOR_WEIGHTS_BYTES

export function encodeLearnedGenerator(generator: LearnedGenerator): Uint8Array {
  checkGenerator(generator);
  const { templates, ...shape } = generator;
  const body = new Uint8Array(templates.buffer.slice(templates.byteOffset, templates.byteOffset + templates.byteLength));
  const header = new TextEncoder().encode(JSON.stringify({ ...shape, sha256: sha256(body) }));
  const blob = new Uint8Array(8 + header.length + body.length);
  blob.set(MAGIC, 0);
  new DataView(blob.buffer).setUint32(4, header.length, true);
  blob.set(header, 8);
  blob.set(body, 8 + header.length);
  return blob;
}

/** Decodes and checks a generator blob; any damage or nonsense is a RangeError that says what is wrong. */
export function decodeLearnedGenerator(blob: Uint8Array): LearnedGenerator {
  const fail = (why: string): never => {
    throw new RangeError(`learned generator weights rejected: ${why}`);
  };
  if (!(blob instanceof Uint8Array)) fail('not bytes');
  if (blob.length > MAX_GENERATOR_BYTES) fail(`${blob.length} bytes is over the ${MAX_GENERATOR_BYTES}-byte limit`);
  if (blob.length < 8 || MAGIC.some((b, i) => blob[i] !== b)) fail('not a generator blob (bad magic)');
  const headerLength = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(4, true);
  if (8 + headerLength > blob.length) fail('truncated header');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(blob.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch {
    return fail('header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('header is not a JSON object');
  const body = blob.slice(8 + headerLength);
  if (header.sha256 !== sha256(body)) fail('body does not match its SHA-256');
  if (body.length % 4 !== 0) fail('body is not float32');
  const { sha256: _digest, ...shape } = header;
  const generator = { ...(shape as Omit<LearnedGenerator, 'templates'>), templates: new Float32Array(body.buffer, body.byteOffset, body.length / 4) };
  checkGenerator(generator, fail);
  return generator;
}

function checkGenerator(g: LearnedGenerator, fail: (why: string) => never = (why) => { throw new RangeError(`learned generator: ${why}`); }): void {
  // A header field may be any JSON value: shown as JSON, cut short (String() throws for {"toString": 1}).
  const shown = (v: unknown) => (JSON.stringify(v) ?? typeof v).slice(0, 40);
  const integer = (name: keyof LearnedGenerator, min: number, max: number) => {
    const v = g[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${name} must be an integer in [${min}, ${max}], got ${shown(v)}`);
  };
  const positive = (name: keyof LearnedGenerator) => {
    const v = g[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 100) fail(`${name} must be a number in (0, 100], got ${shown(v)}`);
  };
  integer('classes', 2, 1000);
  integer('side', 1, 256);
  integer('latent', 0, 256);
  integer('resolution', 1, g.side);
  integer('directionSeed', 0, 2 ** 32 - 1);
  positive('sigma');
  positive('directionScale');
  const expected = Object.keys({ ...LEARNED_GENERATOR_DEFAULTS, directionSeed: 0, templates: 0 }).sort().join(',');
  if (Object.keys(g).sort().join(',') !== expected) fail(`fields must be ${expected}`);
  if (!(g.templates instanceof Float32Array) || g.templates.length !== g.classes * g.side * g.side) fail(`templates must be ${g.classes} x ${g.side * g.side} float32`);
  if (!g.templates.every(Number.isFinite)) fail('templates hold NaN or infinity');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
