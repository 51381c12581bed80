import { createHash } from 'crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anyValue, FUZZ_RUNS, mutatedBytes, mutatedRecord } from '../../engine/src/fuzz-inputs.testing';
import { maxPayloadBytesFor } from './message-size-limits';
import { PROTOCOL_VERSION, type ErrorCode, type PredictionEncoding, type RoundOpen } from './messages';
import { encodePredictions } from './prediction-codec';
import { splitSignatureEnvelope } from './signature-envelope';
import { softPredictions } from './soft-predictions.testing';
import { validateHandshakeAuth, validateHello, validateProxyFetch, validateRoundDeclined } from './validate-client-messages';
import { validateAuthChallenge, validateModelPublished, validateRoundOpen } from './validate-coordinator-messages';
import { validateRoundPredictions, type ExpectedPredictions } from './validate-round-predictions';
import { validateRoundVotes } from './validate-round-votes';
import type { Validated } from './validated';

/**
 * Every message validator of the protocol, fed arbitrary values and mutations of valid messages:
 * it returns `{ ok: true }` or `{ ok: false, code, message }` with a known ErrorCode and a short
 * message (it never echoes a large payload), and never throws.
 */

const ERROR_CODES: readonly ErrorCode[] = [
  'BAD_MESSAGE', 'BAD_SHAPE', 'NOT_FINITE', 'TOO_LARGE', 'STALE_ROUND', 'UNKNOWN_ROUND', 'NOT_INVITED', 'DUPLICATE',
  'DEADLINE_PASSED', 'NOT_REGISTERED', 'PROTOCOL_VERSION', 'RATE_LIMITED', 'UNAUTHENTICATED', 'BAD_SIGNATURE', 'REPLAY',
  'WRONG_ROUND', 'REVOKED', 'TASK_MISMATCH', 'NOT_FOUND', 'INTERNAL',
];

/** Longest reason a validator may give: a few field descriptions, never a payload. */
const MAX_REASON_CHARS = 1000;

