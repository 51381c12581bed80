import { createHash } from 'node:crypto';
import { selectInputs, type InputSet } from '@fedkd/engine';
import { loadEmbeddedPart } from '../sources/embedded-source';
import type { EmbeddedDatasetName } from '../sources/dataset-source';
import { decodeLearnedGenerator, generateLearnedImages } from './learned-generator';
import { generateSyntheticImages, type SyntheticGeneratorName } from './synthetic-generators';

/**
 * The public set a `public` proxy takes rows of: an embedded data set's public split (every party
 * derives it from the split seed), or the coordinator's own unlabelled inputs (`--proxy-data`),
 * named by the SHA-256 of their float32 values (proxyInputsSha256), which clients fetch once.
 */
export type PublicSetRef =
  | { source: 'embedded'; dataset: EmbeddedDatasetName; splitSeed: number }
  | { source: 'coordinator'; sha256: string; count: number; inputShape: number[] };

/** Finds a coordinator public set by its SHA-256 (undefined when this process does not hold it). */
export type PublicSetLookup = (sha256: string) => InputSet | undefined;

/**
 * The ProxySource seam (DESIGN.md): a serialisable spec -> the proxy inputs, identical on every
 * machine that materialises the same spec. `public`: rows of a public set, by index;
 * `synthetic`: a generator and a seed, plus the learned generator's public weights (the inputs
 * themselves never travel).
 */
export type ProxySourceSpec =
  | { kind: 'public'; set: PublicSetRef; indices: number[] }
  | { kind: 'synthetic'; generator: SyntheticGeneratorName; seed: number; count: number }
  | { kind: 'synthetic'; generator: 'learned'; seed: number; count: number; weights: Uint8Array };

/** Every generator a synthetic proxy may name: the fixed ones, and the one the coordinator trains. */
export const PROXY_GENERATORS = ['strokes', 'noise', 'learned'] as const;
export type ProxyGeneratorName = (typeof PROXY_GENERATORS)[number];

const embeddedProxies = new Map<string, InputSet>();

/**
 * The proxy inputs of `spec`. A coordinator set is looked up with `lookup` (the coordinator holds
 * its own; a client fetches it first): missing, it is an error naming its digest.
 */
export function materialiseProxy(spec: ProxySourceSpec, lookup: PublicSetLookup = () => undefined): InputSet {
  if (spec.kind === 'synthetic') {
    if (spec.generator === 'learned') return generateLearnedImages(decodeLearnedGenerator(spec.weights), spec.seed, spec.count);
    return generateSyntheticImages(spec.generator, spec.seed, spec.count);
  }
  return selectInputs(publicSet(spec.set, lookup), spec.indices);
}

/** The whole public set a reference names (embedded splits are cached per process). */
export function publicSet(ref: PublicSetRef, lookup: PublicSetLookup = () => undefined): InputSet {
  if (ref.source === 'coordinator') {
    const set = lookup(ref.sha256);
    if (!set) throw new Error(`the coordinator's public set ${ref.sha256.slice(0, 12)}… is not held here`);
    return set;
  }
  const key = `${ref.dataset}/${ref.splitSeed}`;
  let pool = embeddedProxies.get(key);
  if (!pool) {
    pool = loadEmbeddedPart(ref.dataset, 'proxy', ref.splitSeed);
    embeddedProxies.set(key, pool);
  }
  return pool;
}

/** SHA-256 (hex) of materialised proxy inputs, as float32 bytes: what the coordinator announces for synthetic proxies. */
export function proxyInputsSha256(inputs: InputSet): string {
  return createHash('sha256').update(inputs.values.subarray(0, inputs.count * inputs.inputShape.reduce((a, b) => a * b, 1))).digest('hex');
}

/**
 * A synthetic proxy regenerated here must be the coordinator's inputs bit for bit: a runtime that
 * computes the generator differently (another V8's Math.exp) would otherwise answer about other
 * inputs and poison the aggregate silently. Throws, naming both digests, when they differ.
 */
export function checkProxyInputs(inputs: InputSet, expectedSha256: string): void {
  const actual = proxyInputsSha256(inputs);
  if (actual !== expectedSha256) {
    throw new Error(`the regenerated inputs differ from the coordinator's (SHA-256 ${actual.slice(0, 12)}… here, ${expectedSha256.slice(0, 12)}… announced): this runtime computes the generator differently`);
  }
}

export function proxySize(spec: ProxySourceSpec): number {
  return spec.kind === 'synthetic' ? spec.count : spec.indices.length;
}

/** Rows a coordinator set's `proxy.fetch` chunk may hold so that it stays under `maxBytes`. */
export function rowsPerChunk(inputShape: readonly number[], maxBytes: number): number {
  return Math.max(1, Math.floor(maxBytes / (4 * inputShape.reduce((a, b) => a * b, 1))));
}
