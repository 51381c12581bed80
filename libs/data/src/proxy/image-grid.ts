import sharp from 'sharp';
import { inputSize, type InputSet } from '@fedkd/engine';

/**
 * A PNG of image inputs laid out in a grid: row r shows the inputs `rows[r]` (values in [0, 1],
 * one or three channels), each `scale` x enlarged, with a one-pixel grey rule between tiles. For
 * people to see what a synthetic proxy asked the teachers about.
 */
export async function imageGridPng(inputs: InputSet, rows: readonly (readonly number[])[], scale = 2): Promise<Buffer> {
  const [height, width, channels = 1] = inputs.inputShape;
  if (inputs.inputShape.length < 2 || (channels !== 1 && channels !== 3)) throw new RangeError(`an image grid needs inputs of [height, width] or [height, width, 1 or 3], got [${inputs.inputShape.join(', ')}]`);
  if (!Number.isInteger(scale) || scale < 1 || scale > 16) throw new RangeError(`scale must be an integer in [1, 16], got ${scale}`);
  const columns = Math.max(1, ...rows.map((r) => r.length));
  const tileW = width * scale;
  const tileH = height * scale;
  const W = columns * (tileW + 1) + 1;
  const H = Math.max(1, rows.length) * (tileH + 1) + 1;
  const out = Buffer.alloc(W * H * channels, 128);
  const size = inputSize(inputs);
  rows.forEach((row, r) => {
    row.forEach((index, c) => {
      if (!Number.isInteger(index) || index < 0 || index >= inputs.count) throw new RangeError(`input ${index} is not one of the ${inputs.count} inputs`);
      const base = index * size;
      for (let y = 0; y < tileH; y++) {
        for (let x = 0; x < tileW; x++) {
          const src = base + (Math.floor(y / scale) * width + Math.floor(x / scale)) * channels;
          const dst = ((r * (tileH + 1) + 1 + y) * W + c * (tileW + 1) + 1 + x) * channels;
          for (let k = 0; k < channels; k++) out[dst + k] = Math.round(Math.min(1, Math.max(0, inputs.values[src + k])) * 255);
        }
      }
    });
  });
  const image = sharp(out, { raw: { width: W, height: H, channels: channels as 1 | 3 } });
  return (channels === 1 ? image.toColourspace('b-w') : image).png().toBuffer();
}
