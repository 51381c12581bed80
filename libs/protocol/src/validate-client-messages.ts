import { validateSpec, type ArchitectureDescription, type ModelSpec } from '@fedkd/engine';
import {
  describeValue,
  isPlainRecord,
  isRoundNumber,
  isSafeIntegerAtLeast,
  unknownFieldsProblem,
} from './boundary-checks';
import { PROTOCOL_VERSION, type HandshakeAuth, type HelloMessage, type ProxyFetch, type RoundDeclined } from './messages';
import { accept, reject, type Validated } from './validated';

/** Validators for what a client sends the coordinator (besides predictions). None throws. */

export const CLIENT_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const MAX_DECLINE_REASON_CHARS = 500;
/** Longest reason quoted from the engine's spec check (it appends the whole spec). */
const MAX_SPEC_REASON_CHARS = 200;

const HANDSHAKE_FIELDS = ['protocolVersion', 'clientName'] as const;
const HELLO_FIELDS = ['taskSha256', 'architecture', 'sampleCount'] as const;
const PROXY_FETCH_FIELDS = ['sha256', 'start', 'count'] as const;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const DECLINED_FIELDS = ['round', 'reason'] as const;
const SPEC_FIELDS: Record<ArchitectureDescription['kind'], readonly string[]> = {
  mlp: ['kind', 'inputShape', 'hidden', 'classes'],
  cnn: ['kind', 'inputShape', 'convFilters', 'kernelSize', 'hidden', 'classes'],
  layers: ['kind', 'inputShape', 'classes', 'parameters'],
};
/**
 * Bounds of the teacher architecture a hello may describe (the coordinator stores it and serves it
 * from GET /clients): hidden plus convolutional layers, units (or filters) per layer, classes, the
 * input's dimensions and size, kernel size, and parameters (a user's `layers` model declares its
 * count; for `mlp` and `cnn` it is computed, for `cnn` as an upper bound that ignores pooling).
 */
export const HELLO_ARCHITECTURE_BOUNDS = {
  layers: 64,
  unitsPerLayer: 65_536,
  classes: 100_000,
  inputDimension: 65_536,
  inputSize: 16_777_216,
  kernelSize: 31,
  parameters: 1_000_000_000,
} as const;

/**
 * The socket.io handshake's `auth`. The protocol version is checked first (PROTOCOL_VERSION,
 * naming both versions), so that a client of another version learns that rather than tripping
 * over a field it does not know; then only known fields, and a clientName of 1-64 characters
 * from [A-Za-z0-9._-] (BAD_MESSAGE).
 */
export function validateHandshakeAuth(raw: unknown): Validated<HandshakeAuth> {
  const speaks = `this coordinator speaks version ${PROTOCOL_VERSION}`;
  if (!isPlainRecord(raw)) {
    return reject('BAD_MESSAGE', `handshake auth must be an object { protocolVersion, clientName }, got ${describeValue(raw)}`);
  }
  const version = raw.protocolVersion;
  if (typeof version !== 'number' || !Number.isSafeInteger(version)) {
    return reject('PROTOCOL_VERSION', `handshake auth: protocolVersion must be an integer, got ${describeValue(version)}; ${speaks}`);
  }
  if (version !== PROTOCOL_VERSION) {
    return reject('PROTOCOL_VERSION', `protocol version ${version} is not supported: ${speaks}`);
  }
  const unknownFields = unknownFieldsProblem(raw, HANDSHAKE_FIELDS, 'handshake auth');
  if (unknownFields) return reject('BAD_MESSAGE', unknownFields);
  const name = raw.clientName;
  if (typeof name !== 'string' || !CLIENT_NAME_PATTERN.test(name)) {
    return reject(
      'BAD_MESSAGE',
      `handshake auth: clientName must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-', got ${describeValue(name)}`,
    );
  }
  return accept({ protocolVersion: version, clientName: name });
}

/**
 * The `hello` event: only known fields; `architecture` a model spec the engine accepts
 * (`validateSpec`; BAD_MESSAGE with its reason) with only the fields of its kind; `sampleCount`
 * absent or a positive integer. The value is a fresh copy.
 */
