import { blobSha256 } from '@fedkd/engine';
import {
  binaryBytes,
  describeValue,
  isPlainRecord,
  isRoundNumber,
  isSafeIntegerAtLeast,
  unknownFieldsProblem,
} from './boundary-checks';
import { MAX_GENERATOR_WEIGHTS_BYTES, MAX_SENT_PROXY_BYTES, proxyInputCount, type AuthChallenge, type ModelPublished, type ProxySpec, type PublicSetRef, type RoundOpen } from './messages';
import { DEFAULT_MAX_MESSAGE_BYTES } from './message-size-limits';
import { isPredictionEncoding, PREDICTION_ENCODINGS_DESCRIPTION, predictionEncodingProblem, predictionPayloadBytes } from './prediction-codec';
import { accept, reject, type Validated } from './validated';

/**
 * Validators a client runs on what the coordinator sends: a coordinator's message is untrusted
 * input too (a bug, another version, or someone else answering on its address). None throws.
 */

/** Most epochs a round may ask a client's coverage selector to train. */
export const MAX_SELECTOR_EPOCHS = 100;

const ROUND_OPEN_FIELDS = [
  'round',
  'proxy',
  'temperature',
  'encoding',
  'classes',
  'deadline',
  'maxPayloadBytes',
  'digest',
  'localEpochs',
  'secureAggregation',
  'privacy',
  'selection',
] as const;
const SECURE_AGGREGATION_FIELDS = ['threshold', 'graph', 'weight', 'fixedPoint', 'noiseShares', 'unsafeThreshold'] as const;
const PUBLIC_PROXY_FIELDS = ['kind', 'set', 'indices'] as const;
const EMBEDDED_SET_FIELDS = ['source', 'dataset', 'splitSeed'] as const;
const COORDINATOR_SET_FIELDS = ['source', 'sha256', 'count', 'inputShape'] as const;
const SYNTHETIC_PROXY_FIELDS = ['kind', 'generator', 'seed', 'count', 'inputsSha256'] as const;
const LEARNED_PROXY_FIELDS = ['kind', 'generator', 'seed', 'count', 'weights', 'inputsSha256'] as const;
const SENT_PROXY_FIELDS = ['kind', 'generator', 'seed', 'count', 'inputShape', 'pixels', 'inputsSha256'] as const;
const DIGEST_FIELDS = ['studentVersion', 'epochs'] as const;
const MODEL_PUBLISHED_FIELDS = ['version', 'round', 'sha256', 'metrics', 'weights', 'createdAt', 'signature'] as const;
const METRICS_FIELDS = ['agreement', 'testAccuracy'] as const;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const AUTH_CHALLENGE_FIELDS = ['nonce', 'task'] as const;
const CHALLENGE_TASK_FIELDS = ['name', 'sha256'] as const;
/** Bytes of a handshake nonce (libs/privacy's HANDSHAKE_NONCE_BYTES). */
const CHALLENGE_NONCE_BYTES = 32;
/** Longest task name a challenge may carry (a task file's name is at most 200 characters). */
const MAX_TASK_NAME_CHARS = 200;

/**
 * The `auth.challenge` event: only known fields; a 32-byte binary nonce; the task as
 * { name: 1-200 characters, sha256: 64 lower-case hex digits }. BAD_MESSAGE otherwise. The value
 * is a fresh copy.
 */
