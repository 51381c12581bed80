import { createHash } from 'crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_MESSAGE_BYTES, maxPayloadBytesFor } from './message-size-limits';
import { MAX_GENERATOR_WEIGHTS_BYTES, MAX_SENT_PROXY_BYTES, type ModelPublished, type RoundOpen } from './messages';
import { unalignedBuffer } from './soft-predictions.testing';
import { validateModelPublished, validateRoundOpen } from './validate-coordinator-messages';
import type { Validated } from './validated';

function rejection<T>(result: Validated<T>) {
  if (result.ok) throw new Error('expected a rejection');
  return result;
}

const ROUND_OPEN: RoundOpen = {
  round: 4,
  proxy: { kind: 'public', set: { source: 'embedded', dataset: 'mnist', splitSeed: 0 }, indices: [0, 1, 2, 3, 4] },
  temperature: 3,
  encoding: 'float16',
  classes: 10,
  deadline: 1_790_000_000_000,
  maxPayloadBytes: maxPayloadBytesFor(5, 10, 'float16'),
  digest: { studentVersion: 2, epochs: 1 },
  localEpochs: 2,
  secureAggregation: null,
  privacy: null,
};

const INPUTS_SHA256 = 'ab'.repeat(32);

describe('validateRoundOpen', () => {
  it('carries a secure round\'s unsafeThreshold only when it is true, and refuses one that is not a boolean', () => {
    const secure = { threshold: 3, graph: { kind: 'complete' }, weight: 1, fixedPoint: { min: 0, max: 1, fractionalBits: 16 }, noiseShares: 1 };
    expect(validateRoundOpen({ ...ROUND_OPEN, secureAggregation: { ...secure, unsafeThreshold: true } })).toMatchObject({ ok: true, value: { secureAggregation: { unsafeThreshold: true } } });
    const safe = validateRoundOpen({ ...ROUND_OPEN, secureAggregation: { ...secure, unsafeThreshold: false } });
    expect(safe.ok && safe.value.secureAggregation && 'unsafeThreshold' in safe.value.secureAggregation).toBe(false);
    expect(rejection(validateRoundOpen({ ...ROUND_OPEN, secureAggregation: { ...secure, unsafeThreshold: 'yes' } })).message).toMatch(/secureAggregation.unsafeThreshold must be a boolean when present/);
  });

  it('accepts a synthetic proxy (generator, seed and the digest of its inputs) and rejects an unknown generator or a missing digest', () => {
    const synthetic = { ...ROUND_OPEN, proxy: { kind: 'synthetic', generator: 'strokes', seed: 7, count: 5, inputsSha256: INPUTS_SHA256 } };
    expect(validateRoundOpen(synthetic)).toMatchObject({ ok: true, value: { proxy: { kind: 'synthetic', seed: 7, count: 5, inputsSha256: INPUTS_SHA256 } } });
    expect(rejection(validateRoundOpen({ ...synthetic, proxy: { ...synthetic.proxy, generator: 'gan' } })).message).toMatch(/proxy.generator/);
    const { inputsSha256: _omitted, ...withoutDigest } = synthetic.proxy;
    expect(rejection(validateRoundOpen({ ...synthetic, proxy: withoutDigest })).message).toMatch(/proxy.inputsSha256 must be 64 lower-case hex digits, got nothing \(the field is missing\)/);
    expect(rejection(validateRoundOpen({ ...synthetic, proxy: { ...synthetic.proxy, inputsSha256: 'AB'.repeat(32) } })).message).toMatch(/proxy.inputsSha256/);
  });

  it('accepts a learned-generator proxy with its weights as binary (copied), and refuses it without them, with an odd count or too large', () => {
    const learned = { ...ROUND_OPEN, proxy: { kind: 'synthetic', generator: 'learned', seed: 7, count: 6, weights: Buffer.from([1, 2, 3]), inputsSha256: INPUTS_SHA256 } };
    const result = validateRoundOpen(learned);
    expect(result).toMatchObject({ ok: true, value: { proxy: { kind: 'synthetic', generator: 'learned', seed: 7, count: 6 } } });
    learned.proxy.weights[0] = 9;
    expect(result.ok && result.value.proxy.kind === 'synthetic' && result.value.proxy.generator === 'learned' && Array.from(result.value.proxy.weights)).toEqual([1, 2, 3]);
    expect(rejection(validateRoundOpen({ ...learned, proxy: { ...learned.proxy, weights: [1, 2, 3] } })).message).toMatch(/proxy.weights must be binary/);
    expect(rejection(validateRoundOpen({ ...learned, proxy: { ...learned.proxy, count: 5 } })).message).toMatch(/proxy.count must be even/);
    expect(rejection(validateRoundOpen({ ...learned, proxy: { ...learned.proxy, weights: new Uint8Array(MAX_GENERATOR_WEIGHTS_BYTES + 1) } }))).toMatchObject({ code: 'TOO_LARGE' });
    expect(rejection(validateRoundOpen({ ...ROUND_OPEN, proxy: { kind: 'synthetic', generator: 'strokes', seed: 7, count: 6, inputsSha256: INPUTS_SHA256, weights: Buffer.from([1]) } })).message).toMatch(/unknown field 'weights'/);
  });

  it('accepts a student-guided proxy with its uint8 pixels (copied), and refuses pixels of the wrong size, a bad shape or too many bytes', () => {
    const guided = { ...ROUND_OPEN, proxy: { kind: 'synthetic', generator: 'student-guided', seed: 7, count: 2, inputShape: [2, 2, 1], pixels: Buffer.from([0, 1, 2, 3, 4, 5, 6, 255]), inputsSha256: INPUTS_SHA256 } };
    const result = validateRoundOpen(guided);
    expect(result).toMatchObject({ ok: true, value: { proxy: { kind: 'synthetic', generator: 'student-guided', count: 2, inputShape: [2, 2, 1] } } });
    guided.proxy.pixels[0] = 9;
    expect(result.ok && result.value.proxy.kind === 'synthetic' && result.value.proxy.generator === 'student-guided' && result.value.proxy.pixels[0]).toBe(0);
    expect(rejection(validateRoundOpen({ ...guided, proxy: { ...guided.proxy, pixels: Buffer.from([1, 2, 3]) } })).message).toBe(
      'round.open: proxy.pixels must be 8 bytes (2 inputs of [2, 2, 1]), got "3 bytes"',
    );
    expect(rejection(validateRoundOpen({ ...guided, proxy: { ...guided.proxy, pixels: [1, 2] } })).message).toMatch(/proxy.pixels must be binary uint8 pixels/);
    expect(rejection(validateRoundOpen({ ...guided, proxy: { ...guided.proxy, inputShape: [2, 0] } })).message).toMatch(/proxy.inputShape must be 1 to 3 integers in \[1, 4096\]/);
    expect(rejection(validateRoundOpen({ ...guided, proxy: { ...guided.proxy, weights: Buffer.from([1]) } })).message).toMatch(/unknown field 'weights'/);
    const huge = { ...guided.proxy, count: 1, inputShape: [4096, 4096, 1], pixels: new Uint8Array(MAX_SENT_PROXY_BYTES + 1) };
    expect(rejection(validateRoundOpen({ ...guided, proxy: huge }))).toMatchObject({ code: 'TOO_LARGE' });
    expect(rejection(validateRoundOpen({ ...guided, proxy: { ...guided.proxy, generator: 'gan' } })).message).toMatch(/proxy.generator must be 'strokes', 'noise', 'learned' or 'student-guided'/);
  });

  it('accepts a round.open as the coordinator sends it, and returns a copy', () => {
    const raw = structuredClone(ROUND_OPEN);
    const result = validateRoundOpen(raw);
    expect(result).toEqual({ ok: true, value: ROUND_OPEN });
    (raw.proxy as { indices: number[] }).indices.push(99);
    expect(result.ok && result.value.proxy).toEqual({ kind: 'public', set: { source: 'embedded', dataset: 'mnist', splitSeed: 0 }, indices: [0, 1, 2, 3, 4] });
  });

  it('accepts a public proxy of the coordinator\'s own set, named by its digest, size and shape', () => {
    const set = { source: 'coordinator', sha256: 'b'.repeat(64), count: 300, inputShape: [12] } as const;
    const result = validateRoundOpen({ ...ROUND_OPEN, proxy: { kind: 'public', set, indices: [0, 299] } });
    expect(result).toMatchObject({ ok: true, value: { proxy: { kind: 'public', set, indices: [0, 299] } } });
  });

  it('accepts top-k:2 (and top-k:1, top-k:9) for 10 classes, sized at k x 3 bytes per row', () => {
    const topK = { ...ROUND_OPEN, encoding: 'top-k:2', maxPayloadBytes: maxPayloadBytesFor(5, 10, 'top-k:2') };
    expect(topK.maxPayloadBytes).toBe(5 * 6 + 1024);
    expect(validateRoundOpen(topK)).toEqual({ ok: true, value: topK });
    expect(validateRoundOpen({ ...topK, encoding: 'top-k:1' }).ok).toBe(true);
    expect(validateRoundOpen({ ...topK, encoding: 'top-k:9', maxPayloadBytes: maxPayloadBytesFor(5, 10, 'top-k:9') }).ok).toBe(true);
    expect(rejection(validateRoundOpen({ ...topK, maxPayloadBytes: 29 })).message).toMatch(/maxPayloadBytes must be an integer >= 30 \(5 x 10 in top-k:2\)/);
  });

  it.each([
    ['top-k:0', /encoding must be one of float32, float16, uint8 or top-k:K \(K an integer in \[1, classes - 1\]\), got "top-k:0"/],
    ['top-k:x', /encoding must be one of .*, got "top-k:x"/],
    ['top-k:02', /encoding must be one of .*, got "top-k:02"/],
    ['top-k:10', /round.open: encoding top-k:10 needs K in \[1, classes - 1\] = \[1, 9\] for 10 classes/],
    ['top-k:11', /encoding top-k:11 needs K in \[1, classes - 1\]/],
  ])('rejects encoding %s for 10 classes with BAD_MESSAGE', (encoding, reason) => {
    const { code, message } = rejection(validateRoundOpen({ ...ROUND_OPEN, encoding, maxPayloadBytes: 1_000_000 }));
    expect(code).toBe('BAD_MESSAGE');
    expect(message).toMatch(reason);
  });

  it('accepts a round without digest', () => {
    expect(validateRoundOpen({ ...ROUND_OPEN, digest: null }).ok).toBe(true);
  });

  it.each([
    ['a negative round', { round: -1 }, /round must be a non-negative integer/],
    ['an unknown proxy kind', { proxy: { kind: 'federated', seed: 1 } }, /proxy.kind must be 'public' or 'synthetic'/],
    ['a synthetic proxy without its generator', { proxy: { kind: 'synthetic', seed: 1, count: 5 } }, /proxy.generator must be/],
    ['no proxy indices', { proxy: { kind: 'public', set: { source: 'embedded', dataset: 'mnist', splitSeed: 0 }, indices: [] } }, /proxy.indices must be a non-empty array/],
    ['a fractional proxy index', { proxy: { kind: 'public', set: { source: 'embedded', dataset: 'mnist', splitSeed: 0 }, indices: [0, 1.5] } }, /proxy.indices\[1\]/],
    ['a public proxy without its set', { proxy: { kind: 'public', splitSeed: 0, indices: [0] } }, /proxy has unknown field 'splitSeed'|proxy.set must be an object/],
    ['an unknown embedded data set', { proxy: { kind: 'public', set: { source: 'embedded', dataset: 'cifar', splitSeed: 0 }, indices: [0] } }, /proxy.set dataset must be 'mnist' or 'mnist-full', got "cifar"/],
    ['a coordinator set with a bad digest', { proxy: { kind: 'public', set: { source: 'coordinator', sha256: 'x', count: 10, inputShape: [4] }, indices: [0] } }, /proxy.set sha256 must be 64 lower-case hex digits/],
    ['a coordinator set of a 2-d shape', { proxy: { kind: 'public', set: { source: 'coordinator', sha256: 'a'.repeat(64), count: 10, inputShape: [4, 4] }, indices: [0] } }, /proxy.set inputShape must be \[F\] or \[H, W, C\]/],
    ['an index past a coordinator set', { proxy: { kind: 'public', set: { source: 'coordinator', sha256: 'a'.repeat(64), count: 10, inputShape: [4] }, indices: [3, 10] } }, /proxy.indices\[1\] must be an integer in \[0, 10\), got 10/],
    ['an unknown set source', { proxy: { kind: 'public', set: { source: 'peer' }, indices: [0] } }, /proxy.set source must be 'embedded' or 'coordinator'/],
    ['an extra proxy field', { proxy: { ...ROUND_OPEN.proxy, labels: [1] } }, /proxy has unknown field 'labels'/],
    ['a zero temperature', { temperature: 0 }, /temperature must be a finite positive number/],
    ['an infinite temperature', { temperature: Infinity }, /temperature/],
    ['an unknown encoding', { encoding: 'int4' }, /encoding must be one of float32, float16, uint8/],
    ['one class', { classes: 1 }, /classes must be an integer >= 2/],
    ['a string deadline', { deadline: 'soon' }, /deadline must be an integer/],
    ['a limit below the answer it asks for', { maxPayloadBytes: 99 }, /maxPayloadBytes must be an integer >= 100 \(5 x 10 in float16\)/],
    ['a digest without epochs', { digest: { studentVersion: 2 } }, /digest.epochs must be a positive integer/],
    ['a digest of version 0', { digest: { studentVersion: 0, epochs: 1 } }, /digest.studentVersion/],
    ['negative local epochs', { localEpochs: -1 }, /localEpochs must be a non-negative integer/],
    ['an unknown field', { script: 'rm -rf' }, /round.open has unknown field 'script'/],
  ])('rejects %s with BAD_MESSAGE', (_, change, reason) => {
    const { code, message } = rejection(validateRoundOpen({ ...ROUND_OPEN, ...change }));
    expect(code).toBe('BAD_MESSAGE');
    expect(message).toMatch(reason);
  });

  it('rejects a missing digest (null means none; absent is a malformed message)', () => {
    const { digest: _, ...raw } = ROUND_OPEN;
    expect(rejection(validateRoundOpen(raw)).code).toBe('BAD_MESSAGE');
  });

  it.each([[null], ['round.open'], [[ROUND_OPEN]]])('rejects %s with BAD_MESSAGE', (raw) => {
    expect(rejection(validateRoundOpen(raw)).code).toBe('BAD_MESSAGE');
  });
});

