import nacl from 'tweetnacl';

import { SecureAggregationError } from './errors';
import { keystreamBytes, streamNonce } from './mask-stream';
import { assertClientId, sortedClientIds, uint32FromBytesLE } from './wire-bytes';

/**
 * Who masks with whom (and holds whose shares). Complete by default, as in Bonawitz et al. 2017;
 * `k-regular` as in SecAgg+ (Bell et al. 2020): each client has k neighbours, so per-client cost
 * grows with k instead of n, and the threshold t is chosen relative to k.
 *
 * The k-regular graph is a Harary graph H(k, n) under a pseudo-random relabelling (as Google's
 * SecAgg implementation does): place the clients on a ring in a permuted order, link each to the
 * floor(k/2) nearest on either side and, for odd k, to the one opposite. The permutation comes from
 * a public seed, so every party computes the same graph from (client ids, k, seed). The graph is
 * not drawn uniformly from all k-regular graphs; what matters for privacy is that the server cannot
 * choose who neighbours whom, so the seed must be fixed before the server learns which clients
 * take part (e.g. announced with the round) or be drawn jointly.
 */
export type NeighbourGraphSpec = { kind: 'complete' } | { kind: 'k-regular'; k: number; seed: Uint8Array };

export class NeighbourGraph {
  /** All clients of the graph, in code-unit order. */
  readonly clientIds: readonly string[];
  private readonly adjacency: ReadonlyMap<string, readonly string[]>;

  private constructor(adjacency: Map<string, string[]>) {
    this.clientIds = sortedClientIds(adjacency.keys());
    for (const list of adjacency.values()) list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.adjacency = adjacency;
  }

  /** From undirected edges over `clientIds` (internal: use completeGraph / kRegularGraph). */
  static fromEdges(clientIds: readonly string[], edges: Iterable<readonly [string, string]>): NeighbourGraph {
    const adjacency = new Map<string, string[]>(clientIds.map((id) => [id, []]));
    for (const [a, b] of edges) {
      adjacency.get(a)!.push(b);
      adjacency.get(b)!.push(a);
    }
    return new NeighbourGraph(adjacency);
  }

  has(clientId: string): boolean {
    return this.adjacency.has(clientId);
  }

  /** The neighbours of a client, in code-unit order (never the client itself). */
  neighboursOf(clientId: string): readonly string[] {
    const list = this.adjacency.get(clientId);
    if (list === undefined) {
      throw new SecureAggregationError('UNKNOWN_CLIENT', `client ${clientId} is not in the neighbour graph`);
    }
    return list;
  }

  areNeighbours(a: string, b: string): boolean {
    return this.adjacency.get(a)?.includes(b) ?? false;
  }

  /**
   * Whether the subgraph induced by `members` (each in the graph) is connected: every member can
   * reach every other through edges between members. Pairwise masks exist only along edges, so the
   * masks of a group with no edge to the rest cancel within it, and unmasking would reveal that
   * group's sum on its own. An empty or one-member set counts as connected.
   */
  isConnectedAmong(members: Iterable<string>): boolean {
    const inside = new Set(members);
    const first = inside.values().next();
    if (first.done) return true;
    const reached = new Set<string>([first.value]);
    const queue = [first.value];
    while (queue.length > 0) {
      for (const next of this.neighboursOf(queue.pop()!)) {
        if (inside.has(next) && !reached.has(next)) {
          reached.add(next);
          queue.push(next);
        }
      }
    }
    return reached.size === inside.size;
  }

  /** The smallest number of neighbours of any client (every client's, for the graphs built here). */
  get minimumDegree(): number {
    let degree = Infinity;
    for (const list of this.adjacency.values()) degree = Math.min(degree, list.length);
    return degree;
  }
}

function checkedClientIds(clientIds: readonly string[]): string[] {
  for (const id of clientIds) assertClientId(id);
  const sorted = sortedClientIds(clientIds);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) {
      throw new SecureAggregationError('DUPLICATE', `client id ${sorted[i]} appears twice`);
    }
  }
  return sorted;
}

/** Everyone is everyone's neighbour (Bonawitz et al. 2017). */
export function completeGraph(clientIds: readonly string[]): NeighbourGraph {
  const ids = checkedClientIds(clientIds);
  const edges: [string, string][] = [];
  for (let i = 0; i < ids.length; i++) for (let j = i + 1; j < ids.length; j++) edges.push([ids[i]!, ids[j]!]);
  return NeighbourGraph.fromEdges(ids, edges);
}

/**
 * A k-regular graph over `clientIds` (a relabelled Harary graph, see above), the same for every
 * party given the same ids (in any order), k and public seed (any bytes; hashed with SHA-512).
 * Needs 1 <= k < n and k * n even (for odd k, an even number of clients).
 */
export function kRegularGraph(clientIds: readonly string[], k: number, seed: Uint8Array): NeighbourGraph {
  const ids = checkedClientIds(clientIds);
  const n = ids.length;
  if (!Number.isInteger(k) || k < 1 || k >= n) {
    throw new SecureAggregationError('INVALID_PARAMETERS', `k-regular graph: need 1 <= k < n = ${n}, got k = ${k}`);
  }
  if ((k * n) % 2 !== 0) {
    throw new SecureAggregationError(
      'INVALID_PARAMETERS',
      `k-regular graph: no ${k}-regular graph on ${n} clients exists (k * n must be even)`,
    );
  }
  if (!(seed instanceof Uint8Array)) {
    throw new SecureAggregationError('INVALID_PARAMETERS', 'k-regular graph: seed must be bytes');
  }
  const ring = permute(ids, seed);
  const edges: [string, string][] = [];
  for (let i = 0; i < n; i++) {
    for (let d = 1; d <= Math.floor(k / 2); d++) edges.push([ring[i]!, ring[(i + d) % n]!]);
    if (k % 2 === 1 && i < n / 2) edges.push([ring[i]!, ring[i + n / 2]!]);
  }
  return NeighbourGraph.fromEdges(ids, edges);
}

export function buildNeighbourGraph(clientIds: readonly string[], spec: NeighbourGraphSpec): NeighbourGraph {
  return spec.kind === 'complete' ? completeGraph(clientIds) : kRegularGraph(clientIds, spec.k, spec.seed);
}

/** Fisher-Yates with unbiased draws (rejection sampling) from the seed's XSalsa20 keystream. */
function permute(sortedIds: readonly string[], seed: Uint8Array): string[] {
  const order = [...sortedIds];
  const key = nacl.hash(seed).subarray(0, 32);
  const nonce = streamNonce('graph', 0);
  let words: Uint32Array = new Uint32Array(0);
  let next = 0;
  const nextWord = (): number => {
    if (next === words.length) {
      // The keystream's prefix does not depend on its length: regenerate longer and continue.
      words = uint32FromBytesLE(keystreamBytes(key, nonce, 4 * Math.max(64, 2 * words.length, 2 * order.length)));
    }
    return words[next++]!;
  };
  for (let i = order.length - 1; i > 0; i--) {
    const range = i + 1;
    const limit = 2 ** 32 - (2 ** 32 % range);
    let word = nextWord();
    while (word >= limit) word = nextWord();
    const j = word % range;
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}