export function validateAuthChallenge(raw: unknown): Validated<AuthChallenge> {
  const what = 'auth.challenge';
  if (!isPlainRecord(raw)) return reject('BAD_MESSAGE', `${what} must be an object { nonce, task }, got ${describeValue(raw)}`);
  const unknownFields = unknownFieldsProblem(raw, AUTH_CHALLENGE_FIELDS, what);
  if (unknownFields) return reject('BAD_MESSAGE', unknownFields);
  const nonce = binaryBytes(raw.nonce);
  if (nonce === null || nonce.byteLength !== CHALLENGE_NONCE_BYTES) {
    return reject('BAD_MESSAGE', `${what}: nonce must be ${CHALLENGE_NONCE_BYTES} bytes, got ${describeValue(raw.nonce)}`);
  }
  const task = raw.task;
  if (!isPlainRecord(task)) return reject('BAD_MESSAGE', `${what}: task must be an object { name, sha256 }, got ${describeValue(task)}`);
  const taskFields = unknownFieldsProblem(task, CHALLENGE_TASK_FIELDS, `${what}: task`);
  if (taskFields) return reject('BAD_MESSAGE', taskFields);
  if (typeof task.name !== 'string' || task.name.length === 0 || task.name.length > MAX_TASK_NAME_CHARS) {
    return reject('BAD_MESSAGE', `${what}: task.name must be a string of 1-${MAX_TASK_NAME_CHARS} characters, got ${describeValue(task.name)}`);
  }
  if (typeof task.sha256 !== 'string' || !SHA256_HEX.test(task.sha256)) {
    return reject('BAD_MESSAGE', `${what}: task.sha256 must be 64 lower-case hex digits, got ${describeValue(task.sha256)}`);
  }
  return accept({ nonce: new Uint8Array(nonce), task: { name: task.name, sha256: task.sha256 } });
}

/**
 * The `round.open` event: only known fields (also inside `proxy` and `digest`); a round number;
 * a public proxy with a non-negative integer split seed and at least one non-negative integer
 * index; a finite positive temperature; a known encoding (`top-k:K` with K in [1, classes - 1]);
 * classes >= 2; an integer deadline (epoch ms; whether it has passed is the caller's business);
 * a maxPayloadBytes at least as large as the answer it asks for; digest null or { studentVersion >= 1, epochs >= 1 }; localEpochs >= 0.
 * All failures are BAD_MESSAGE. The value is a fresh copy.
 */
