/**
 * Plain-JS reference math for the loss specs, written independently of the implementation so a
 * bug in the shared tensor helpers cannot hide in both sides of an assertion.
 */
import type * as tf from '@tensorflow/tfjs';

export const softmax = (z: number[], T = 1): number[] => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp((v - m) / T));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

/** KL(p || q) with 0 log 0 = 0. */
export const kl = (p: number[], q: number[]): number =>
  p.reduce((acc, pi, i) => (pi > 0 ? acc + pi * Math.log(pi / q[i]) : acc), 0);

export const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Reads a scalar and disposes it. */
export const value = (t: tf.Scalar): number => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};
