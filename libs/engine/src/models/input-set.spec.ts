import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend/select-backend';
import { buildModel } from './build-model';
import { MLP_SPEC } from './model-spec';
import { concatInputs, predictAll, selectInputs, type InputSet } from './input-set';

const set = (values: number[], shape: [number, number, number] = [1, 2, 1]): InputSet => ({ values: Float32Array.from(values), count: values.length / (shape[0] * shape[1] * shape[2]), inputShape: shape });

describe('input sets', () => {
  it('concatenates sets in order into a new set', () => {
    const a = set([1, 2, 3, 4]);
    const both = concatInputs([a, set([5, 6])]);
    expect(both.count).toBe(3);
    expect(Array.from(both.values)).toEqual([1, 2, 3, 4, 5, 6]);
    both.values[0] = 9;
    expect(a.values[0]).toBe(1);
  });

  it('refuses sets of different input shapes, or none', () => {
    expect(() => concatInputs([set([1, 2]), set([3, 4]), set([1, 2, 3, 4], [1, 1, 4])])).toThrow(/set 2 has inputs 1x1x4, not 1x2x1/);
    expect(() => concatInputs([])).toThrow(/at least one/);
  });

  it('selects rows by index and names an index outside the set', () => {
    expect(Array.from(selectInputs(set([1, 2, 3, 4]), [1, 0]).values)).toEqual([3, 4, 1, 2]);
    expect(() => selectInputs(set([1, 2]), [1])).toThrow(/indices\[0\] must be an integer in \[0, 1\), got 1/);
  });

  describe('predictAll', () => {
    beforeAll(async () => {
      await initBackend({ log: () => undefined });
    });

    it('runs the model once per batch of its own (not in LayersModel.predict\'s batches of 32), with the same outputs', async () => {
      const model = buildModel(MLP_SPEC, 0);
      const images: InputSet = { values: Float32Array.from({ length: 250 * 784 }, (_, i) => (i % 97) / 97), count: 250, inputShape: [28, 28, 1] };
      let outputs: ArrayLike<number> = [];
      const profile = await tf.profile(() => {
        outputs = predictAll(model, images, 100);
      });
      // Three dense layers, three batches (100, 100, 50): nine matrix products, not 3 x ceil(250 / 32) = 24.
      expect(profile.kernels.filter((k) => k.name === '_FusedMatMul')).toHaveLength(9);
      const direct = model.predict(tf.tensor(images.values, [250, 28, 28, 1]), { batchSize: 250 }) as tf.Tensor;
      expect(Array.from(outputs)).toEqual(Array.from(direct.dataSync()));
      direct.dispose();
      model.dispose();
    });
  });
});
