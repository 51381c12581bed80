import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeLearnedGenerator, encodeLearnedGenerator, generateLearnedImages, initialLearnedGenerator, MAX_GENERATOR_BYTES } from './learned-generator';
import { checkProxyInputs, materialiseProxy, proxyInputsSha256 } from './proxy-source';

const digest = (images: Float32Array) => createHash('sha256').update(Buffer.from(images.buffer, images.byteOffset, images.byteLength)).digest('hex');

describe('learned generator', () => {
  it('gives two clients that decoded the same weights bit-identical inputs for a seed, and other inputs for another seed', () => {
    const blob = encodeLearnedGenerator(initialLearnedGenerator(7));
    const a = materialiseProxy({ kind: 'synthetic', generator: 'learned', seed: 99, count: 200, weights: blob.slice() });
    const b = materialiseProxy({ kind: 'synthetic', generator: 'learned', seed: 99, count: 200, weights: blob.slice() });
    expect(digest(a.values)).toBe(digest(b.values));
    expect(digest(materialiseProxy({ kind: 'synthetic', generator: 'learned', seed: 100, count: 200, weights: blob }).values)).not.toBe(digest(a.values));
    expect(a.inputShape).toEqual([28, 28, 1]);
    expect(a.values.every((v) => v > 0 && v < 1)).toBe(true);
  });

  it('lets a client check its regenerated inputs against the announced digest, refusing any difference with both digests', () => {
    const spec = { kind: 'synthetic' as const, generator: 'learned' as const, seed: 3, count: 20, weights: encodeLearnedGenerator(initialLearnedGenerator(2)) };
    const inputs = materialiseProxy(spec);
    const announced = proxyInputsSha256(inputs);
    expect(() => checkProxyInputs(materialiseProxy(spec), announced)).not.toThrow();
    const drifted = { ...inputs, values: Float32Array.from(inputs.values) };
    drifted.values[500] = Math.fround(drifted.values[500] * (1 + 2 ** -20)); // one pixel, last bits only
    expect(() => checkProxyInputs(drifted, announced)).toThrow(/regenerated inputs differ from the coordinator's \(SHA-256 [0-9a-f]{12}… here, [0-9a-f]{12}… announced\)/);
  });

  it('makes antithetic pairs: the two inputs of a pair straddle the same centre, classes take turns', () => {
    const generator = initialLearnedGenerator(1);
    const { values, pairClasses, perturbations } = generateLearnedImages(generator, 5, 40);
    expect(Array.from(pairClasses)).toEqual(Array.from({ length: 20 }, (_, i) => i % 10));
    expect(perturbations.length).toBe(20 * 7 * 7);
    const logit = (p: number) => Math.log(p / (1 - p));
    // logit(x+) - logit(x-) = 2 sigma e at every pixel (pixel 0 lies in coarse cell 0).
    const pair = 3;
    const gap = logit(values[2 * pair * 784]) - logit(values[(2 * pair + 1) * 784]);
    expect(gap).toBeCloseTo(2 * generator.sigma * perturbations[pair * 49], 4);
  });

  it('round-trips its weights and refuses damaged or nonsensical blobs with a reason', () => {
    const generator = initialLearnedGenerator(3);
    const blob = encodeLearnedGenerator(generator);
    expect(blob.byteLength).toBeLessThan(33_000);
    const back = decodeLearnedGenerator(blob);
    expect(Array.from(back.templates)).toEqual(Array.from(generator.templates));
    expect({ ...back, templates: null }).toEqual({ ...generator, templates: null });

    const flipped = blob.slice();
    flipped[blob.length - 5] ^= 0x10;
    expect(() => decodeLearnedGenerator(flipped)).toThrow(/does not match its SHA-256/);
    expect(() => decodeLearnedGenerator(new Uint8Array([1, 2, 3, 4, 0, 0, 0, 0]))).toThrow(/bad magic/);
    expect(() => decodeLearnedGenerator(blob.subarray(0, 20))).toThrow(/truncated header/);
    expect(() => decodeLearnedGenerator(new Uint8Array(MAX_GENERATOR_BYTES + 1))).toThrow(/over the/);
    const poisoned = { ...generator, templates: Float32Array.from(generator.templates) };
    poisoned.templates[10] = Number.NaN;
    expect(() => encodeLearnedGenerator(poisoned)).toThrow(/NaN/);
    expect(() => encodeLearnedGenerator({ ...generator, resolution: 40 })).toThrow(/resolution/);
  });

  it('refuses an odd or out-of-range count, naming it', () => {
    const generator = initialLearnedGenerator(0);
    expect(() => generateLearnedImages(generator, 1, 7)).toThrow(/even integer/);
    expect(() => generateLearnedImages(generator, 1, 0)).toThrow(/even integer/);
  });
});