function published(weights: Uint8Array): ModelPublished {
  return {
    version: 3,
    round: 5,
    sha256: createHash('sha256').update(weights).digest('hex'),
    metrics: { agreement: 0.95, testAccuracy: 0.91 },
    weights,
    createdAt: 1_700_000_000_000,
    signature: new Uint8Array(64).fill(7),
  };
}

describe('validateModelPublished', () => {
  const weights = new Uint8Array(4096).map((_, i) => (i * 31) & 0xff);

  it('accepts a model without a test accuracy (a coordinator with no evaluation set reports agreement only)', () => {
    const result = validateModelPublished({ ...published(weights), metrics: { agreement: 0.93 } });
    expect(result).toMatchObject({ ok: true, value: { metrics: { agreement: 0.93 } } });
    expect(result.ok && 'testAccuracy' in result.value.metrics).toBe(false);
  });

  it('accepts a model whose weights hash to the announced sha256, and returns a private copy', () => {
    const delivered = { ...published(weights), weights: unalignedBuffer(weights) };
    const result = validateModelPublished(delivered);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({ version: 3, round: 5, metrics: { testAccuracy: 0.91 } });
    delivered.weights.fill(0);
    expect(result.value.weights).toEqual(weights);
    expect(result.value.weights.byteOffset).toBe(0);
  });

  it('rejects weights that do not hash to the announced sha256, naming both hashes', () => {
    const tampered = weights.slice();
    tampered[100] ^= 1;
    const { code, message } = rejection(validateModelPublished({ ...published(weights), weights: tampered }));
    expect(code).toBe('BAD_MESSAGE');
    expect(message).toContain(`not the announced sha256 ${published(weights).sha256}`);
  });

  it('rejects weights over the limit with TOO_LARGE (default 8 MiB)', () => {
    const big = new Uint8Array(DEFAULT_MAX_MESSAGE_BYTES + 1);
    expect(rejection(validateModelPublished(published(big))).code).toBe('TOO_LARGE');
    expect(rejection(validateModelPublished(published(weights), { maxWeightsBytes: 4095 })).code).toBe('TOO_LARGE');
    expect(validateModelPublished(published(weights), { maxWeightsBytes: 4096 }).ok).toBe(true);
  });

  it.each([
    ['version 0', { version: 0 }, /version must be a positive integer/],
    ['an upper-case sha256', { sha256: 'A'.repeat(64) }, /sha256 must be 64 lower-case hex digits/],
    ['a short sha256', { sha256: 'abc' }, /sha256/],
    ['testAccuracy null (NaN after JSON)', { metrics: { agreement: 0.9, testAccuracy: null } }, /metrics.testAccuracy must be a number in \[0, 1\] when present, got null/],
    ['testAccuracy above 1', { metrics: { agreement: 0.9, testAccuracy: 91 } }, /metrics.testAccuracy/],
    ['no agreement', { metrics: { testAccuracy: 0.9 } }, /metrics.agreement must be a number in \[0, 1\]/],
    ['an extra metric', { metrics: { agreement: 0.9, testAccuracy: 0.9, trainLoss: 0.1 } }, /metrics has unknown field 'trainLoss'/],
    ['weights as a JSON array', { weights: [1, 2, 3] }, /weights must be binary .*got an array of 3 items/],
    ['an unknown field', { signer: 'sig' }, /model.published has unknown field 'signer'/],
    ['a signature of the wrong length', { signature: new Uint8Array(63) }, /signature must be 64 bytes/],
    ['no creation time', { createdAt: -1 }, /createdAt must be epoch milliseconds/],
  ])('rejects %s with BAD_MESSAGE', (_, change, reason) => {
    const { code, message } = rejection(validateModelPublished({ ...published(weights), ...change }));
    expect(code).toBe('BAD_MESSAGE');
    expect(message).toMatch(reason);
  });

  it.each([[null], ['model'], [[1]]])('rejects %s with BAD_MESSAGE', (raw) => {
    expect(rejection(validateModelPublished(raw)).code).toBe('BAD_MESSAGE');
  });
});

