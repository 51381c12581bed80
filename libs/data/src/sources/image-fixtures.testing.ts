import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { Task } from '../task/task';
import type { DatasetSpec, ReadOptions } from './dataset-source';


/** Writes a text or binary file, creating its folders. */
export function writeFixture(path: string, content: string | Uint8Array): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

/** Raw pixels `[height, width, channels]` with a recognisable pattern that depends on `seed`. */
export function patternPixels(width: number, height: number, channels: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 37 + seed * 101 + ((i * i) % 13)) % 256);
}

/** Encodes raw pixels as an image file (PNG greyscale/RGB/RGBA by channel count, or JPEG), creating its folders. */
export async function writeImageFixture(path: string, pixels: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4, format: 'png' | 'jpeg' = 'png'): Promise<string> {
  mkdirSync(dirname(path), { recursive: true });
  let image = sharp(Buffer.from(pixels), { raw: { width, height, channels } });
  if (channels <= 2) image = image.toColourspace('b-w');
  await (format === 'png' ? image.png() : image.jpeg({ quality: 95 })).toFile(path);
  return path;
}

/** A small image task: `[height, width, channels]`, no scaling, the given classes. */
export function imageTask(height: number, width: number, channels: number, classes: string[] = ['cat', 'dog', 'fox']): Task {
  return { name: 'fixture', input: { shape: [height, width, channels], scaling: { type: 'none' } }, classes };
}

/** A feature task `[features]`, no scaling. */
export function featureTask(features: number, classes: string[] = ['a', 'b', 'c']): Task {
  return { name: 'fixture', input: { shape: [features], scaling: { type: 'none' } }, classes };
}

/** The spec a reader gets for `format:path`. */
export function specOf(format: DatasetSpec['format'], path: string): DatasetSpec {
  return { format, path, text: `${format}:${path}` };
}

/** Read options for a task (labelled unless said otherwise). */
export function readOptions(task: Task, extra: Partial<ReadOptions> = {}): ReadOptions {
  return { task, labelled: true, ...extra };
}
