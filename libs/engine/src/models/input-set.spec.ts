import { describe, expect, it } from 'vitest';
import { concatInputs, selectInputs, type InputSet } from './input-set';

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
});