function expectValidated(result: Validated<unknown>): void {
  expect(typeof result).toBe('object');
  if (result.ok) return;
  expect(ERROR_CODES).toContain(result.code);
  expect(typeof result.message).toBe('string');
  expect(result.message.length).toBeGreaterThan(0);
  expect(result.message.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
}

const N = 12;
const C = 10;
const ROUND = 7;
const ENCODINGS: readonly PredictionEncoding[] = ['float32', 'float16', 'uint8', 'top-k:3'];

function expectedPredictions(encoding: PredictionEncoding): ExpectedPredictions {
  return { round: ROUND, n: N, classes: C, encoding, maxPayloadBytes: maxPayloadBytesFor(N, C, encoding) };
}

function validPredictions(encoding: PredictionEncoding) {
  return { round: ROUND, encoding, n: N, classes: C, ...encodePredictions(softPredictions(N, C, 3), N, C, encoding) };
}

const HELLO = {
  taskSha256: 'ab'.repeat(32),
  architecture: { kind: 'cnn', inputShape: [28, 28, 1], convFilters: [8, 16], kernelSize: 3, hidden: [32], classes: 10 },
  sampleCount: 600,
};

const ROUND_OPEN: RoundOpen = {
  round: 4,
  proxy: { kind: 'public', set: { source: 'coordinator', sha256: 'cd'.repeat(32), count: 100, inputShape: [28, 28, 1] }, indices: [0, 1, 2, 3, 4] },
  temperature: 3,
  encoding: 'uint8',
  classes: 10,
  deadline: 1_790_000_000_000,
  maxPayloadBytes: maxPayloadBytesFor(5, 10, 'uint8'),
  digest: { studentVersion: 2, epochs: 1 },
  localEpochs: 2,
  secureAggregation: {
    threshold: 2,
    graph: { kind: 'k-regular', k: 2, seed: new Uint8Array(32) },
    weight: 0.5,
    fixedPoint: { min: -1, max: 2, fractionalBits: 16 },
    noiseShares: 2,
  },
  privacy: { mechanism: 'confident-gnmax', threshold: 200, sigma1: 150, sigma2: 40, delta: 1e-5 },
};

const WEIGHTS = new Uint8Array(2048).map((_, i) => (i * 37) & 0xff);
const MODEL_PUBLISHED = {
  version: 3,
  round: 5,
  sha256: createHash('sha256').update(WEIGHTS).digest('hex'),
  metrics: { agreement: 0.95, testAccuracy: 0.91 },
  weights: WEIGHTS,
  createdAt: 1_700_000_000_000,
  signature: new Uint8Array(64).fill(7),
};

const VOTES = { round: ROUND, n: N, classes: C, data: new Uint8Array(new Float32Array(N * C).fill(1).buffer) };

/** Each validator with a valid message it accepts. */
const VALIDATORS: { name: string; valid: unknown; validate: (raw: unknown) => Validated<unknown> }[] = [
  { name: 'validateHandshakeAuth', valid: { protocolVersion: PROTOCOL_VERSION, clientName: 'edge-1' }, validate: validateHandshakeAuth },
  { name: 'validateHello', valid: HELLO, validate: validateHello },
  { name: 'validateProxyFetch', valid: { sha256: 'ef'.repeat(32), start: 10, count: 20 }, validate: validateProxyFetch },
  { name: 'validateRoundDeclined', valid: { round: ROUND, reason: 'busy' }, validate: (raw) => validateRoundDeclined(raw, ROUND) },
  { name: 'validateRoundOpen', valid: ROUND_OPEN, validate: validateRoundOpen },
  { name: 'validateAuthChallenge', valid: { nonce: new Uint8Array(32).fill(9), task: { name: 'digits', sha256: 'ab'.repeat(32) } }, validate: validateAuthChallenge },
  { name: 'validateModelPublished', valid: MODEL_PUBLISHED, validate: (raw) => validateModelPublished(raw, { maxWeightsBytes: 4096 }) },
  { name: 'validateRoundVotes', valid: VOTES, validate: (raw) => validateRoundVotes(raw, { round: ROUND, n: N, classes: C }) },
  { name: 'splitSignatureEnvelope', valid: { round: ROUND, reason: 'x', seq: 3, signature: new Uint8Array(64) }, validate: (raw) => splitSignatureEnvelope(raw, 'round.declined') },
  ...ENCODINGS.map((encoding) => ({
    name: `validateRoundPredictions (${encoding})`,
    valid: validPredictions(encoding),
    validate: (raw: unknown) => validateRoundPredictions(raw, expectedPredictions(encoding)),
  })),
];

describe('message validators under fuzzing', () => {
  it.each(VALIDATORS)('$name accepts its valid message (the mutations below start from an accepted one)', ({ valid, validate }) => {
    expect(validate(valid)).toMatchObject({ ok: true });
  });

  it.each(VALIDATORS)('$name returns a typed rejection for any value and never throws', ({ validate }) => {
    fc.assert(fc.property(anyValue, (raw) => expectValidated(validate(raw))), { numRuns: FUZZ_RUNS });
  });

  it.each(VALIDATORS)('$name returns a typed result for its valid message with fields removed, added or of another type', ({ valid, validate }) => {
    fc.assert(fc.property(mutatedRecord(valid), (raw) => expectValidated(validate(raw))), { numRuns: FUZZ_RUNS });
  });
});

describe('binary fields under fuzzing', () => {
  it.each(ENCODINGS)('validateRoundPredictions (%s) refuses mutated data and scales bytes with a typed rejection', (encoding) => {
    const valid = validPredictions(encoding);
    const fields = valid.scales ? (['data', 'scales'] as const) : (['data'] as const);
    for (const which of fields) {
      fc.assert(
        fc.property(mutatedBytes(valid[which]!), (bytes) => {
          const result = validateRoundPredictions({ ...valid, [which]: Buffer.from(bytes) }, expectedPredictions(encoding));
          expectValidated(result);
          // An accepted mutation (e.g. a flipped low mantissa bit) still decodes to probability rows.
          if (result.ok) for (const p of result.value.predictions) expect(p >= 0 && p <= 1 + 1e-3).toBe(true);
        }),
        { numRuns: FUZZ_RUNS },
      );
    }
  });

  it('validateRoundVotes gives NOT_FINITE or BAD_SHAPE for mutated vote bytes, never an exception', () => {
    fc.assert(
      fc.property(mutatedBytes(VOTES.data), (bytes) => {
        const result = validateRoundVotes({ ...VOTES, data: Buffer.from(bytes) }, { round: ROUND, n: N, classes: C });
        expectValidated(result);
        if (!result.ok) expect(['NOT_FINITE', 'BAD_SHAPE']).toContain(result.code);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('validateModelPublished refuses every mutated weights blob whose hash no longer matches', () => {
    fc.assert(
      fc.property(mutatedBytes(WEIGHTS), (bytes) => {
        const result = validateModelPublished({ ...MODEL_PUBLISHED, weights: Buffer.from(bytes) }, { maxWeightsBytes: 4096 });
        expectValidated(result);
        const same = bytes.length === WEIGHTS.length && bytes.every((b, i) => b === WEIGHTS[i]);
        expect(result.ok).toBe(same);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});

describe('declared sizes far beyond the payload', () => {
  const huge = [2 ** 31, 2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER];

  it.each(huge)('validateRoundPredictions refuses n = %d against a round that declared it, before allocating', (n) => {
    const before = process.memoryUsage().arrayBuffers;
    for (const encoding of ENCODINGS) {
      const expected: ExpectedPredictions = { round: ROUND, n, classes: C, encoding, maxPayloadBytes: 1_000_000 };
      const result = validateRoundPredictions({ ...validPredictions(encoding), n }, expected);
      expect(result).toMatchObject({ ok: false });
      expectValidated(result);
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it.each(huge)('validateRoundVotes refuses %d rows declared against a small data field without allocating them', (n) => {
    const before = process.memoryUsage().arrayBuffers;
    const result = validateRoundVotes({ ...VOTES, n }, { round: ROUND, n, classes: C, blocks: 2 });
    expect(result).toMatchObject({ ok: false, code: 'BAD_SHAPE' });
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });
});
