import { binaryBytes, describeValue, isPlainRecord, isSafeIntegerAtLeast, unknownFieldsProblem } from './boundary-checks';
import { accept, reject, type Validated } from './validated';

export interface ExpectedVotes {
  round: number;
  n: number;
  classes: number;
  /** Blocks of n x classes values (2 for confident-gnmax). */
  blocks?: number;
}

const VOTES_FIELDS = ['round', 'n', 'classes', 'data'] as const;

/**
 * The `round.votes` event of a private round: exactly its fields, this round, n x classes
 * float32 values, all finite. Noisy counts may be negative or fractional: no row-sum check.
 * The value is a decoded private copy.
 */
export function validateRoundVotes(raw: unknown, expected: ExpectedVotes): Validated<{ votes: Float32Array }> {
  const what = 'round.votes';
  if (!isPlainRecord(raw)) return reject('BAD_MESSAGE', `${what} must be an object, got ${describeValue(raw)}`);
  const unknownFields = unknownFieldsProblem(raw, VOTES_FIELDS, what);
  if (unknownFields) return reject('BAD_MESSAGE', unknownFields);
  const { round, n, classes } = raw;
  if (!isSafeIntegerAtLeast(round, 0)) return reject('BAD_MESSAGE', `${what}: round must be a non-negative integer, got ${describeValue(round)}`);
  if (round < expected.round) return reject('STALE_ROUND', `${what} names round ${round}, which is over: round ${expected.round} is collecting`);
  if (round > expected.round) return reject('UNKNOWN_ROUND', `${what} names round ${round}, which has not opened`);
  if (n !== expected.n || classes !== expected.classes) {
    return reject('BAD_SHAPE', `${what}: expected ${expected.n} x ${expected.classes} votes, got ${describeValue(n)} x ${describeValue(classes)}`);
  }
  const bytes = binaryBytes(raw.data);
  const expectedBytes = expected.n * expected.classes * (expected.blocks ?? 1) * 4;
  if (bytes === null || bytes.byteLength !== expectedBytes) {
    return reject('BAD_SHAPE', `${what}: data must be ${expectedBytes} bytes of float32, got ${describeValue(raw.data)}`);
  }
  const votes = new Float32Array(new Uint8Array(bytes).buffer);
  if (!votes.every(Number.isFinite)) return reject('NOT_FINITE', `${what}: votes must be finite numbers`);
  return accept({ votes });
}
