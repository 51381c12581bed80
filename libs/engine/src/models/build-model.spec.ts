import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildModel, forwardFlopsPerSample, withFeatureOutput } from './build-model';
import { CNN_SPEC, MLP_SPEC, type ModelSpec } from './model-spec';

describe('model zoo', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it.each([MLP_SPEC, CNN_SPEC])('builds $kind from a plain spec with logits of [n, classes]', (spec) => {
    const model = buildModel(spec, 1);
    const out = tf.tidy(() => (model.predict(tf.zeros([3, 28, 28, 1])) as tf.Tensor).shape);
    expect(out).toEqual([3, 10]);
    model.dispose();
  });

  it('gives identical initial weights for the same spec and seed, different ones for another seed', () => {
    const [a, b, c] = [buildModel(MLP_SPEC, 7), buildModel(MLP_SPEC, 7), buildModel(MLP_SPEC, 8)];
    const first = (m: tf.LayersModel) => Array.from(m.getWeights()[0].dataSync().slice(0, 50));
    expect(first(a)).toEqual(first(b));
    expect(first(a)).not.toEqual(first(c));
    [a, b, c].forEach((m) => m.dispose());
  });

  it('counts parameters of the reference architectures', () => {
    // 784*256+256 + 256*128+128 + 128*10+10
    expect(buildModel(MLP_SPEC, 0).countParams()).toBe(235_146);
    // conv1 3*3*1*16+16, conv2 3*3*16*32+32, dense 7*7*32*10+10
    expect(buildModel(CNN_SPEC, 0).countParams()).toBe(160 + 4_640 + 15_690);
  });

  it('exposes the penultimate features as a second output', () => {
    const model = withFeatureOutput(buildModel(MLP_SPEC, 0));
    const shapes = tf.tidy(() => (model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor[]).map((t) => t.shape));
    expect(shapes).toEqual([
      [2, 10],
      [2, 128],
    ]);
  });

  it('computes forward FLOPs per sample', () => {
    expect(forwardFlopsPerSample(MLP_SPEC)).toBe(2 * (784 * 256 + 256 * 128 + 128 * 10));
    expect(forwardFlopsPerSample(CNN_SPEC)).toBe(2 * (28 * 28 * 16 * 9 + 14 * 14 * 32 * 9 * 16 + 7 * 7 * 32 * 10));
  });

  it('rejects a malformed spec naming the field', () => {
    const bad = { ...CNN_SPEC, kernelSize: 2 } as ModelSpec;
    expect(() => buildModel(bad, 0)).toThrow(/kernelSize/);
    expect(() => buildModel({ ...MLP_SPEC, hidden: [0] }, 0)).toThrow(/hidden/);
    expect(() => buildModel({ kind: 'rnn' } as unknown as ModelSpec, 0)).toThrow(/kind/);
  });
});