export function validateRoundOpen(raw: unknown): Validated<RoundOpen> {
  const what = 'round.open';
  if (!isPlainRecord(raw)) return reject('BAD_MESSAGE', `${what} must be an object, got ${describeValue(raw)}`);
  const unknownFields = unknownFieldsProblem(raw, ROUND_OPEN_FIELDS, what);
  if (unknownFields) return reject('BAD_MESSAGE', unknownFields);
  const bad = (field: string, expected: string, got: unknown) =>
    reject('BAD_MESSAGE', `${what}: ${field} must be ${expected}, got ${describeValue(got)}`);

  const { round, temperature, encoding, classes, deadline, maxPayloadBytes, localEpochs } = raw;
  if (!isRoundNumber(round)) return bad('round', 'a non-negative integer', round);

  const proxy = raw.proxy;
  if (!isPlainRecord(proxy)) return bad('proxy', 'an object', proxy);
  let proxySpec: ProxySpec;
  if (proxy.kind === 'synthetic') {
    const generator = proxy.generator;
    if (generator !== 'strokes' && generator !== 'noise' && generator !== 'learned' && generator !== 'student-guided') {
      return bad('proxy.generator', `'strokes', 'noise', 'learned' or 'student-guided'`, generator);
    }
    const fields = unknownFieldsProblem(proxy, generator === 'learned' ? LEARNED_PROXY_FIELDS : generator === 'student-guided' ? SENT_PROXY_FIELDS : SYNTHETIC_PROXY_FIELDS, `${what}: proxy`);
    if (fields) return reject('BAD_MESSAGE', fields);
    if (!isSafeIntegerAtLeast(proxy.seed, 0)) return bad('proxy.seed', 'a non-negative integer', proxy.seed);
    if (!isSafeIntegerAtLeast(proxy.count, 1) || proxy.count > 100_000) return bad('proxy.count', 'an integer in [1, 100000]', proxy.count);
    const inputsSha256 = proxy.inputsSha256;
    if (typeof inputsSha256 !== 'string' || !SHA256_HEX.test(inputsSha256)) return bad('proxy.inputsSha256', '64 lower-case hex digits', inputsSha256);
    if (generator === 'learned') {
      if (proxy.count % 2 !== 0) return bad('proxy.count', 'even for the learned generator (it makes inputs in pairs)', proxy.count);
      const weights = binaryBytes(proxy.weights);
      if (weights === null) return bad('proxy.weights', 'binary generator weights', proxy.weights);
      if (weights.byteLength > MAX_GENERATOR_WEIGHTS_BYTES) {
        return reject('TOO_LARGE', `${what}: proxy.weights are ${weights.byteLength} bytes, over the limit of ${MAX_GENERATOR_WEIGHTS_BYTES}`);
      }
      proxySpec = { kind: 'synthetic', generator, seed: proxy.seed, count: proxy.count, weights: new Uint8Array(weights), inputsSha256 };
    } else if (generator === 'student-guided') {
      const shape = proxy.inputShape;
      if (!Array.isArray(shape) || shape.length < 1 || shape.length > 3 || !shape.every((d) => isSafeIntegerAtLeast(d, 1) && d <= 4096)) {
        return bad('proxy.inputShape', '1 to 3 integers in [1, 4096]', shape);
      }
      const pixels = binaryBytes(proxy.pixels);
      if (pixels === null) return bad('proxy.pixels', 'binary uint8 pixels', proxy.pixels);
      if (pixels.byteLength > MAX_SENT_PROXY_BYTES) return reject('TOO_LARGE', `${what}: proxy.pixels are ${pixels.byteLength} bytes, over the limit of ${MAX_SENT_PROXY_BYTES}`);
      const expected = proxy.count * (shape as number[]).reduce((a, b) => a * b, 1);
      if (pixels.byteLength !== expected) return bad('proxy.pixels', `${expected} bytes (${proxy.count} inputs of [${shape.join(', ')}])`, `${pixels.byteLength} bytes`);
      proxySpec = { kind: 'synthetic', generator, seed: proxy.seed, count: proxy.count, inputShape: [...(shape as number[])], pixels: new Uint8Array(pixels), inputsSha256 };
    } else {
      proxySpec = { kind: 'synthetic', generator, seed: proxy.seed, count: proxy.count, inputsSha256 };
    }
  } else {
    if (proxy.kind !== 'public') return bad('proxy.kind', `'public' or 'synthetic'`, proxy.kind);
    const proxyFields = unknownFieldsProblem(proxy, PUBLIC_PROXY_FIELDS, `${what}: proxy`);
    if (proxyFields) return reject('BAD_MESSAGE', proxyFields);
    const set = publicSetRef(proxy.set);
    if (typeof set === 'string') return reject('BAD_MESSAGE', `${what}: proxy.set ${set}`);
    const indices = proxy.indices;
    if (!Array.isArray(indices) || indices.length === 0) return bad('proxy.indices', 'a non-empty array', indices);
    const limit = set.source === 'coordinator' ? set.count : Number.MAX_SAFE_INTEGER;
    const badIndex = indices.findIndex((i) => !isSafeIntegerAtLeast(i, 0) || i >= limit);
    if (badIndex >= 0) return bad(`proxy.indices[${badIndex}]`, `an integer in [0, ${limit})`, indices[badIndex]);
    proxySpec = { kind: 'public', set, indices: [...(indices as number[])] };
  }
  const inputs = proxyInputCount(proxySpec);

  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0) {
    return bad('temperature', 'a finite positive number', temperature);
  }
  if (!isPredictionEncoding(encoding)) return bad('encoding', `one of ${PREDICTION_ENCODINGS_DESCRIPTION}`, encoding);
  if (!isSafeIntegerAtLeast(classes, 2)) return bad('classes', 'an integer >= 2', classes);
  const encodingProblem = predictionEncodingProblem(encoding, classes);
  if (encodingProblem) return reject('BAD_MESSAGE', `${what}: encoding ${encodingProblem}`);
  if (!isSafeIntegerAtLeast(deadline, 0)) return bad('deadline', 'an integer (epoch milliseconds)', deadline);
  const needed = predictionPayloadBytes(inputs, classes, encoding);
  if (!isSafeIntegerAtLeast(maxPayloadBytes, needed)) {
    return bad('maxPayloadBytes', `an integer >= ${needed} (${inputs} x ${classes} in ${encoding})`, maxPayloadBytes);
  }

  let digest: RoundOpen['digest'] = null;
  if (raw.digest !== null) {
    if (!isPlainRecord(raw.digest)) return bad('digest', 'null or { studentVersion, epochs }', raw.digest);
    const digestFields = unknownFieldsProblem(raw.digest, DIGEST_FIELDS, `${what}: digest`);
    if (digestFields) return reject('BAD_MESSAGE', digestFields);
    const { studentVersion, epochs } = raw.digest;
    if (!isSafeIntegerAtLeast(studentVersion, 1)) return bad('digest.studentVersion', 'a positive integer', studentVersion);
    if (!isSafeIntegerAtLeast(epochs, 1)) return bad('digest.epochs', 'a positive integer', epochs);
    digest = { studentVersion, epochs };
  }
  if (!isSafeIntegerAtLeast(localEpochs, 0)) return bad('localEpochs', 'a non-negative integer', localEpochs);

  let secureAggregation: RoundOpen['secureAggregation'] = null;
  const sa = raw.secureAggregation;
  if (sa !== null) {
    if (!isPlainRecord(sa)) return bad('secureAggregation', 'null or { threshold, graph, weight }', sa);
    const saFields = unknownFieldsProblem(sa, SECURE_AGGREGATION_FIELDS, `${what}: secureAggregation`);
    if (saFields) return reject('BAD_MESSAGE', saFields);
    if (!isSafeIntegerAtLeast(sa.threshold, 2)) return bad('secureAggregation.threshold', 'an integer >= 2', sa.threshold);
    if (typeof sa.weight !== 'number' || !(sa.weight > 0 && sa.weight <= 1)) return bad('secureAggregation.weight', 'a number in (0, 1]', sa.weight);
    const fp = sa.fixedPoint;
    if (!isPlainRecord(fp) || typeof fp.min !== 'number' || typeof fp.max !== 'number' || !(fp.max > fp.min) || !isSafeIntegerAtLeast(fp.fractionalBits, 1) || fp.fractionalBits > 30) {
      return bad('secureAggregation.fixedPoint', '{ min < max, fractionalBits in 1..30 }', fp);
    }
    if (!isSafeIntegerAtLeast(sa.noiseShares, 1)) return bad('secureAggregation.noiseShares', 'a positive integer', sa.noiseShares);
    if (sa.unsafeThreshold !== undefined && typeof sa.unsafeThreshold !== 'boolean') return bad('secureAggregation.unsafeThreshold', 'a boolean when present', sa.unsafeThreshold);
    const common = {
      threshold: sa.threshold,
      weight: sa.weight,
      fixedPoint: { min: fp.min, max: fp.max, fractionalBits: fp.fractionalBits },
      noiseShares: sa.noiseShares,
      ...(sa.unsafeThreshold === true ? { unsafeThreshold: true } : {}),
    };
    const graph = sa.graph;
    if (isPlainRecord(graph) && graph.kind === 'complete' && Object.keys(graph).length === 1) {
      secureAggregation = { ...common, graph: { kind: 'complete' } };
    } else if (isPlainRecord(graph) && graph.kind === 'k-regular' && isSafeIntegerAtLeast(graph.k, 2) && binaryBytes(graph.seed) !== null) {
      secureAggregation = { ...common, graph: { kind: 'k-regular', k: graph.k, seed: new Uint8Array(binaryBytes(graph.seed)!) } };
    } else {
      return bad('secureAggregation.graph', "{ kind: 'complete' } or { kind: 'k-regular', k, seed }", graph);
    }
  }

  let privacy: RoundOpen['privacy'] = null;
  if (raw.privacy !== null) {
    const checked = privacySpec(raw.privacy);
    if (typeof checked === 'string') return bad('privacy', checked, raw.privacy);
    privacy = checked;
  }

  let selection: RoundOpen['selection'];
  if (raw.selection !== undefined) {
    const sel = raw.selection;
    if (!isPlainRecord(sel) || sel.kind !== 'density-ratio' || Object.keys(sel).some((k) => k !== 'kind' && k !== 'epochs' && k !== 'oddsScale')) {
      return bad('selection', "absent or { kind: 'density-ratio', epochs, oddsScale }", sel);
    }
    if (!isSafeIntegerAtLeast(sel.epochs, 1) || sel.epochs > MAX_SELECTOR_EPOCHS) return bad('selection.epochs', `an integer in [1, ${MAX_SELECTOR_EPOCHS}]`, sel.epochs);
    if (typeof sel.oddsScale !== 'number' || !(sel.oddsScale > 0 && sel.oddsScale <= 1e6)) return bad('selection.oddsScale', 'a number in (0, 1e6]', sel.oddsScale);
    if (privacy) return reject('BAD_MESSAGE', `${what}: selection cannot be asked in a private round (the coverage weights would not be covered by the privacy budget)`);
    selection = { kind: 'density-ratio', epochs: sel.epochs, oddsScale: sel.oddsScale };
  }

  return accept({ round, proxy: proxySpec, temperature, encoding, classes, deadline, maxPayloadBytes, digest, localEpochs, secureAggregation, privacy, ...(selection ? { selection } : {}) });
}

