import { selectImages, type ImageSet } from '@fedkd/engine';
import { splitEmbedded } from '../embedded-split';
import { generateSyntheticImages, type SyntheticGeneratorName } from './synthetic-generators';

/**
 * The ProxySource seam (DESIGN.md): a serialisable spec -> the proxy inputs, identical on every
 * machine that materialises the same spec. `public`: rows of the embedded public split, by index;
 * `synthetic`: a generator and a seed (the inputs themselves never travel).
 */
export type ProxySourceSpec =
  | { kind: 'public'; splitSeed: number; indices: number[] }
  | { kind: 'synthetic'; generator: SyntheticGeneratorName; seed: number; count: number };

const publicSplits = new Map<number, ImageSet>();

export function materialiseProxy(spec: ProxySourceSpec): ImageSet {
  if (spec.kind === 'synthetic') return generateSyntheticImages(spec.generator, spec.seed, spec.count);
  let pool = publicSplits.get(spec.splitSeed);
  if (!pool) {
    pool = splitEmbedded(spec.splitSeed).publicProxy.dataset;
    publicSplits.set(spec.splitSeed, pool);
  }
  return selectImages(pool, spec.indices);
}

export function proxySize(spec: ProxySourceSpec): number {
  return spec.kind === 'synthetic' ? spec.count : spec.indices.length;
}
