import { describe, expect, it } from 'vitest';
import { initBackend } from '@fedkd/engine';
import { loadEmbeddedPart, subset, type Dataset } from '@fedkd/data';
import { createLoss } from '../losses/create-loss';
import { buildModel, MLP_SPEC } from '@fedkd/engine';
import { softPredictions } from '../training/evaluate';
import { trainStudent } from '../training/student-trainer';
import { SelectiveRule } from '../aggregation/selective-rule';
import { coverageSelectorFromBlob, trainCoverageSelector } from './coverage-selector';

const rowsOf = (data: Dataset, keep: (label: number) => boolean, most: number) =>
  Array.from({ length: data.count }, (_, i) => i).filter((i) => keep(data.labels[i])).slice(0, most);

const mean = (xs: ArrayLike<number>, rows: number[]) => rows.reduce((s, i) => s + xs[i], 0) / rows.length;

describe('CoverageSelector (client-side selection)', () => {
  it('a client that saw only twos and sevens covers twos and sevens and abstains on the classes it never saw', async () => {
    await initBackend({ log: () => undefined });
    const pool = loadEmbeddedPart('mnist', 'private', 0);
    const proxy = loadEmbeddedPart('mnist', 'proxy', 0);
    const test = loadEmbeddedPart('mnist', 'test', 0);
    const own = subset(pool, rowsOf(pool, (l) => l === 2 || l === 7, 600));
    const selector = await trainCoverageSelector(own, subset(proxy, rowsOf(proxy, () => true, 1000)), { seed: 3 });
    const coverage = selector.coverage(test);
    const ownRows = rowsOf(test, (l) => l === 2 || l === 7, 1000);
    const otherRows = rowsOf(test, (l) => l !== 2 && l !== 7, 1000);
    // Abstains: on most inputs of unseen classes its weight is under a tenth of its typical weight on its own classes.
    const typicalOwn = [...ownRows].map((i) => coverage[i]).sort((x, y) => x - y)[Math.floor(ownRows.length / 2)];
    const abstained = otherRows.filter((i) => coverage[i] < typicalOwn / 10).length / otherRows.length;
    expect(abstained).toBeGreaterThan(0.7);
    // And ranks nearly every own-class input above nearly every other one (area under the ROC curve).
    let above = 0;
    for (const i of ownRows) for (const j of otherRows) above += coverage[i] > coverage[j] ? 1 : coverage[i] === coverage[j] ? 0.5 : 0;
    expect(above / (ownRows.length * otherRows.length)).toBeGreaterThan(0.93);
    expect(mean(coverage, ownRows)).toBeGreaterThan(10 * mean(coverage, otherRows));
    // Every weight is in [0, 1], as secure aggregation's fixed point needs.
    expect(coverage.every((w) => w >= 0 && w <= 1)).toBe(true);
    // Restored from its blob, it gives the same weights (a simulated client keeps it between rounds).
    const restored = coverageSelectorFromBlob(selector.exportBlob(), selector);
    expect(restored.coverage(test)).toEqual(coverage);
    selector.dispose();
    restored.dispose();
  }, 120_000);

  it('two-class clients: their coverage-weighted aggregate labels the proxy better than the plain mean of their confident answers', async () => {
    await initBackend({ log: () => undefined });
    const pool = loadEmbeddedPart('mnist', 'private', 0);
    const proxy = loadEmbeddedPart('mnist', 'proxy', 0);
    const reference = subset(proxy, rowsOf(proxy, () => true, 1000));
    const evaluation = subset(proxy, Array.from({ length: 1000 }, (_, i) => 1000 + i));
    const answers: Float32Array[] = [];
    const coverage: Float32Array[] = [];
    const hard = createLoss({ name: 'response', temperature: 1, alpha: 1 });
    for (let k = 0; k < 5; k++) {
      const own = subset(pool, rowsOf(pool, (l) => l === 2 * k || l === 2 * k + 1, 500));
      const teacher = buildModel({ ...MLP_SPEC, hidden: [64] }, 10 + k);
      await trainStudent(teacher, { inputs: own, hardLabels: own.labels }, { loss: hard, epochs: 3, seed: k });
      answers.push(softPredictions(teacher, evaluation, 3));
      teacher.dispose();
      const selector = await trainCoverageSelector(own, reference, { seed: 20 + k });
      coverage.push(selector.coverage(evaluation));
      selector.dispose();
    }
    hard.dispose();
    const shape = { n: evaluation.count, classes: 10 };
    const accuracy = (t: Float32Array) => {
      let right = 0;
      for (let i = 0; i < shape.n; i++) {
        const row = Array.from(t.subarray(i * 10, i * 10 + 10));
        if (row.indexOf(Math.max(...row)) === evaluation.labels[i]) right++;
      }
      return right / shape.n;
    };
    const plain = new SelectiveRule().aggregate(answers, shape, undefined, answers.map(() => new Float32Array(shape.n).fill(1)));
    const selective = new SelectiveRule().aggregate(answers, shape, undefined, coverage);
    expect(accuracy(selective)).toBeGreaterThan(accuracy(plain) + 0.1);
  }, 180_000);
});
