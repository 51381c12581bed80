import { SeededRng, type InputSet } from '@fedkd/engine';

/**
 * Generators of synthetic proxy inputs that need no data at all (the data-free mode): every
 * machine that runs the same generator with the same seed gets bit-identical images, so only the
 * generator's name and seed cross the wire.
 */
export type SyntheticGeneratorName = 'strokes' | 'noise';

export const SYNTHETIC_GENERATORS: readonly SyntheticGeneratorName[] = ['strokes', 'noise'];

const SIDE = 28;

/** `count` 28x28x1 images from `generator`, deterministic in (generator, seed, count). */
export function generateSyntheticImages(generator: SyntheticGeneratorName, seed: number, count: number): InputSet {
  if (!SYNTHETIC_GENERATORS.includes(generator)) {
    throw new RangeError(`unknown synthetic generator '${String(generator)}' (known: ${SYNTHETIC_GENERATORS.join(', ')})`);
  }
  if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new RangeError(`synthetic proxy count must be an integer in [1, 100000], got ${count}`);
  const rng = new SeededRng(seed).fork(`synthetic-${generator}`);
  const values = new Float32Array(count * SIDE * SIDE);
  for (let i = 0; i < count; i++) {
    const image = values.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE);
    if (generator === 'noise') for (let p = 0; p < image.length; p++) image[p] = rng.uniform();
    else drawStrokes(image, rng);
  }
  return { values, count, inputShape: [SIDE, SIDE, 1] };
}

/**
 * One to three random pen strokes (quadratic Bezier curves through the central area, pen width
 * 1.5-3 px), then a small blur: shapes with the statistics of handwriting (thin, connected, centred)
 * without being any particular digit.
 */
function drawStrokes(image: Float32Array, rng: SeededRng): void {
  const canvas = new Float32Array(SIDE * SIDE);
  const strokes = 1 + rng.int(3);
  const point = () => [5 + rng.uniform() * 18, 5 + rng.uniform() * 18];
  for (let s = 0; s < strokes; s++) {
    const [x0, y0] = point();
    const [x1, y1] = point();
    const [x2, y2] = point();
    const radius = 0.75 + rng.uniform() * 0.75;
    for (let t = 0; t <= 1; t += 1 / 60) {
      const x = (1 - t) * (1 - t) * x0 + 2 * (1 - t) * t * x1 + t * t * x2;
      const y = (1 - t) * (1 - t) * y0 + 2 * (1 - t) * t * y1 + t * t * y2;
      stamp(canvas, x, y, radius);
    }
  }
  blur(canvas, image);
}

function stamp(canvas: Float32Array, cx: number, cy: number, radius: number): void {
  for (let y = Math.max(0, Math.floor(cy - radius - 1)); y <= Math.min(SIDE - 1, Math.ceil(cy + radius + 1)); y++) {
    for (let x = Math.max(0, Math.floor(cx - radius - 1)); x <= Math.min(SIDE - 1, Math.ceil(cx + radius + 1)); x++) {
      const d = Math.hypot(x - cx, y - cy);
      const ink = Math.min(1, Math.max(0, radius + 0.5 - d));
      if (ink > canvas[y * SIDE + x]) canvas[y * SIDE + x] = ink;
    }
  }
}

/** 3x3 blur with weights 1-2-1, values kept in [0, 1]. */
function blur(source: Float32Array, target: Float32Array): void {
  const w = [1, 2, 1];
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      let sum = 0;
      let weight = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy < 0 || yy >= SIDE || xx < 0 || xx >= SIDE) continue;
          const k = w[dy + 1] * w[dx + 1];
          sum += k * source[yy * SIDE + xx];
          weight += k;
        }
      }
      target[y * SIDE + x] = Math.min(1, (sum / weight) * 1.3);
    }
  }
}