export function validateHello(raw: unknown): Validated<HelloMessage> {
  if (!isPlainRecord(raw)) {
    return reject('BAD_MESSAGE', `hello must be an object { taskSha256, architecture, sampleCount? }, got ${describeValue(raw)}`);
  }
  const unknownFields = unknownFieldsProblem(raw, HELLO_FIELDS, 'hello');
  if (unknownFields) return reject('BAD_MESSAGE', unknownFields);
  const taskSha256 = raw.taskSha256;
  if (typeof taskSha256 !== 'string' || !SHA256_HEX.test(taskSha256)) {
    return reject('BAD_MESSAGE', `hello: taskSha256 must be 64 lower-case hex digits, got ${describeValue(taskSha256)}`);
  }

  const spec = raw.architecture;
  if (!isPlainRecord(spec)) {
    return reject('BAD_MESSAGE', `hello: architecture must be a model spec object, got ${describeValue(spec)}`);
  }
  const tooLarge = architectureBoundsProblem(spec);
  if (tooLarge) return reject('TOO_LARGE', `hello: architecture exceeds the coordinator's bounds: ${tooLarge}`);
  try {
    // A user's architecture is described by its shapes and size only (its topology stays with the client).
    validateSpec((spec.kind === 'layers' ? { ...spec, topology: {} } : spec) as unknown as ModelSpec);
    if (spec.kind === 'layers' && !isSafeIntegerAtLeast(spec.parameters, 1)) {
      throw new Error(`parameters must be a positive integer, got ${describeValue(spec.parameters)}`);
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const short = reason.length > MAX_SPEC_REASON_CHARS ? `${reason.slice(0, MAX_SPEC_REASON_CHARS)}...` : reason;
    return reject('BAD_MESSAGE', `hello: architecture rejected: ${short}`);
  }
  const checked = spec as unknown as ArchitectureDescription;
  const specFields = unknownFieldsProblem(spec, SPEC_FIELDS[checked.kind], `hello: architecture (${checked.kind})`);
  if (specFields) return reject('BAD_MESSAGE', specFields);

  const sampleCount = raw.sampleCount;
  if (sampleCount !== undefined && !isSafeIntegerAtLeast(sampleCount, 1)) {
    return reject('BAD_MESSAGE', `hello: sampleCount must be a positive integer when sent, got ${describeValue(sampleCount)}`);
  }
  const architecture = copySpec(checked);
  return accept(sampleCount === undefined ? { taskSha256, architecture } : { taskSha256, architecture, sampleCount });
}

/**
 * The `proxy.fetch` request: only known fields, a sha256 of 64 lower-case hex digits, start >= 0
 * and count >= 1 (BAD_MESSAGE). Whether the set exists and the rows fit is the coordinator's check.
 */
export function validateProxyFetch(raw: unknown): Validated<ProxyFetch> {
  if (!isPlainRecord(raw)) return reject('BAD_MESSAGE', `proxy.fetch must be an object { sha256, start, count }, got ${describeValue(raw)}`);
  const unknownFields = unknownFieldsProblem(raw, PROXY_FETCH_FIELDS, 'proxy.fetch');
  if (unknownFields) return reject('BAD_MESSAGE', unknownFields);
  const { sha256, start, count } = raw;
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) return reject('BAD_MESSAGE', `proxy.fetch: sha256 must be 64 lower-case hex digits, got ${describeValue(sha256)}`);
  if (!isSafeIntegerAtLeast(start, 0)) return reject('BAD_MESSAGE', `proxy.fetch: start must be a non-negative integer, got ${describeValue(start)}`);
  if (!isSafeIntegerAtLeast(count, 1)) return reject('BAD_MESSAGE', `proxy.fetch: count must be a positive integer, got ${describeValue(count)}`);
  return accept({ sha256, start, count });
}

/**
 * The `round.declined` event: only known fields, a round number, and a reason of
 * 1-500 characters (BAD_MESSAGE). With `expectedRound`, a different round gives STALE_ROUND
 * (lower) or UNKNOWN_ROUND (higher).
 */
