import { createHash } from 'node:crypto';
import { selectInputs, type InputSet } from '@fedkd/engine';
import { splitEmbedded } from '../embedded-split';
import { decodeLearnedGenerator, generateLearnedImages } from './learned-generator';
import { generateSyntheticImages, type SyntheticGeneratorName } from './synthetic-generators';

/**
 * The ProxySource seam (DESIGN.md): a serialisable spec -> the proxy inputs, identical on every
 * machine that materialises the same spec. `public`: rows of the embedded public split, by index;
 * `synthetic`: a generator and a seed, plus the learned generator's public weights (the inputs
 * themselves never travel).
 */
export type ProxySourceSpec =
  | { kind: 'public'; splitSeed: number; indices: number[] }
  | { kind: 'synthetic'; generator: SyntheticGeneratorName; seed: number; count: number }
  | { kind: 'synthetic'; generator: 'learned'; seed: number; count: number; weights: Uint8Array };

/** Every generator a synthetic proxy may name: the fixed ones, and the one the coordinator trains. */
export const PROXY_GENERATORS = ['strokes', 'noise', 'learned'] as const;
export type ProxyGeneratorName = (typeof PROXY_GENERATORS)[number];

const publicSplits = new Map<number, InputSet>();

export function materialiseProxy(spec: ProxySourceSpec): InputSet {
  if (spec.kind === 'synthetic') {
    if (spec.generator === 'learned') return generateLearnedImages(decodeLearnedGenerator(spec.weights), spec.seed, spec.count);
    return generateSyntheticImages(spec.generator, spec.seed, spec.count);
  }
  let pool = publicSplits.get(spec.splitSeed);
  if (!pool) {
    pool = splitEmbedded(spec.splitSeed).publicProxy.dataset;
    publicSplits.set(spec.splitSeed, pool);
  }
  return selectInputs(pool, spec.indices);
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
