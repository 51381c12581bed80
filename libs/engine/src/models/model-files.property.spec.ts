import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend';
import { FUZZ_RUNS, mutatedBytes, mutatedRecord, outcomeAsync } from '../fuzz-inputs.testing';
import { tempDir, writeKerasMlpFixture } from './keras-fixture.testing';
import { loadLayersModelFiles, ModelFileError } from './layers-model-files';

/**
 * A user's TF.js model files under fuzzing: whatever model.json and its weight shards hold,
 * loadLayersModelFiles returns a model or throws ModelFileError (with its code and the file at
 * fault), and leaves no tensor behind when it refuses. Each run builds a model with TF.js, so the
 * runs are few.
 */

const RUNS = Math.round(FUZZ_RUNS / 5);
let root: string;
let modelJson: string;
let json: Record<string, unknown>;
let shard: Uint8Array;
let shardPath: string;

beforeAll(async () => {
  await initBackend({ log: () => undefined });
  root = tempDir('fuzz-model-files');
  writeKerasMlpFixture(root, { shards: 1 });
  modelJson = path.join(root, 'model.json');
  json = JSON.parse(fs.readFileSync(modelJson, 'utf8')) as Record<string, unknown>;
  const manifest = json.weightsManifest as { paths: string[] }[];
  shardPath = path.join(root, manifest[0].paths[0]);
  shard = new Uint8Array(fs.readFileSync(shardPath));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const isModelFileError = (error: unknown) => error instanceof ModelFileError;

/** Writes the files, loads them, and checks the outcome; restores the valid files afterwards. */
async function loadWritten(text: string | null, weights: Uint8Array | null): Promise<void> {
  if (text !== null) fs.writeFileSync(modelJson, text);
  if (weights !== null) fs.writeFileSync(shardPath, weights);
  const before = tf.memory().numTensors;
  try {
    let model: tf.LayersModel | undefined;
    const result = await outcomeAsync(async () => (model = await loadLayersModelFiles(modelJson)), isModelFileError);
    if (result === 'ok') model!.dispose();
    expect(tf.memory().numTensors).toBe(before);
  } finally {
    fs.writeFileSync(modelJson, JSON.stringify(json));
    fs.writeFileSync(shardPath, shard);
  }
}

describe('TF.js model files under fuzzing', () => {
  it('loads the valid files the mutations start from', async () => {
    (await loadLayersModelFiles(modelJson)).dispose();
  });

  it('loads a model.json with fields removed, added or retyped, or refuses it with ModelFileError', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedRecord(json, fc.jsonValue({ maxDepth: 2 })), async (mutated) => loadWritten(JSON.stringify(mutated) ?? '', null)),
      { numRuns: RUNS },
    );
  });

  it('loads mutated model.json text or weight bytes, or refuses them with ModelFileError', async () => {
    const text = new TextEncoder().encode(JSON.stringify(json));
    await fc.assert(
      fc.asyncProperty(fc.option(mutatedBytes(text)), fc.option(mutatedBytes(shard)), async (t, w) =>
        loadWritten(t === null ? null : new TextDecoder().decode(t), w),
      ),
      { numRuns: RUNS },
    );
  });

  it.each([[{}], [5], [['dense']]])('refuses a layer named %j with TFJS_LOAD, leaking none of the weights TF.js had made', async (name) => {
    const mutated = structuredClone(json) as { modelTopology: { model_config: { config: { layers: { config: { name: unknown } }[] } } } };
    mutated.modelTopology.model_config.config.layers[1].config.name = name;
    const before = tf.memory().numTensors;
    fs.writeFileSync(modelJson, JSON.stringify(mutated));
    try {
      await expect(loadLayersModelFiles(modelJson)).rejects.toMatchObject({ code: 'TFJS_LOAD', message: expect.stringMatching(/layer names must be strings/) });
    } finally {
      fs.writeFileSync(modelJson, JSON.stringify(json));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([['class_name', []], ['config', []]])('refuses a model whose second Dense layer has %s %j with ModelFileError, disposing the first layer\'s weights', async (field, value) => {
    const mutated = structuredClone(json) as { modelTopology: { model_config: { config: { layers: Record<string, unknown>[] } } } };
    mutated.modelTopology.model_config.config.layers[2][field] = value;
    const before = tf.memory().numTensors;
    fs.writeFileSync(modelJson, JSON.stringify(mutated));
    try {
      await expect(loadLayersModelFiles(modelJson)).rejects.toBeInstanceOf(ModelFileError);
    } finally {
      fs.writeFileSync(modelJson, JSON.stringify(json));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a manifest declaring a weight of 2^31 x 2^31 values without reading or allocating it', async () => {
    const manifest = structuredClone(json.weightsManifest) as { weights: { shape: number[] }[] }[];
    manifest[0].weights[0].shape = [2 ** 31, 2 ** 31];
    const before = process.memoryUsage().arrayBuffers;
    await expect(loadWritten(JSON.stringify({ ...json, weightsManifest: manifest }), null)).resolves.toBeUndefined();
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });
});
