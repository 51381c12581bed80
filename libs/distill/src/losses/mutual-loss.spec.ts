import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';

import { softmax, kl, mean, value } from './reference-math.testing';

import { MutualLoss } from './mutual-loss';


beforeAll(async () => {
  await tf.setBackend('cpu');
});

const Z = [
  [1, 0, -1],
  [0.5, 2, 0],
];

describe('mutual loss (deep mutual learning, Zhang et al. 2018)', () => {
  it('is 0 when the peers agree with the student and the soft labels match', () => {
    const p = Z.map((z) => softmax(z));
    const loss = new MutualLoss();
    const actual = loss.compute({ logits: tf.tensor2d(Z) }, { softLabels: tf.tensor2d(p), peerProbabilities: [tf.tensor2d(p), tf.tensor2d(p)] });
    expect(value(actual)).toBeCloseTo(0, 6);
  });

  it('is just the cross-entropy with hard labels when the peer agrees', () => {
    const labels = [0, 1];
    const expected = mean(Z.map((z, i) => -Math.log(softmax(z)[labels[i]])));
    const loss = new MutualLoss();
    const actual = loss.compute(
      { logits: tf.tensor2d(Z) },
      { hardLabels: tf.tensor1d(labels, 'int32'), peerProbabilities: [tf.tensor2d(Z.map((z) => softmax(z)))] },
    );
    expect(value(actual)).toBeCloseTo(expected, 5);
  });

  it('adds the mean KL from each peer to the student (hand example, two peers)', () => {
    // CE with labels [0, 1] + (KL(p1 || p) + KL(p2 || p)) / 2, batch means; T = 1
    const labels = [0, 1];
    const peer1 = [[0.6, 0.3, 0.1], [0.1, 0.8, 0.1]];
    const peer2 = [[1, 0, 0], [0.2, 0.2, 0.6]];
    const ce = mean(Z.map((z, i) => -Math.log(softmax(z)[labels[i]])));
    const peerTerm = (mean(Z.map((z, i) => kl(peer1[i], softmax(z)))) + mean(Z.map((z, i) => kl(peer2[i], softmax(z))))) / 2;
    const loss = new MutualLoss();
    const actual = loss.compute(
      { logits: tf.tensor2d(Z) },
      { hardLabels: tf.tensor1d(labels, 'int32'), peerProbabilities: [tf.tensor2d(peer1), tf.tensor2d(peer2)] },
    );
    expect(value(actual)).toBeCloseTo(ce + peerTerm, 5);
  });

  it('uses T^2 * KL to the soft labels and the peer at temperature T when there are no hard labels', () => {
    const T = 2;
    const soft = [[0.5, 0.3, 0.2], [0.2, 0.5, 0.3]];
    const peer = [[0.4, 0.4, 0.2], [0.3, 0.4, 0.3]];
    const expected =
      T * T * mean(Z.map((z, i) => kl(soft[i], softmax(z, T)))) + 0.5 * T * T * mean(Z.map((z, i) => kl(peer[i], softmax(z, T))));
    const loss = new MutualLoss({ temperature: T, peerWeight: 0.5 });
    const actual = loss.compute({ logits: tf.tensor2d(Z) }, { softLabels: tf.tensor2d(soft), peerProbabilities: [tf.tensor2d(peer)] });
    expect(value(actual)).toBeCloseTo(expected, 5);
  });

  it('sends no gradient to a peer, even when its probabilities were computed inside the tape', () => {
    const loss = new MutualLoss();
    const labels = tf.tensor1d([0, 1], 'int32');
    const [gStudent, gPeer] = tf.grads((z: tf.Tensor, peerLogits: tf.Tensor) =>
      loss.compute({ logits: z as tf.Tensor2D }, { hardLabels: labels, peerProbabilities: [tf.softmax(peerLogits) as tf.Tensor2D] }),
    )([tf.tensor2d(Z), tf.tensor2d([[0, 1, 0], [2, 0, 0]])]);
    expect(Array.from(gPeer.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(gStudent.dataSync()).some((g) => g !== 0)).toBe(true);
    tf.dispose([gStudent, gPeer, labels]);
  });

  it('needs peers and some labels, and says so', () => {
    const loss = new MutualLoss();
    const logits = tf.tensor2d(Z);
    const p = tf.tensor2d(Z.map((z) => softmax(z)));
    expect(() => loss.compute({ logits }, { softLabels: p })).toThrow(/needs targets.peerProbabilities/);
    expect(() => loss.compute({ logits }, { peerProbabilities: [p] })).toThrow(/needs targets.hardLabels or targets.softLabels/);
    expect(() => loss.compute({ logits }, { softLabels: p, peerProbabilities: [tf.ones([2, 2]) as tf.Tensor2D] })).toThrow(
      /peerProbabilities\[0\]: shapes differ/,
    );
    expect(() => new MutualLoss({ temperature: -1 })).toThrow(/temperature/);
    tf.dispose([logits, p]);
  });

  it('keeps no intermediate tensors', () => {
    const loss = new MutualLoss({ temperature: 2 });
    const logits = tf.tensor2d(Z);
    const softLabels = tf.tensor2d(Z.map((z) => softmax(z, 2)));
    const peer = tf.tensor2d([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) loss.compute({ logits }, { softLabels, peerProbabilities: [peer] }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([logits, softLabels, peer]);
  });
});
