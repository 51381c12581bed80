import { describe, expect, it } from 'vitest';
import { concatImages, selectImages, type ImageSet } from './image-set';

const set = (values: number[], shape: [number, number, number] = [1, 2, 1]): ImageSet => ({ images: Float32Array.from(values), count: values.length / (shape[0] * shape[1] * shape[2]), imageShape: shape });

describe('image sets', () => {
  it('concatenates sets in order into a new set', () => {
    const a = set([1, 2, 3, 4]);
    const both = concatImages([a, set([5, 6])]);
    expect(both.count).toBe(3);
    expect(Array.from(both.images)).toEqual([1, 2, 3, 4, 5, 6]);
    both.images[0] = 9;
    expect(a.images[0]).toBe(1);
  });

  it('refuses sets of different image shapes, or none', () => {
    expect(() => concatImages([set([1, 2]), set([3, 4]), set([1, 2, 3, 4], [1, 1, 4])])).toThrow(/set 2 has images 1x1x4, not 1x2x1/);
    expect(() => concatImages([])).toThrow(/at least one/);
  });

  it('selects rows by index and names an index outside the set', () => {
    expect(Array.from(selectImages(set([1, 2, 3, 4]), [1, 0]).images)).toEqual([3, 4, 1, 2]);
    expect(() => selectImages(set([1, 2]), [1])).toThrow(/indices\[0\] must be an integer in \[0, 1\), got 1/);
  });
});
