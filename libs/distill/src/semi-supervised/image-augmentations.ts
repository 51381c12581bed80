import type { SeededRng } from '@fedkd/engine';

/**
 * Image augmentations for consistency training, in plain JavaScript on channels-last images
 * (`[H, W, C]` Float32Array rows, as an InputSet stores them). Every function writes a new image
 * (or a whole new batch) and draws all its randomness from the SeededRng it is given, so a batch is
 * reproducible from the seed. Pixels moved in from outside the image are 0 (MNIST's background).
 */
export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

/** How strongly the "strong" view is distorted; the defaults suit 28 x 28 digits. */
export interface StrongAugmentationOptions {
  /** Largest translation in pixels, each axis (continuous). */
  maxShift?: number;
  /** Largest rotation in degrees, either way. */
  maxRotationDegrees?: number;
  /** Scale drawn uniformly from [1 - maxScaleChange, 1 + maxScaleChange]. */
  maxScaleChange?: number;
  /** Side in pixels of the square erased (set to 0) at a random centre; 0 = no cutout. */
  cutoutSize?: number;
  /** Standard deviation of the Gaussian noise added to every pixel (then clipped to [0, 1]); 0 = none. */
  noiseStd?: number;
}

export const DEFAULT_WEAK_SHIFT = 2;
export const DEFAULT_STRONG_AUGMENTATION: Required<StrongAugmentationOptions> = {
  maxShift: 3,
  maxRotationDegrees: 15,
  maxScaleChange: 0.12,
  cutoutSize: 10,
  noiseStd: 0.15,
};

/**
 * `image` moved by whole pixels: the pixel at (row r, column c) lands on (r + dy, c + dx);
 * what moves out is lost and what moves in is 0.
 */
export function shiftImage(image: Float32Array, shape: ImageShape, dx: number, dy: number, out = new Float32Array(image.length)): Float32Array {
  const { height, width, channels } = shape;
  checkImage(image, shape);
  if (!Number.isInteger(dx) || !Number.isInteger(dy)) throw new RangeError(`shiftImage: dx and dy must be integers, got ${dx}, ${dy}`);
  out.fill(0);
  const rowLength = width * channels;
  const fromColumn = Math.max(0, -dx);
  const toColumn = Math.min(width, width - dx);
  if (toColumn <= fromColumn) return out;
  for (let r = Math.max(0, -dy); r < Math.min(height, height - dy); r++) {
    const source = r * rowLength + fromColumn * channels;
    out.set(image.subarray(source, source + (toColumn - fromColumn) * channels), (r + dy) * rowLength + (fromColumn + dx) * channels);
  }
  return out;
}

/**
 * `image` under the affine map about its centre: rotated by `radians` (counter-clockwise as
 * displayed, rows growing downwards), scaled by `scale`, then translated by (dx, dy) pixels;
 * sampled bilinearly.
 */
export function affineImage(
  image: Float32Array,
  shape: ImageShape,
  transform: { radians: number; scale: number; dx: number; dy: number },
  out = new Float32Array(image.length),
): Float32Array {
  const { height, width, channels } = shape;
  checkImage(image, shape);
  const { radians, scale, dx, dy } = transform;
  if (!(scale > 0)) throw new RangeError(`affineImage: scale must be > 0, got ${scale}`);
  const cy = (height - 1) / 2;
  const cx = (width - 1) / 2;
  // Inverse map: output pixel -> source position.
  const cos = Math.cos(radians) / scale;
  const sin = Math.sin(radians) / scale;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const u = c - cx - dx;
      const v = r - cy - dy;
      const sc = cos * u - sin * v + cx;
      const sr = sin * u + cos * v + cy;
      const r0 = Math.floor(sr);
      const c0 = Math.floor(sc);
      const fr = sr - r0;
      const fc = sc - c0;
      for (let k = 0; k < channels; k++) {
        const at = (rr: number, cc: number) =>
          rr < 0 || rr >= height || cc < 0 || cc >= width ? 0 : image[(rr * width + cc) * channels + k];
        out[(r * width + c) * channels + k] =
          (1 - fr) * ((1 - fc) * at(r0, c0) + fc * at(r0, c0 + 1)) + fr * ((1 - fc) * at(r0 + 1, c0) + fc * at(r0 + 1, c0 + 1));
      }
    }
  }
  return out;
}

