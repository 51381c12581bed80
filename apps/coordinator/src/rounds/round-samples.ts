import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { imageGridPng, isLearnedGeneration } from '@fedkd/data';
import type { InputSet } from '@fedkd/engine';
import type { RoundOpen } from '@fedkd/protocol';

/** Inputs per row of a round's sample grid. */
export const SAMPLES_PER_CLASS = 12;

/**
 * Writes DIR/round-N.png: the round's synthetic inputs, one row per class they were made for
 * (student-guided: `intended`; learned: its pairs' classes) with the first SAMPLES_PER_CLASS of
 * each, or rows of consecutive inputs for generators without classes (strokes, noise). Written to
 * a temporary name and renamed, so a reader never sees half a file. Returns the path.
 */
export async function writeRoundSamples(dir: string, round: number, proxy: Extract<RoundOpen['proxy'], { kind: 'synthetic' }>, inputs: InputSet, intended: Int32Array | null, classes: number): Promise<string> {
  const png = await roundSamplesPng(proxy.generator, inputs, intended, classes);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `round-${round}.png`);
  await writeFile(`${path}.tmp`, png);
  await rename(`${path}.tmp`, path);
  return path;
}

/** The PNG grid of a synthetic round's inputs that writeRoundSamples writes (the dashboard serves it too). */
export async function roundSamplesPng(generator: string, inputs: InputSet, intended: Int32Array | null, classes: number): Promise<Buffer> {
  let classOf: ((i: number) => number) | null = null;
  if (intended) classOf = (i) => intended[i];
  else if (generator === 'learned' && isLearnedGeneration(inputs)) classOf = (i) => inputs.pairClasses[Math.floor(i / 2)];
  const rows: number[][] = [];
  if (classOf) {
    for (let c = 0; c < classes; c++) rows.push([]);
    for (let i = 0; i < inputs.count; i++) {
      const row = rows[classOf(i)];
      if (row && row.length < SAMPLES_PER_CLASS) row.push(i);
    }
  } else {
    for (let start = 0; start < Math.min(inputs.count, classes * SAMPLES_PER_CLASS); start += SAMPLES_PER_CLASS) {
      rows.push(Array.from({ length: Math.min(SAMPLES_PER_CLASS, inputs.count - start) }, (_, k) => start + k));
    }
  }
  return imageGridPng(inputs, rows, 2);
}
