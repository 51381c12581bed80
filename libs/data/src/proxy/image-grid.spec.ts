import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imageGridPng } from './image-grid';

describe('imageGridPng', () => {
  it('draws the chosen inputs row by row, enlarged, between grey rules', async () => {
    // Three 2x2 inputs: black, white, and a diagonal.
    const values = Float32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1]);
    const png = await imageGridPng({ values, count: 3, inputShape: [2, 2, 1] }, [[0, 1], [2]], 2);
    expect(await sharp(png).metadata()).toMatchObject({ format: 'png', width: 2 * 5 + 1, height: 2 * 5 + 1, channels: 1 });
    const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => data[y * info.width + x];
    expect(at(0, 0)).toBe(128);
    expect([at(1, 1), at(4, 4)]).toEqual([0, 0]);
    expect([at(6, 1), at(9, 4)]).toEqual([255, 255]);
    // Row 2: the diagonal input (white top-left, black top-right), then an empty grey cell.
    expect([at(1, 6), at(3, 6), at(1, 8), at(3, 8), at(7, 7)]).toEqual([255, 0, 0, 255, 128]);
  });

  it('refuses inputs that are not images or rows naming missing inputs', async () => {
    await expect(imageGridPng({ values: new Float32Array(4), count: 1, inputShape: [4] }, [[0]])).rejects.toThrow('an image grid needs inputs of [height, width] or [height, width, 1 or 3], got [4]');
    await expect(imageGridPng({ values: new Float32Array(4), count: 1, inputShape: [2, 2, 1] }, [[1]])).rejects.toThrow('input 1 is not one of the 1 inputs');
  });
});
