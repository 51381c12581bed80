import { describe, expect, it } from 'vitest';
import { initBackend, MLP_SPEC, predictAll } from '@fedkd/engine';
import { loadEmbeddedPart, subset } from '@fedkd/data';
import { disjointShards, trainTeacherEnsemble } from './teacher-ensemble';

describe('teacher ensemble', () => {
  it('splits the private examples into disjoint shards that cover them all', () => {
    const shards = disjointShards(103, 5, 7);
    const all = shards.flatMap((s) => Array.from(s)).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 103 }, (_, i) => i));
    expect(shards.map((s) => s.length).sort()).toEqual([20, 20, 21, 21, 21]);
  });

  it('trains the same teachers in parts (ranges of shards) as all at once: each teacher predicts the same', async () => {
    await initBackend({ log: () => undefined });
    const pool = subset(loadEmbeddedPart('mnist', 'private', 0), Array.from({ length: 90 }, (_, i) => i));
    const proxy = subset(loadEmbeddedPart('mnist', 'proxy', 0), Array.from({ length: 40 }, (_, i) => i));
    const common = { spec: MLP_SPEC, data: pool, teachers: 3, epochs: 1, seed: 4 };
    const whole = await trainTeacherEnsemble(common);
    const first = await trainTeacherEnsemble({ ...common, range: { first: 0, end: 1 } });
    const rest = await trainTeacherEnsemble({ ...common, range: { first: 1, end: 3 } });
    expect(whole).toHaveLength(3);
    expect([first.length, rest.length]).toEqual([1, 2]);
    [...first, ...rest].forEach((teacher, t) => expect(Array.from(predictAll(teacher, proxy))).toEqual(Array.from(predictAll(whole[t], proxy))));
    [...whole, ...first, ...rest].forEach((m) => m.dispose());
  });

  it('trains augmented teachers (shifted digits, averaged weights) deterministically, and differently from plain training', async () => {
    await initBackend({ log: () => undefined });
    const pool = subset(loadEmbeddedPart('mnist', 'private', 0), Array.from({ length: 64 }, (_, i) => i));
    const proxy = subset(loadEmbeddedPart('mnist', 'proxy', 0), Array.from({ length: 16 }, (_, i) => i));
    const common = { spec: MLP_SPEC, data: pool, teachers: 2, epochs: 2, seed: 1, range: { first: 1, end: 2 } };
    const [a] = await trainTeacherEnsemble({ ...common, augmented: true });
    const [b] = await trainTeacherEnsemble({ ...common, augmented: true });
    const [plain] = await trainTeacherEnsemble(common);
    expect(Array.from(predictAll(a, proxy))).toEqual(Array.from(predictAll(b, proxy)));
    expect(Array.from(predictAll(a, proxy))).not.toEqual(Array.from(predictAll(plain, proxy)));
    [a, b, plain].forEach((m) => m.dispose());
  });

  it('refuses a range outside the shards, naming it', async () => {
    const pool = subset(loadEmbeddedPart('mnist', 'private', 0), Array.from({ length: 30 }, (_, i) => i));
    await expect(trainTeacherEnsemble({ spec: MLP_SPEC, data: pool, teachers: 3, epochs: 1, seed: 0, range: { first: 2, end: 4 } })).rejects.toThrow(
      'teacher range must be integers with 0 <= first < end <= 3, got [2, 4)',
    );
  });
});
