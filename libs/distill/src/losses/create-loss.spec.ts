import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { createLoss, LOSS_NAMES, LossSpec } from './create-loss';
import { HintLoss } from './hint-loss';
import { MutualLoss } from './mutual-loss';
import { OneLoss } from './one-loss';
import { RelationLoss } from './relation-loss';
import { ResponseLoss } from './response-loss';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('createLoss', () => {
  it('builds each loss by name from plain config, passing its options', () => {
    const response = createLoss({ name: 'response', temperature: 4, alpha: 0.2 });
    expect(response).toBeInstanceOf(ResponseLoss);
    expect(response).toMatchObject({ name: 'response', temperature: 4, alpha: 0.2 });
    const hint = createLoss({ name: 'hint', studentWidth: 4, teacherWidth: 8, seed: 1 });
    expect(hint).toBeInstanceOf(HintLoss);
    expect(hint.trainableVariables()).toHaveLength(2);
    hint.dispose();
    expect(createLoss({ name: 'relation' })).toBeInstanceOf(RelationLoss);
    expect(createLoss({ name: 'relation', distanceWeight: 1 })).toMatchObject({ distanceWeight: 1, angleWeight: 50 });
    expect(createLoss({ name: 'mutual', temperature: 2 })).toBeInstanceOf(MutualLoss);
    expect(createLoss({ name: 'one' })).toBeInstanceOf(OneLoss);
    expect(LOSS_NAMES).toEqual(['response', 'hint', 'relation', 'mutual', 'one']);
  });

  it('throws on an unknown name, listing the known ones', () => {
    expect(() => createLoss({ name: 'fitnet' } as unknown as LossSpec)).toThrow(
      "createLoss: unknown loss 'fitnet' (known: response, hint, relation, mutual, one)",
    );
    expect(() => createLoss({} as unknown as LossSpec)).toThrow(/unknown loss 'undefined'/);
  });

  it('throws on an unknown option rather than silently using a default (a typo in config)', () => {
    expect(() => createLoss({ name: 'response', temprature: 3 } as unknown as LossSpec)).toThrow(
      "createLoss: unknown option(s) temprature for loss 'response' (known: temperature, alpha)",
    );
  });

  it('passes on the losses\' own validation', () => {
    expect(() => createLoss({ name: 'response', temperature: -2 })).toThrow(/temperature must be a finite number > 0/);
    expect(() => createLoss({ name: 'hint', studentWidth: 4, teacherWidth: 8, seed: 1, beta: 1 })).toThrow(/temperature is required/);
  });
});
