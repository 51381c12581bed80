import { describe, expect, it } from 'vitest';
import { encodePredictions, maxPayloadBytesFor, type RoundOpen } from '@fedkd/protocol';
import { RoundCollection } from './round-collection';

const N = 3;
const CLASSES = 2;

function request(deadline = Date.now() + 60_000): RoundOpen {
  return {
    round: 4,
    proxy: { kind: 'public', set: { source: 'embedded', dataset: 'mnist', splitSeed: 0 }, indices: [0, 1, 2] },
    temperature: 2,
    encoding: 'float32',
    classes: CLASSES,
    deadline,
    maxPayloadBytes: maxPayloadBytesFor(N, CLASSES, 'float32'),
    digest: null,
    localEpochs: 1,
    secureAggregation: null,
    privacy: null,
  };
}

function answer(round = 4) {
  const rows = Float32Array.from({ length: N * CLASSES }, (_, i) => (i % 2 === 0 ? 0.75 : 0.25));
  return { round, encoding: 'float32', n: N, classes: CLASSES, ...encodePredictions(rows, N, CLASSES, 'float32') };
}

function collecting(participants: string[], target: number | null) {
  const added: string[] = [];
  const collection = new RoundCollection(request(), participants, { add: (id) => void added.push(id) }, Date.now(), target);
  return { collection, added };
}

describe('round collection with a target number of answers', () => {
  it('closes at the target: those still invited are not-needed, and their late answers are refused with ROUND_CLOSED', async () => {
    const { collection, added } = collecting(['a', 'b', 'c', 'd'], 2);
    expect(collection.offer('a', answer(), 10)).toEqual({ ok: true, value: undefined });
    expect(collection.decline('b', 'over budget')).toEqual({ ok: true, value: undefined });
    expect(collection.offer('c', answer(), 10)).toEqual({ ok: true, value: undefined });
    const outcomes = await collection.done;
    expect(outcomes.map((o) => [o.clientId, o.status])).toEqual([
      ['a', 'answered'],
      ['b', 'declined'],
      ['c', 'answered'],
      ['d', 'not-needed'],
    ]);
    expect(outcomes.find((o) => o.clientId === 'd')!.reason).toBe('round closed at its target of 2 answers');
    const late = collection.offer('d', answer(), 10);
    expect(late).toMatchObject({ ok: false, code: 'ROUND_CLOSED', message: 'round 4 closed at its target of 2 answers: this answer was not needed' });
    expect(added).toEqual(['a', 'c']);
  });

  it('does not count a rejected answer towards the target', async () => {
    const { collection } = collecting(['a', 'b', 'c'], 2);
    collection.offer('a', answer(), 10);
    expect(collection.offer('b', { ...answer(), n: 2 }, 10).ok).toBe(false);
    let closed = false;
    void collection.done.then(() => (closed = true));
    await Promise.resolve();
    expect(closed).toBe(false);
    collection.offer('c', answer(), 10);
    expect((await collection.done).map((o) => o.status)).toEqual(['answered', 'rejected', 'answered']);
  });

  it('without a target, waits for every participant, and drops the silent ones at the deadline', async () => {
    const collection = new RoundCollection(request(Date.now() + 50), ['a', 'b'], { add: () => undefined }, Date.now(), null);
    collection.offer('a', answer(), 10);
    const outcomes = await collection.done;
    expect(outcomes.map((o) => [o.status, o.reason])).toEqual([
      ['answered', null],
      ['dropped', 'no answer before the deadline'],
    ]);
    expect(collection.offer('b', answer(), 10)).toMatchObject({ ok: false, code: 'DEADLINE_PASSED' });
  });
});
