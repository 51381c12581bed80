import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { value } from './reference-math.testing';

import { RelationLoss } from './relation-loss';

// Plain-JS RKD, written from the paper's definitions with loops (independent of the tensor code).
type Points = number[][];
const sub = (a: number[], b: number[]): number[] => a.map((v, i) => v - b[i]);
const norm = (a: number[]): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0));
const huber = (x: number): number => (Math.abs(x) < 1 ? 0.5 * x * x : Math.abs(x) - 0.5);
const normalisedDistances = (x: Points): number[][] => {
  const n = x.length;
  const d = x.map((a) => x.map((b) => norm(sub(a, b))));
  const mu = d.flat().reduce((s, v) => s + v, 0) / (n * (n - 1));
  return d.map((row) => row.map((v) => v / mu));
};
const cosines = (x: Points): number[] => {
  const out: number[] = [];
  for (const a of x) {
    for (const b of x) {
      for (const c of x) {
        const ab = sub(b, a);
        const ac = sub(c, a);
        const nab = norm(ab);
        const nac = norm(ac);
        out.push(nab === 0 || nac === 0 ? 0 : ab.reduce((s, v, i) => s + v * ac[i], 0) / (nab * nac));
      }
    }
  }
  return out;
};
const distanceTerm = (s: Points, t: Points): number => {
  const ds = normalisedDistances(s).flat();
  const dt = normalisedDistances(t).flat();
  return ds.reduce((acc, v, i) => acc + huber(v - dt[i]), 0) / ds.length;
};
const angleTerm = (s: Points, t: Points): number => {
  const as = cosines(s);
  const at = cosines(t);
  return as.reduce((acc, v, i) => acc + huber(v - at[i]), 0) / as.length;
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/*
 * Worked distance term, student (0,0), (1,0), (0,1); teacher (0,0), (2,0), (0,1):
 *   student distances 1, 1, sqrt 2; mean over the 6 ordered pairs 1.13807 -> 0.87868, 0.87868, 1.24264
 *   teacher distances 2, 1, sqrt 5; mean 1.74536                          -> 1.14589, 0.57295, 1.28115
 *   differences -0.26721, 0.30573, -0.03851, each twice; |x| < 1 so 0.5 x^2:
 *   2 * (0.035701 + 0.046735 + 0.000741) / 9 entries = 0.018484
 */
const STUDENT = [[0, 0], [1, 0], [0, 1]];
const TEACHER = [[0, 0], [2, 0], [0, 1]];

describe('relation loss (RKD, Park et al. 2019)', () => {
  it('computes the distance-wise term on a hand example', () => {
    expect(distanceTerm(STUDENT, TEACHER)).toBeCloseTo(0.018484, 5);
    const loss = new RelationLoss({ distanceWeight: 1, angleWeight: 0 });
    const actual = loss.compute({ logits: tf.zeros([3, 2]), features: tf.tensor2d(STUDENT) }, { teacherFeatures: tf.tensor2d(TEACHER) });
    expect(value(actual)).toBeCloseTo(0.018484, 5);
  });

  it('computes the angle-wise term over all ordered triplets', () => {
    // The student's right angle at (0,0) has cosine 0; the teacher's is also 0 but its other two angles differ.
    const expected = angleTerm(STUDENT, TEACHER);
    expect(expected).toBeGreaterThan(0);
    const loss = new RelationLoss({ distanceWeight: 0, angleWeight: 1 });
    const actual = loss.compute({ logits: tf.zeros([3, 2]), features: tf.tensor2d(STUDENT) }, { teacherFeatures: tf.tensor2d(TEACHER) });
    expect(value(actual)).toBeCloseTo(expected, 5);
  });

  it('weights them 25 and 50 by default, as in the paper', () => {
    const s = [[0.3, -1, 2], [1, 0.5, 0], [-0.7, 0.2, 0.1], [2, 2, -1]];
    const t = [[1, 0], [0, 1], [-1, -1], [3, 0.5]];
    const expected = 25 * distanceTerm(s, t) + 50 * angleTerm(s, t);
    const loss = new RelationLoss();
    const actual = loss.compute({ logits: tf.zeros([4, 2]), features: tf.tensor2d(s) }, { teacherFeatures: tf.tensor2d(t) });
    expect(value(actual)).toBeCloseTo(expected, 4);
  });

  it('is 0 when the student is a scaled, shifted copy of the teacher (relations are what matters)', () => {
    const t = [[1, 2], [3, -1], [0, 0], [5, 5]];
    const s = t.map(([a, b]) => [3 * a + 7, 3 * b - 2]);
    const loss = new RelationLoss();
    expect(value(loss.compute({ logits: tf.zeros([4, 2]), features: tf.tensor2d(s) }, { teacherFeatures: tf.tensor2d(t) }))).toBeCloseTo(0, 5);
  });

  it('has finite gradients with duplicate samples in the batch, and with a batch of identical samples', () => {
    const loss = new RelationLoss();
    const teacherFeatures = tf.tensor2d([[1, 0], [1, 0], [0, 1], [2, 2]]);
    for (const student of [
      [[0.5, 0.5, 1], [0.5, 0.5, 1], [1, 0, 0], [0, 2, 1]],
      [[1, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]],
    ]) {
      const [lossValue, grad] = tf.tidy(() => {
        const f = (x: tf.Tensor): tf.Scalar => loss.compute({ logits: tf.zeros([4, 2]), features: x as tf.Tensor2D }, { teacherFeatures });
        const { value: v, grad: g } = tf.valueAndGrad(f)(tf.tensor2d(student));
        return [v.dataSync()[0], Array.from(g.dataSync())];
      });
      expect(Number.isFinite(lossValue)).toBe(true);
      expect(grad.every(Number.isFinite)).toBe(true);
    }
    teacherFeatures.dispose();
  });

  it('is 0 (not NaN) for a batch of one sample, which has no relations', () => {
    const loss = new RelationLoss();
    expect(value(loss.compute({ logits: tf.zeros([1, 2]), features: tf.tensor2d([[1, 2]]) }, { teacherFeatures: tf.tensor2d([[3, 4]]) }))).toBe(0);
  });

  it('accepts student and teacher features of different widths', () => {
    const loss = new RelationLoss();
    const actual = loss.compute(
      { logits: tf.zeros([3, 2]), features: tf.tensor2d([[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]]) },
      { teacherFeatures: tf.tensor2d([[0, 0], [1, 0], [0, 1]]) },
    );
    expect(value(actual)).toBeCloseTo(0, 5);
  });

  it('falls back to logits, then to probabilities vs soft labels, when there are no features', () => {
    const logits = [[2, 0, 1], [0, 1, 0], [1, 1, 3]];
    const teacherLogits = [[1, 0, 0], [0, 2, 1], [0, 0, 1]];
    const loss = new RelationLoss();
    const byLogits = loss.compute({ logits: tf.tensor2d(logits) }, { teacherLogits: tf.tensor2d(teacherLogits) });
    expect(value(byLogits)).toBeCloseTo(25 * distanceTerm(logits, teacherLogits) + 50 * angleTerm(logits, teacherLogits), 4);

    const softLabels = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]];
    const probs = logits.map((z) => {
      const e = z.map((v) => Math.exp(v / 2));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    });
    const byProbs = new RelationLoss({ temperature: 2 }).compute({ logits: tf.tensor2d(logits) }, { softLabels: tf.tensor2d(softLabels) });
    expect(value(byProbs)).toBeCloseTo(25 * distanceTerm(probs, softLabels) + 50 * angleTerm(probs, softLabels), 4);
  });

  it('adds beta times the response term', () => {
    const logits = tf.tensor2d([[2, 0], [0, 2], [1, 1]]);
    const softLabels = tf.tensor2d([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]);
    const relational = value(new RelationLoss({ temperature: 1 }).compute({ logits }, { softLabels }));
    const combined = value(new RelationLoss({ temperature: 1, beta: 2 }).compute({ logits }, { softLabels }));
    // response at T = 1 without hard labels: mean KL(q || softmax(z))
    const rows = [[2, 0], [0, 2], [1, 1]].map((z, i) => {
      const q = [[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]][i];
      const e = z.map(Math.exp);
      const s = e[0] + e[1];
      return q.reduce((acc, qc, c) => acc + qc * Math.log(qc / (e[c] / s)), 0);
    });
    expect(combined - relational).toBeCloseTo((2 * rows.reduce((a, b) => a + b, 0)) / 3, 5);
    tf.dispose([logits, softLabels]);
  });

  it('says which inputs are missing, and rejects bad options', () => {
    const logits = tf.zeros([3, 2]) as tf.Tensor2D;
    expect(() => new RelationLoss({ representation: 'features' }).compute({ logits }, { softLabels: tf.ones([3, 2]) as tf.Tensor2D })).toThrow(
      /needs student.features and targets.teacherFeatures/,
    );
    expect(() => new RelationLoss({ representation: 'logits' }).compute({ logits }, {})).toThrow(/needs targets.teacherLogits/);
    expect(() => new RelationLoss().compute({ logits }, {})).toThrow(/needs teacher features, teacher logits or soft labels/);
    expect(() => new RelationLoss().compute({ logits }, { teacherLogits: tf.zeros([4, 2]) as tf.Tensor2D })).toThrow(/same batch/);
    expect(() => new RelationLoss({ distanceWeight: -1 })).toThrow(/distanceWeight/);
    expect(() => new RelationLoss({ representation: 'pixels' as never })).toThrow(/unknown representation 'pixels'/);
    expect(new RelationLoss({ representation: 'logits' }).needsFeatures).toBe(false);
    expect(new RelationLoss().needsFeatures).toBe(true);
  });

  it('keeps no intermediate tensors', () => {
    const loss = new RelationLoss({ beta: 1 });
    const features = tf.randomNormal([6, 4], 0, 1, 'float32', 1) as tf.Tensor2D;
    const teacherFeatures = tf.randomNormal([6, 3], 0, 1, 'float32', 2) as tf.Tensor2D;
    const logits = tf.randomNormal([6, 3], 0, 1, 'float32', 3) as tf.Tensor2D;
    const softLabels = tf.softmax(logits) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) loss.compute({ logits, features }, { teacherFeatures, softLabels }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([features, teacherFeatures, logits, softLabels]);
  });
});
