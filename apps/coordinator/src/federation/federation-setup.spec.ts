import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '@fedkd/data';
import { decodeWeights, initBackend } from '@fedkd/engine';
import { tempDir, writeKerasMlpFixture } from '../../../../libs/engine/src/models/keras-fixture.testing';
import { COORDINATOR_DEFAULTS, type CoordinatorConfig } from '../config/coordinator-config';
import { prepareFederation } from './federation-setup';

/** What the coordinator loads before it listens: task, public inputs, evaluation set and student. */
describe('prepareFederation', () => {
  const made: string[] = [];
  const scratch = (name: string) => {
    made.push(tempDir(name));
    return made[made.length - 1];
  };
  const dir = scratch('federation-setup');
  afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const features = 6;
  const taskFile = join(dir, 'task.yaml');
  writeFileSync(taskFile, `name: six\ninput:\n  shape: [${features}]\nclasses: [a, b, c]\n`);
  mkdirSync(join(dir, 'proxy'));
  writeFileSync(join(dir, 'proxy', 'inputs.npy'), encodeNpy(Float32Array.from({ length: 40 * features }, (_, i) => (i % 13) / 13), [40, features], '<f4'));
  const config = (overrides: Partial<CoordinatorConfig>): CoordinatorConfig => ({ ...COORDINATOR_DEFAULTS, taskPath: taskFile, proxyData: join(dir, 'proxy'), proxySize: 40, ...overrides });

  beforeAll(async () => {
    await initBackend({ log: () => undefined });
  });

  it('sizes a zoo student to the task and serves the public inputs by their digest, with no evaluation set', async () => {
    const setup = await prepareFederation(config({}));
    expect(setup.student.spec).toEqual({ kind: 'mlp', inputShape: [features], hidden: [64, 32], classes: 3 });
    expect(setup.publicSet?.ref).toMatchObject({ source: 'coordinator', count: 40, inputShape: [features] });
    expect(setup.evaluation).toBeNull();
  });

  it('starts a model.json student from its own weights with --student-init keep, and from none with fresh', async () => {
    const fixture = writeKerasMlpFixture(scratch('student'), { features, hidden: 5, classes: 3 });
    const keep = await prepareFederation(config({ studentModel: fixture.modelJsonPath, studentInit: 'keep' }));
    expect(keep.student.spec).toMatchObject({ kind: 'layers', inputShape: [features], classes: 3 });
    expect(keep.student.source).toContain('final softmax removed for logits');
    const weights = decodeWeights(keep.student.initialBlob!).weights;
    expect(Array.from(weights[0].values)).toEqual(Array.from(fixture.kernel1));
    expect(Array.from(weights[3].values)).toEqual(Array.from(fixture.bias2));
    const fresh = await prepareFederation(config({ studentModel: fixture.modelJsonPath, studentInit: 'fresh' }));
    expect(fresh.student.initialBlob).toBeNull();
  });

  it('refuses a model.json student whose shapes are not the task\'s, naming both', async () => {
    const fixture = writeKerasMlpFixture(scratch('wrong'), { features: 4, hidden: 5, classes: 3 });
    await expect(prepareFederation(config({ studentModel: fixture.modelJsonPath }))).rejects.toThrow(
      /student .*model\.json takes inputs \[4\] and gives 3 classes, but the task's inputs are \[6\] with 3 classes/,
    );
  });

  it('refuses a proxy size larger than the public set, and a synthetic proxy for a task that is not 28x28x1', async () => {
    await expect(prepareFederation(config({ proxySize: 41 }))).rejects.toThrow(/--proxy-size 41 is more than the 40 inputs of the public set/);
    await expect(prepareFederation(config({ proxy: 'synthetic', proxyData: null }))).rejects.toThrow(/--proxy synthetic generates 28x28x1 images, but the task six takes \[6\]/);
  });

  it('takes top-k:K with K below the task\'s classes and refuses a larger K, naming the task', async () => {
    await expect(prepareFederation(config({ encoding: 'top-k:2' }))).resolves.toMatchObject({ task: { name: 'six' } });
    await expect(prepareFederation(config({ encoding: 'top-k:3' }))).rejects.toThrow(/--encoding top-k:3 needs K in \[1, classes - 1\] = \[1, 2\] for 3 classes \(task six\)/);
    // The embedded digits have 10 classes: top-k:9 is the largest K.
    const digits = { taskPath: null, proxyData: null, proxySize: 100 };
    await expect(prepareFederation(config({ ...digits, encoding: 'top-k:9' }))).resolves.toMatchObject({ task: { name: 'mnist' } });
    await expect(prepareFederation(config({ ...digits, encoding: 'top-k:10' }))).rejects.toThrow(/needs K in \[1, classes - 1\] = \[1, 9\] for 10 classes/);
  });
});
