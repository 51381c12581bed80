import { describe, expect, it } from 'vitest';

import { buildNeighbourGraph, completeGraph, kRegularGraph, NeighbourGraph } from './neighbour-graph';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `client-${String(i).padStart(3, '0')}`);
const seed = (byte: number): Uint8Array => new Uint8Array(32).fill(byte);

function edgesOf(graph: NeighbourGraph): string[] {
  return graph.clientIds.flatMap((a) => graph.neighboursOf(a).filter((b) => a < b).map((b) => `${a}|${b}`));
}

function isConnected(graph: NeighbourGraph): boolean {
  const seen = new Set([graph.clientIds[0]!]);
  const queue = [graph.clientIds[0]!];
  while (queue.length > 0) {
    for (const next of graph.neighboursOf(queue.pop()!)) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return seen.size === graph.clientIds.length;
}

describe('neighbour graph', () => {
  it('complete: every client neighbours every other one, never itself', () => {
    const graph = completeGraph(ids(6));
    for (const id of graph.clientIds) {
      expect(graph.neighboursOf(id)).toEqual(graph.clientIds.filter((other) => other !== id));
    }
    expect(graph.minimumDegree).toBe(5);
  });

  it('k-regular: exactly k distinct neighbours each, symmetric, connected, for even and odd k', () => {
    for (const [n, k] of [
      [10, 4],
      [10, 3],
      [9, 6],
      [12, 5],
      [50, 8],
      [7, 6],
      [200, 15],
    ] as const) {
      const graph = kRegularGraph(ids(n), k, seed(n));
      for (const id of graph.clientIds) {
        const neighbours = graph.neighboursOf(id);
        expect(new Set(neighbours).size).toBe(k);
        expect(neighbours).not.toContain(id);
        for (const other of neighbours) expect(graph.areNeighbours(other, id)).toBe(true);
      }
      expect(edgesOf(graph).length).toBe((n * k) / 2);
      expect(isConnected(graph)).toBe(true);
    }
  });

  it('is the same for every party: deterministic from the ids (in any order), k and the public seed', () => {
    const a = kRegularGraph(ids(20), 6, seed(7));
    const b = kRegularGraph([...ids(20)].reverse(), 6, seed(7));
    expect(edgesOf(b)).toEqual(edgesOf(a));
    const other = kRegularGraph(ids(20), 6, seed(8));
    expect(edgesOf(other)).not.toEqual(edgesOf(a));
  });

  it('with k = n - 1 is the complete graph', () => {
    expect(edgesOf(kRegularGraph(ids(8), 7, seed(1)))).toEqual(edgesOf(completeGraph(ids(8))));
    expect(edgesOf(buildNeighbourGraph(ids(9), { kind: 'k-regular', k: 8, seed: seed(2) }))).toEqual(edgesOf(completeGraph(ids(9))));
  });

  it('refuses graphs that cannot exist and repeated ids', () => {
    const invalid = expect.objectContaining({ code: 'INVALID_PARAMETERS' });
    expect(() => kRegularGraph(ids(9), 3, seed(1))).toThrow(invalid); // k * n odd
    expect(() => kRegularGraph(ids(6), 6, seed(1))).toThrow(invalid); // k >= n
    expect(() => kRegularGraph(ids(6), 0, seed(1))).toThrow(invalid);
    expect(() => completeGraph(['a', 'b', 'a'])).toThrow(expect.objectContaining({ code: 'DUPLICATE' }));
  });
});
