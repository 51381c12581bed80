import { SecureAggregationError } from './errors';
import { assertSumFits, DEFAULT_FIXED_POINT_FORMAT, FixedPointFormat, validateFixedPointFormat } from './fixed-point';
import { NeighbourGraph, NeighbourGraphSpec } from './neighbour-graph';
import { SHAMIR_MAX_SHARES } from './shares';

/**
 * What client and server agree on before a secure-aggregation round starts (the coordinator sends
 * it with the round; both sides construct their state objects from the same value).
 *
 * Threshold t: the number of a client's neighbours that must answer the unmasking step for its
 * secrets to be recovered, and one more than the number of colluding neighbours (plus an
 * honest-but-curious server) its secrets are safe against. 2 <= t <= every client's number of
 * neighbours (n - 1 for the complete graph, k for a k-regular one), and t must be a strict
 * majority of every client's neighbours (t >= majorityThreshold(degree)): an honest client reveals
 * for any neighbour either its self-mask-seed share or its masking-key share, never both, so a
 * coordinator that tells some neighbours "v survived" and others "v dropped" needs t shares of
 * each from disjoint neighbours of v, 2t <= degree, which the floor rules out. Only
 * `unsafeThreshold: true` (tests, measurements) lets a smaller t through. Bonawitz et al. take
 * t > n/2 against an honest-but-curious server with colluding clients, t > 2n/3 against an active
 * one with colluding clients; a round survives up to (neighbours - t) dropouts in a neighbourhood.
 */
export interface SecureAggregationParameters {
  roundId: number;
  /** Elements per client vector (n proxy inputs x C classes). */
  vectorLength: number;
  threshold: number;
  graph: NeighbourGraphSpec;
  /** Defaults to DEFAULT_FIXED_POINT_FORMAT: [0, 1] with 16 fractional bits. */
  fixedPoint?: FixedPointFormat;
  /**
   * UNSAFE: accept a threshold at or below half of a client's neighbours. Then a coordinator that
   * sends different unmask requests to different neighbours can recover a single client's input.
   * For tests and measurements only; never set it from what a coordinator sends.
   */
  unsafeThreshold?: boolean;
}

export interface ResolvedParameters {
  roundId: number;
  vectorLength: number;
  threshold: number;
  graph: NeighbourGraphSpec;
  fixedPoint: FixedPointFormat;
  unsafeThreshold: boolean;
}

/** floor(k / 2) + 1: a strict majority of k neighbours. */
export function majorityThreshold(neighbours: number): number {
  return Math.floor(neighbours / 2) + 1;
}

/** Longest vector accepted (2^26 elements = 256 MiB of masked input). */
export const MAX_VECTOR_LENGTH = 2 ** 26;

export function resolveParameters(parameters: SecureAggregationParameters): ResolvedParameters {
  const { roundId, vectorLength, threshold, graph } = parameters;
  const invalid = (message: string): SecureAggregationError => new SecureAggregationError('INVALID_PARAMETERS', message);
  if (!Number.isSafeInteger(roundId) || roundId < 0) throw invalid(`round id must be a non-negative safe integer, got ${roundId}`);
  if (!Number.isInteger(vectorLength) || vectorLength < 1 || vectorLength > MAX_VECTOR_LENGTH) {
    throw invalid(`vector length must be an integer in 1..${MAX_VECTOR_LENGTH}, got ${vectorLength}`);
  }
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > SHAMIR_MAX_SHARES) {
    throw invalid(`threshold must be an integer in 2..${SHAMIR_MAX_SHARES}, got ${threshold}`);
  }
  if (graph.kind === 'k-regular') {
    if (!Number.isInteger(graph.k) || graph.k < threshold || graph.k > SHAMIR_MAX_SHARES) {
      throw invalid(`k-regular graph: k must be an integer in threshold (${threshold})..${SHAMIR_MAX_SHARES}, got ${graph.k}`);
    }
    if (!(graph.seed instanceof Uint8Array) || graph.seed.byteLength === 0) throw invalid('k-regular graph: seed must be non-empty bytes');
    if (parameters.unsafeThreshold !== true && threshold < majorityThreshold(graph.k)) {
      throw invalid(belowMajority(threshold, graph.k));
    }
  } else if (graph.kind !== 'complete') {
    throw invalid(`unknown neighbour graph kind ${(graph as { kind: unknown }).kind as string}`);
  }
  const fixedPoint = { ...(parameters.fixedPoint ?? DEFAULT_FIXED_POINT_FORMAT) };
  validateFixedPointFormat(fixedPoint);
  const resolvedGraph: NeighbourGraphSpec =
    graph.kind === 'complete' ? { kind: 'complete' } : { kind: 'k-regular', k: graph.k, seed: new Uint8Array(graph.seed) };
  return { roundId, vectorLength, threshold, graph: resolvedGraph, fixedPoint, unsafeThreshold: parameters.unsafeThreshold === true };
}

function belowMajority(threshold: number, neighbours: number): string {
  return (
    `threshold ${threshold} is not a majority of ${neighbours} neighbours (needs at least ${majorityThreshold(neighbours)}): ` +
    'a coordinator sending different unmask requests to different neighbours could recover a single input ' +
    '(unsafeThreshold allows it for tests only)'
  );
}

/**
 * Checks a round's graph once the participants are known: every client has at least `threshold`
 * and at most 255 neighbours, `threshold` is a strict majority of every client's neighbours
 * (unless `unsafeThreshold`), and the sum over all participants fits the fixed-point headroom.
 */
export function checkGraphForRound(parameters: ResolvedParameters, graph: NeighbourGraph): void {
  const participants = graph.clientIds.length;
  const degree = graph.minimumDegree;
  if (degree < parameters.threshold) {
    throw new SecureAggregationError(
      'BELOW_THRESHOLD',
      `${participants} participant(s) give each client ${degree} neighbour(s), fewer than the threshold ${parameters.threshold}`,
    );
  }
  for (const id of graph.clientIds) {
    const neighbours = graph.neighboursOf(id).length;
    if (!parameters.unsafeThreshold && parameters.threshold < majorityThreshold(neighbours)) {
      throw new SecureAggregationError('INVALID_PARAMETERS', `${belowMajority(parameters.threshold, neighbours)} (client ${id})`);
    }
    if (neighbours > SHAMIR_MAX_SHARES) {
      throw new SecureAggregationError(
        'INVALID_PARAMETERS',
        `client ${id} has more than ${SHAMIR_MAX_SHARES} neighbours (Shamir over GF(256)); use a k-regular graph`,
      );
    }
  }
  assertSumFits(parameters.fixedPoint, participants);
}