export interface ModelPublishedLimits {
  /** Largest accepted weights blob; default DEFAULT_MAX_MESSAGE_BYTES (8 MiB). */
  maxWeightsBytes?: number;
}

/**
 * The `model.published` event: only known fields; version >= 1; a round number; sha256 as 64
 * lower-case hex digits; metrics { agreement in [0, 1], testAccuracy in [0, 1] if present }; weights binary (BAD_MESSAGE), at
 * most maxWeightsBytes (TOO_LARGE), hashing to the announced sha256 (BAD_MESSAGE). This checks
 * integrity and the signature's shape, not authenticity (verifying it is libs/privacy's) nor the blob's format (the engine's
 * decodeWeights does that). The weights in the value are a private copy.
 */
export function validateModelPublished(raw: unknown, limits: ModelPublishedLimits = {}): Validated<ModelPublished> {
  const what = 'model.published';
  const maxWeightsBytes = limits.maxWeightsBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (!isPlainRecord(raw)) return reject('BAD_MESSAGE', `${what} must be an object, got ${describeValue(raw)}`);
  const unknownFields = unknownFieldsProblem(raw, MODEL_PUBLISHED_FIELDS, what);
  if (unknownFields) return reject('BAD_MESSAGE', unknownFields);
  const bad = (field: string, expected: string, got: unknown) =>
    reject('BAD_MESSAGE', `${what}: ${field} must be ${expected}, got ${describeValue(got)}`);

  const { version, round, sha256, metrics } = raw;
  if (!isSafeIntegerAtLeast(version, 1)) return bad('version', 'a positive integer', version);
  if (!isRoundNumber(round)) return bad('round', 'a non-negative integer', round);
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) return bad('sha256', '64 lower-case hex digits', sha256);
  if (!isPlainRecord(metrics)) return bad('metrics', 'an object { agreement, testAccuracy? }', metrics);
  const metricsFields = unknownFieldsProblem(metrics, METRICS_FIELDS, `${what}: metrics`);
  if (metricsFields) return reject('BAD_MESSAGE', metricsFields);
  const isShare = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v <= 1;
  const { agreement, testAccuracy } = metrics;
  if (!isShare(agreement)) return bad('metrics.agreement', 'a number in [0, 1]', agreement);
  if (testAccuracy !== undefined && !isShare(testAccuracy)) return bad('metrics.testAccuracy', 'a number in [0, 1] when present', testAccuracy);

  const createdAt = raw.createdAt;
  if (!isSafeIntegerAtLeast(createdAt, 0)) return bad('createdAt', 'epoch milliseconds', createdAt);
  const signature = binaryBytes(raw.signature);
  if (signature === null || signature.byteLength !== 64) return bad('signature', '64 bytes (Ed25519)', raw.signature);
  const weights = binaryBytes(raw.weights);
  if (weights === null) return bad('weights', 'binary (Buffer, Uint8Array or ArrayBuffer)', raw.weights);
  if (weights.byteLength > maxWeightsBytes) {
    return reject('TOO_LARGE', `${what}: weights are ${weights.byteLength} bytes, over the limit of ${maxWeightsBytes}`);
  }
  const copy = new Uint8Array(weights);
  const actual = blobSha256(copy);
  if (actual !== sha256) {
    return reject('BAD_MESSAGE', `${what}: weights hash to ${actual}, not the announced sha256 ${sha256}`);
  }
  return accept({ version, round, sha256, metrics: testAccuracy === undefined ? { agreement } : { agreement, testAccuracy }, weights: copy, createdAt, signature: new Uint8Array(signature) });
}

