import { describe, expect, it } from 'vitest';
import { SeededRng } from '@fedkd/engine';
import { affineImage, cutout, imageShapeOf, shiftImage, strongAugmentBatch, weakAugmentBatch } from './image-augmentations';

const SHAPE = { height: 28, width: 28, channels: 1 };

function randomBatch(count: number, seed: number): Float32Array {
  const rng = new SeededRng(seed);
  return Float32Array.from({ length: count * 784 }, () => rng.uniform());
}

describe('image augmentations', () => {
  it('a shift moves the pixel at (row r, column c) to (r + dy, c + dx) and fills the edge with 0', () => {
    const image = new Float32Array(784);
    image[5 * 28 + 7] = 1;
    image[0] = 0.5;
    const moved = shiftImage(image, SHAPE, 2, -1);
    expect(moved[4 * 28 + 9]).toBe(1);
    expect(moved[5 * 28 + 7]).toBe(0);
    // (0, 0) moved up out of the image: lost.
    expect(moved.reduce((a, b) => a + b, 0)).toBe(1);
    const back = shiftImage(moved, SHAPE, -2, 1);
    expect(back[5 * 28 + 7]).toBe(1);
  });

  it('a shift keeps every channel of a pixel together', () => {
    const shape = { height: 4, width: 5, channels: 3 };
    const image = Float32Array.from({ length: 60 }, (_, i) => i + 1);
    const moved = shiftImage(image, shape, 1, 1);
    // Pixel (0, 0) with channels 1, 2, 3 lands on (1, 1).
    expect(Array.from(moved.subarray((1 * 5 + 1) * 3, (1 * 5 + 1) * 3 + 3))).toEqual([1, 2, 3]);
    expect(Array.from(moved.subarray(0, 15))).toEqual(new Array(15).fill(0));
  });

  it('the identity affine map returns the image, and a whole-pixel affine shift equals shiftImage', () => {
    const image = randomBatch(1, 3);
    const same = affineImage(image, SHAPE, { radians: 0, scale: 1, dx: 0, dy: 0 });
    expect(Math.max(...same.map((v, i) => Math.abs(v - image[i])))).toBeLessThan(1e-6);
    const moved = affineImage(image, SHAPE, { radians: 0, scale: 1, dx: 3, dy: -2 });
    const shifted = shiftImage(image, SHAPE, 3, -2);
    expect(Math.max(...moved.map((v, i) => Math.abs(v - shifted[i])))).toBeLessThan(1e-6);
  });

  it('a quarter-turn rotation moves a pixel right of the centre to above it', () => {
    // An odd-sized image has a pixel at its exact centre (2, 2).
    const shape = { height: 5, width: 5, channels: 1 };
    const small = new Float32Array(25);
    small[2 * 5 + 4] = 1; // row 2, column 4: right of the centre (2, 2)
    const turned = affineImage(small, shape, { radians: Math.PI / 2, scale: 1, dx: 0, dy: 0 });
    expect(turned[0 * 5 + 2]).toBeCloseTo(1, 5); // row 0, column 2: above the centre
    expect(turned[2 * 5 + 4]).toBeCloseTo(0, 5);
  });

  it('cutout zeroes exactly the square, clipped at the border', () => {
    const image = new Float32Array(784).fill(1);
    cutout(image, SHAPE, 1, 1, 6); // rows -2..3 and columns -2..3, clipped to 0..3
    expect(image.reduce((a, b) => a + b, 0)).toBe(784 - 16);
    expect(image[3 * 28 + 3]).toBe(0);
    expect(image[4 * 28 + 3]).toBe(1);
  });

  it('weak and strong views keep the batch shape, are reproducible from the seed and differ across seeds', () => {
    const batch = randomBatch(6, 1);
    for (const augment of [
      (rng: SeededRng) => weakAugmentBatch(batch, SHAPE, rng),
      (rng: SeededRng) => strongAugmentBatch(batch, SHAPE, rng),
    ]) {
      const a = augment(new SeededRng(7));
      const b = augment(new SeededRng(7));
      const c = augment(new SeededRng(8));
      expect(a.length).toBe(batch.length);
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(Array.from(a)).not.toEqual(Array.from(c));
      expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...a)).toBeLessThanOrEqual(1);
    }
  });

  it('a weak view moves each image by at most the given shift', () => {
    const image = new Float32Array(784);
    image[14 * 28 + 14] = 1;
    const batch = new Float32Array(784 * 50);
    for (let k = 0; k < 50; k++) batch.set(image, k * 784);
    const out = weakAugmentBatch(batch, SHAPE, new SeededRng(2), 2);
    const moves = new Set<string>();
    for (let k = 0; k < 50; k++) {
      const at = out.subarray(k * 784, (k + 1) * 784).indexOf(1);
      const [r, c] = [Math.floor(at / 28), at % 28];
      expect(Math.abs(r - 14)).toBeLessThanOrEqual(2);
      expect(Math.abs(c - 14)).toBeLessThanOrEqual(2);
      moves.add(`${r},${c}`);
    }
    expect(moves.size).toBeGreaterThan(5);
  });

  it('rejects a batch that is not whole images and inputs that are not images, naming the problem', () => {
    expect(() => weakAugmentBatch(new Float32Array(785), SHAPE, new SeededRng(1))).toThrow(/not a whole number of 784-value images/);
    expect(() => imageShapeOf([784])).toThrow(/need image inputs \[H, W, C\], got \[784\]/);
    expect(() => shiftImage(new Float32Array(784), SHAPE, 0.5, 0)).toThrow(/must be integers/);
  });
});