export function validateRoundDeclined(raw: unknown, expectedRound?: number): Validated<RoundDeclined> {
  if (!isPlainRecord(raw)) {
    return reject('BAD_MESSAGE', `round.declined must be an object { round, reason }, got ${describeValue(raw)}`);
  }
  const unknownFields = unknownFieldsProblem(raw, DECLINED_FIELDS, 'round.declined');
  if (unknownFields) return reject('BAD_MESSAGE', unknownFields);
  const { round, reason } = raw;
  if (!isRoundNumber(round)) {
    return reject('BAD_MESSAGE', `round.declined: round must be a non-negative integer, got ${describeValue(round)}`);
  }
  if (expectedRound !== undefined && round < expectedRound) {
    return reject('STALE_ROUND', `round.declined names round ${round}, which is over: round ${expectedRound} is collecting`);
  }
  if (expectedRound !== undefined && round > expectedRound) {
    return reject('UNKNOWN_ROUND', `round.declined names round ${round}, which has not opened: round ${expectedRound} is collecting`);
  }
  if (typeof reason !== 'string' || reason.length === 0 || reason.length > MAX_DECLINE_REASON_CHARS) {
    return reject(
      'BAD_MESSAGE',
      `round.declined: reason must be a string of 1-${MAX_DECLINE_REASON_CHARS} characters, got ${describeValue(reason)}`,
    );
  }
  return accept({ round, reason });
}

/**
 * Why a described architecture is over HELLO_ARCHITECTURE_BOUNDS, or null. Checked before the
 * engine's own validation (whose message quotes the whole spec); fields of the wrong type are left
 * to that validation.
 */
function architectureBoundsProblem(spec: Record<string, unknown>): string | null {
  const B = HELLO_ARCHITECTURE_BOUNDS;
  const numbers = (v: unknown): number[] | null => (Array.isArray(v) && v.every((x) => typeof x === 'number') ? (v as number[]) : null);
  const hidden = numbers(spec.hidden) ?? [];
  const conv = numbers(spec.convFilters) ?? [];
  const layerCount = (Array.isArray(spec.hidden) ? spec.hidden.length : 0) + (Array.isArray(spec.convFilters) ? spec.convFilters.length : 0);
  if (layerCount > B.layers) return `${layerCount} layers, at most ${B.layers}`;
  const widest = Math.max(0, ...hidden, ...conv);
  if (widest > B.unitsPerLayer) return `a layer of ${widest} units, at most ${B.unitsPerLayer}`;
  if (typeof spec.classes === 'number' && spec.classes > B.classes) return `${spec.classes} classes, at most ${B.classes}`;
  if (typeof spec.kernelSize === 'number' && spec.kernelSize > B.kernelSize) return `kernel size ${spec.kernelSize}, at most ${B.kernelSize}`;
  const input = numbers(spec.inputShape);
  if (Array.isArray(spec.inputShape) && spec.inputShape.length > 3) return `an input of rank ${spec.inputShape.length}, at most 3`;
  if (!input) return null;
  if (Math.max(0, ...input) > B.inputDimension) return `an input dimension of ${Math.max(...input)}, at most ${B.inputDimension}`;
  const inputSize = input.reduce((a, b) => a * b, 1);
  if (inputSize > B.inputSize) return `inputs of ${inputSize} values, at most ${B.inputSize}`;
  const classes = typeof spec.classes === 'number' ? spec.classes : 0;
  let parameters: number;
  if (spec.kind === 'layers') {
    parameters = typeof spec.parameters === 'number' ? spec.parameters : 0;
  } else if (spec.kind === 'cnn') {
    const [h = 1, w = 1, channels = 1] = input;
    const k = typeof spec.kernelSize === 'number' ? spec.kernelSize : 1;
    parameters = 0;
    let inChannels = channels;
    for (const f of conv) {
      parameters += (k * k * inChannels + 1) * f;
      inChannels = f;
    }
    parameters += denseParameters([h * w * inChannels, ...hidden, classes]);
  } else {
    parameters = denseParameters([inputSize, ...hidden, classes]);
  }
  if (parameters > B.parameters) return `${parameters} parameters, at most ${B.parameters}`;
  return null;
}

/** Weights and biases of a stack of dense layers of these widths. */
function denseParameters(widths: readonly number[]): number {
  let total = 0;
  for (let i = 1; i < widths.length; i++) total += (widths[i - 1] + 1) * widths[i];
  return total;
}

function copySpec(spec: ArchitectureDescription): ArchitectureDescription {
  if (spec.kind === 'layers') return { kind: 'layers', inputShape: [...spec.inputShape], classes: spec.classes, parameters: spec.parameters };
  if (spec.kind === 'mlp') return { kind: 'mlp', inputShape: [...spec.inputShape], hidden: [...spec.hidden], classes: spec.classes };
  const [h, w, c] = spec.inputShape;
  return {
    kind: 'cnn',
    inputShape: [h, w, c],
    convFilters: [...spec.convFilters],
    kernelSize: spec.kernelSize,
    hidden: [...spec.hidden],
    classes: spec.classes,
  };
}