/** Sets to 0 the `size` x `size` square centred at (row, column), clipped to the image; in place. */
export function cutout(image: Float32Array, shape: ImageShape, row: number, column: number, size: number): Float32Array {
  const { height, width, channels } = shape;
  const top = Math.max(0, row - Math.floor(size / 2));
  const left = Math.max(0, column - Math.floor(size / 2));
  const bottom = Math.min(height, row - Math.floor(size / 2) + size);
  const right = Math.min(width, column - Math.floor(size / 2) + size);
  for (let r = top; r < bottom; r++) image.fill(0, (r * width + left) * channels, (r * width + right) * channels);
  return image;
}

/** Weak view of every row of `batch` ([n x H*W*C]): a whole-pixel shift of up to `maxShift` each axis. */
export function weakAugmentBatch(batch: Float32Array, shape: ImageShape, rng: SeededRng, maxShift = DEFAULT_WEAK_SHIFT): Float32Array {
  const size = imageSize(shape);
  checkBatch(batch, size);
  const out = new Float32Array(batch.length);
  for (let at = 0; at < batch.length; at += size) {
    const dx = rng.int(2 * maxShift + 1) - maxShift;
    const dy = rng.int(2 * maxShift + 1) - maxShift;
    shiftImage(batch.subarray(at, at + size), shape, dx, dy, out.subarray(at, at + size));
  }
  return out;
}

/**
 * Strong view of every row of `batch`: a random rotation, scaling and sub-pixel shift, then a
 * cutout square at a random centre, then Gaussian noise clipped to [0, 1].
 */
export function strongAugmentBatch(
  batch: Float32Array,
  shape: ImageShape,
  rng: SeededRng,
  options: StrongAugmentationOptions = {},
): Float32Array {
  const o = { ...DEFAULT_STRONG_AUGMENTATION, ...options };
  const size = imageSize(shape);
  checkBatch(batch, size);
  const out = new Float32Array(batch.length);
  const between = (a: number) => (2 * rng.uniform() - 1) * a;
  for (let at = 0; at < batch.length; at += size) {
    const image = out.subarray(at, at + size);
    affineImage(
      batch.subarray(at, at + size),
      shape,
      { radians: (between(o.maxRotationDegrees) * Math.PI) / 180, scale: 1 + between(o.maxScaleChange), dx: between(o.maxShift), dy: between(o.maxShift) },
      image,
    );
    if (o.cutoutSize > 0) cutout(image, shape, rng.int(shape.height), rng.int(shape.width), o.cutoutSize);
    if (o.noiseStd > 0) {
      for (let i = 0; i < size; i++) image[i] = Math.min(1, Math.max(0, image[i] + rng.normal(0, o.noiseStd)));
    }
  }
  return out;
}

export function imageShapeOf(inputShape: readonly number[]): ImageShape {
  if (inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(`image augmentations need image inputs [H, W, C], got [${inputShape.join(', ')}]`);
  }
  return { height: inputShape[0], width: inputShape[1], channels: inputShape[2] };
}

function imageSize(shape: ImageShape): number {
  return shape.height * shape.width * shape.channels;
}

function checkImage(image: Float32Array, shape: ImageShape): void {
  if (image.length !== imageSize(shape)) {
    throw new RangeError(`image has ${image.length} values, but shape ${shape.height} x ${shape.width} x ${shape.channels} needs ${imageSize(shape)}`);
  }
}

function checkBatch(batch: Float32Array, size: number): void {
  if (batch.length % size !== 0) throw new RangeError(`batch of ${batch.length} values is not a whole number of ${size}-value images`);
}
