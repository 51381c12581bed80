import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { materialiseProxy } from './proxy-source';
import { generateSyntheticImages } from './synthetic-generators';

const digest = (images: Float32Array) => createHash('sha256').update(Buffer.from(images.buffer)).digest('hex');

describe('proxy sources', () => {
  it('gives two machines bit-identical synthetic inputs from the same generator and seed, and others from another seed', () => {
    const a = generateSyntheticImages('strokes', 42, 200);
    const b = generateSyntheticImages('strokes', 42, 200);
    expect(digest(a.values)).toBe(digest(b.values));
    expect(digest(generateSyntheticImages('strokes', 43, 200).values)).not.toBe(digest(a.values));
  });

  it('draws strokes that look like pen on paper: mostly blank, some ink, values in [0, 1]', () => {
    const { values, count } = generateSyntheticImages('strokes', 1, 500);
    const inked = values.filter((v) => v > 0.5).length / values.length;
    expect(values.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(inked).toBeGreaterThan(0.03);
    expect(inked).toBeLessThan(0.35);
    expect(count).toBe(500);
  });

  it('materialises a public spec as those rows of the public split', () => {
    const set = { source: 'embedded', dataset: 'mnist', splitSeed: 0 } as const;
    const rows = materialiseProxy({ kind: 'public', set, indices: [5, 2] });
    const all = materialiseProxy({ kind: 'public', set, indices: [0, 1, 2, 3, 4, 5] });
    expect(Array.from(rows.values.subarray(0, 784))).toEqual(Array.from(all.values.subarray(5 * 784, 6 * 784)));
  });

  it('rejects an unknown generator or a bad count, naming them', () => {
    expect(() => generateSyntheticImages('gan' as never, 1, 10)).toThrow(/unknown synthetic generator 'gan'/);
    expect(() => generateSyntheticImages('noise', 1, 0)).toThrow(/count/);
  });
});