/** Most rows a public set may have, and values per input. */
const MAX_PUBLIC_SET_ROWS = 10_000_000;

/** A public set reference, or what was wrong with it. */
function publicSetRef(raw: unknown): PublicSetRef | string {
  if (!isPlainRecord(raw)) return `must be an object, got ${describeValue(raw)}`;
  if (raw.source === 'embedded') {
    const fields = unknownFieldsProblem(raw, EMBEDDED_SET_FIELDS, 'set');
    if (fields) return fields;
    if (raw.dataset !== 'mnist' && raw.dataset !== 'mnist-full') return `dataset must be 'mnist' or 'mnist-full', got ${describeValue(raw.dataset)}`;
    if (!isSafeIntegerAtLeast(raw.splitSeed, 0)) return `splitSeed must be a non-negative integer, got ${describeValue(raw.splitSeed)}`;
    return { source: 'embedded', dataset: raw.dataset, splitSeed: raw.splitSeed };
  }
  if (raw.source === 'coordinator') {
    const fields = unknownFieldsProblem(raw, COORDINATOR_SET_FIELDS, 'set');
    if (fields) return fields;
    if (typeof raw.sha256 !== 'string' || !SHA256_HEX.test(raw.sha256)) return `sha256 must be 64 lower-case hex digits, got ${describeValue(raw.sha256)}`;
    if (!isSafeIntegerAtLeast(raw.count, 1) || raw.count > MAX_PUBLIC_SET_ROWS) return `count must be an integer in [1, ${MAX_PUBLIC_SET_ROWS}], got ${describeValue(raw.count)}`;
    const shape = raw.inputShape;
    if (!Array.isArray(shape) || (shape.length !== 1 && shape.length !== 3) || !shape.every((d) => isSafeIntegerAtLeast(d, 1) && d <= 1_000_000)) {
      return `inputShape must be [F] or [H, W, C] of positive integers, got ${describeValue(shape)}`;
    }
    return { source: 'coordinator', sha256: raw.sha256, count: raw.count, inputShape: [...(shape as number[])] };
  }
  return `source must be 'embedded' or 'coordinator', got ${describeValue(raw.source)}`;
}

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** A private round's mechanism, or what was expected instead. */
function privacySpec(dp: unknown): NonNullable<RoundOpen['privacy']> | string {
  if (!isPlainRecord(dp) || !(typeof dp.delta === 'number' && dp.delta > 0 && dp.delta < 1)) return 'an object with a delta in (0, 1)';
  const fields = (names: string[]) => Object.keys(dp).length === names.length + 2 && names.every((n) => positive(dp[n]));
  const delta = dp.delta;
  if (dp.mechanism === 'gnmax' && fields(['sigma'])) return { mechanism: 'gnmax', sigma: dp.sigma as number, delta };
  if (dp.mechanism === 'confident-gnmax' && fields(['threshold', 'sigma1', 'sigma2'])) {
    return { mechanism: 'confident-gnmax', threshold: dp.threshold as number, sigma1: dp.sigma1 as number, sigma2: dp.sigma2 as number, delta };
  }
  if (dp.mechanism === 'gaussian' && fields(['clipNorm', 'sigma'])) return { mechanism: 'gaussian', clipNorm: dp.clipNorm as number, sigma: dp.sigma as number, delta };
  return "{ mechanism: 'gnmax', sigma } | { mechanism: 'confident-gnmax', threshold, sigma1, sigma2 } | { mechanism: 'gaussian', clipNorm, sigma }, each with delta, all positive";
}