describe('validateRoundOpen: selection', () => {
  it('carries a density-ratio selection request, and refuses a malformed one or one in a private round', () => {
    expect(validateRoundOpen({ ...ROUND_OPEN, selection: { kind: 'density-ratio', epochs: 3, oddsScale: 10 } })).toMatchObject({ ok: true, value: { selection: { kind: 'density-ratio', epochs: 3, oddsScale: 10 } } });
    expect(validateRoundOpen(ROUND_OPEN)).toMatchObject({ ok: true });
    expect((validateRoundOpen(ROUND_OPEN) as { value: RoundOpen }).value.selection).toBeUndefined();
    expect(rejection(validateRoundOpen({ ...ROUND_OPEN, selection: { kind: 'oracle', epochs: 3, oddsScale: 10 } })).message).toMatch(/selection must be absent or \{ kind: 'density-ratio', epochs, oddsScale \}/);
    expect(rejection(validateRoundOpen({ ...ROUND_OPEN, selection: { kind: 'density-ratio', epochs: 0, oddsScale: 10 } })).message).toMatch(/selection.epochs must be an integer in \[1, 100\], got 0/);
    expect(rejection(validateRoundOpen({ ...ROUND_OPEN, selection: { kind: 'density-ratio', epochs: 3 } })).message).toMatch(/selection.oddsScale must be a number in \(0, 1e6\], got nothing/);
    const privacy = { mechanism: 'gnmax', sigma: 40, delta: 1e-5 };
    expect(rejection(validateRoundOpen({ ...ROUND_OPEN, privacy, selection: { kind: 'density-ratio', epochs: 3, oddsScale: 10 } })).message).toMatch(/selection cannot be asked in a private round/);
  });
});
