import { describe, expect, it } from 'vitest';
import { CNN_SPEC, MLP_SPEC } from '@fedkd/engine';
import { PROTOCOL_VERSION } from './messages';
import { validateHandshakeAuth, validateHello, validateProxyFetch, validateRoundDeclined } from './validate-client-messages';

/** Any task digest: the coordinator compares it with its own; the validator checks its form. */
const TASK = 'c'.repeat(64);
import type { Validated } from './validated';

function rejection<T>(result: Validated<T>) {
  if (result.ok) throw new Error('expected a rejection');
  return result;
}

describe('validateHandshakeAuth', () => {
  it('accepts the current protocol version and a well-formed client name', () => {
    expect(validateHandshakeAuth({ protocolVersion: PROTOCOL_VERSION, clientName: 'hospital-a.01_b' })).toEqual({
      ok: true,
      value: { protocolVersion: PROTOCOL_VERSION, clientName: 'hospital-a.01_b' },
    });
  });

  it('rejects another protocol version with PROTOCOL_VERSION, naming both versions', () => {
    const { code, message } = rejection(validateHandshakeAuth({ protocolVersion: PROTOCOL_VERSION + 1, clientName: 'a' }));
    expect(code).toBe('PROTOCOL_VERSION');
    expect(message).toBe(`protocol version ${PROTOCOL_VERSION + 1} is not supported: this coordinator speaks version ${PROTOCOL_VERSION}`);
  });

  it('tells a newer client with fields this version does not know about the version, not the fields', () => {
    expect(rejection(validateHandshakeAuth({ protocolVersion: PROTOCOL_VERSION + 1, clientName: 'a', publicKey: 'k' })).code).toBe('PROTOCOL_VERSION');
  });

  it.each([[undefined], ['2'], [1], [1.5], [null]])('rejects protocolVersion %s with PROTOCOL_VERSION', (protocolVersion) => {
    const { code, message } = rejection(validateHandshakeAuth({ protocolVersion, clientName: 'a' }));
    expect(code).toBe('PROTOCOL_VERSION');
    expect(message).toContain(`this coordinator speaks version ${PROTOCOL_VERSION}`);
  });

  it('rejects an empty auth (a client that sent none) with PROTOCOL_VERSION', () => {
    expect(rejection(validateHandshakeAuth({})).code).toBe('PROTOCOL_VERSION');
  });

  it.each([
    ['empty', ''],
    ['65 characters', 'a'.repeat(65)],
    ['a space', 'hospital a'],
    ['a slash', '../etc'],
    ['a non-ASCII letter', 'klinik-ü'],
    ['a number', 42],
    ['missing', undefined],
  ])('rejects a client name that is %s with BAD_MESSAGE', (_, clientName) => {
    const { code, message } = rejection(validateHandshakeAuth({ protocolVersion: PROTOCOL_VERSION, clientName }));
    expect(code).toBe('BAD_MESSAGE');
    expect(message).toContain('clientName must be 1-64 characters');
  });

  it('accepts a 64-character name', () => {
    expect(validateHandshakeAuth({ protocolVersion: PROTOCOL_VERSION, clientName: 'a'.repeat(64) }).ok).toBe(true);
  });

  it('does not echo a long client name', () => {
    const { message } = rejection(validateHandshakeAuth({ protocolVersion: PROTOCOL_VERSION, clientName: 'x'.repeat(100_000) }));
    expect(message).toContain('a string of 100000 characters');
    expect(message.length).toBeLessThan(200);
  });

  it('rejects an unknown field with BAD_MESSAGE', () => {
    expect(rejection(validateHandshakeAuth({ protocolVersion: PROTOCOL_VERSION, clientName: 'a', token: 't' })).message).toContain(
      `'token'`,
    );
  });

  it.each([[null], ['auth'], [[1]]])('rejects %s with BAD_MESSAGE', (raw) => {
    expect(rejection(validateHandshakeAuth(raw)).code).toBe('BAD_MESSAGE');
  });
});

describe('validateHello', () => {
  it('accepts the MLP and the CNN, with or without a sample count', () => {
    expect(validateHello({ taskSha256: TASK, architecture: MLP_SPEC })).toEqual({ ok: true, value: { taskSha256: TASK, architecture: MLP_SPEC } });
    expect(validateHello({ taskSha256: TASK, architecture: CNN_SPEC, sampleCount: 1200 })).toEqual({
      ok: true,
      value: { taskSha256: TASK, architecture: CNN_SPEC, sampleCount: 1200 },
    });
  });

  it('accepts a user\'s own architecture described by its shapes and size only', () => {
    const architecture = { kind: 'layers', inputShape: [12], classes: 3, parameters: 1_234 };
    expect(validateHello({ taskSha256: TASK, architecture })).toEqual({ ok: true, value: { taskSha256: TASK, architecture } });
  });

  it.each([
    ['its topology', { kind: 'layers', inputShape: [12], classes: 3, parameters: 10, topology: { layers: [] } }, /architecture \(layers\) has unknown field 'topology'/],
    ['no parameter count', { kind: 'layers', inputShape: [12], classes: 3 }, /parameters must be a positive integer/],
    ['an absurd parameter count', { kind: 'layers', inputShape: [12], classes: 3, parameters: 1e12 }, /1000000000000 parameters, at most 1000000000/],
  ])('rejects a user architecture with %s', (_, architecture, reason) => {
    expect(rejection(validateHello({ taskSha256: TASK, architecture })).message).toMatch(reason);
  });

  it.each([[undefined], ['abc'], ['C'.repeat(64)]])('rejects a hello whose taskSha256 is %s', (taskSha256) => {
    expect(rejection(validateHello({ taskSha256, architecture: MLP_SPEC })).message).toMatch(/hello: taskSha256 must be 64 lower-case hex digits/);
  });

  it.each([
    ['100,000 layers of 999,999 units', { ...MLP_SPEC, hidden: Array.from({ length: 100_000 }, () => 999_999) }, /100000 layers, at most 64/],
    ['a layer of 999,999 units', { ...MLP_SPEC, hidden: [999_999] }, /a layer of 999999 units, at most 65536/],
    ['65 layers', { ...MLP_SPEC, hidden: Array.from({ length: 65 }, () => 8) }, /65 layers, at most 64/],
    ['over a billion parameters', { ...MLP_SPEC, hidden: [60_000, 60_000] }, /3\d{9} parameters, at most 1000000000/],
    ['a CNN of too many parameters', { ...CNN_SPEC, inputShape: [512, 512, 3], convFilters: [4096], hidden: [1024] }, /parameters, at most 1000000000/],
    ['a million classes', { ...MLP_SPEC, classes: 1_000_000 }, /1000000 classes, at most 100000/],
    ['a huge input', { ...MLP_SPEC, inputShape: [65_536, 65_536, 1] }, /inputs of 4294967296 values/],
    ['a huge kernel', { ...CNN_SPEC, kernelSize: 101 }, /kernel size 101, at most 31/],
  ])('refuses an architecture of %s with TOO_LARGE, naming the bound', (_, architecture, reason) => {
    const { code, message } = rejection(validateHello({ taskSha256: TASK, architecture }));
    expect(code).toBe('TOO_LARGE');
    expect(message).toMatch(/^hello: architecture exceeds the coordinator's bounds: /);
    expect(message).toMatch(reason);
  });

  it('accepts an architecture at the bounds', () => {
    const architecture = { ...MLP_SPEC, hidden: [...Array.from({ length: 63 }, () => 64), 65_536] };
    expect(validateHello({ taskSha256: TASK, architecture }).ok).toBe(true);
  });

  it('returns a copy of the architecture', () => {
    const architecture = structuredClone(MLP_SPEC);
    const result = validateHello({ taskSha256: TASK, architecture });
    architecture.hidden.push(7);
    expect(result.ok && result.value.architecture).toEqual(MLP_SPEC);
  });

  it.each([
    ['an unknown kind', { ...MLP_SPEC, kind: 'rnn' }, /kind must be 'mlp', 'cnn' or 'layers'/],
    ['one class', { ...MLP_SPEC, classes: 1 }, /classes must be an integer >= 2/],
    ['a 2-d input shape', { ...MLP_SPEC, inputShape: [28, 28] }, /inputShape/],
    ['an even kernel', { ...CNN_SPEC, kernelSize: 4 }, /kernelSize must be an odd positive integer/],
    ['no conv filters', { ...CNN_SPEC, convFilters: [] }, /convFilters/],
  ])('rejects an architecture with %s with BAD_MESSAGE and the engine\'s reason', (_, architecture, reason) => {
    const { code, message } = rejection(validateHello({ taskSha256: TASK, architecture }));
    expect(code).toBe('BAD_MESSAGE');
    expect(message).toMatch(/^hello: architecture rejected: invalid model spec: /);
    expect(message).toMatch(reason);
  });

  it('rejects an architecture with a field of another kind', () => {
    expect(rejection(validateHello({ taskSha256: TASK, architecture: { ...MLP_SPEC, kernelSize: 3 } })).message).toMatch(
      /architecture \(mlp\) has unknown field 'kernelSize'/,
    );
  });

  it('keeps the engine\'s reason short when the spec is huge', () => {
    const architecture = { ...MLP_SPEC, classes: 1, hidden: new Array(100_000).fill(8) };
    expect(rejection(validateHello({ taskSha256: TASK, architecture })).message.length).toBeLessThan(300);
  });

  it.each([[null], ['mlp'], [[MLP_SPEC]], [undefined]])('rejects architecture %s with BAD_MESSAGE', (architecture) => {
    expect(rejection(validateHello({ taskSha256: TASK, architecture })).code).toBe('BAD_MESSAGE');
  });

  it.each([[0], [-5], [2.5], ['100'], [null]])('rejects sampleCount %s with BAD_MESSAGE', (sampleCount) => {
    const { code, message } = rejection(validateHello({ taskSha256: TASK, architecture: MLP_SPEC, sampleCount }));
    expect(code).toBe('BAD_MESSAGE');
    expect(message).toContain('sampleCount must be a positive integer');
  });

  it('rejects an unknown field (a client does not send its data or labels)', () => {
    expect(rejection(validateHello({ taskSha256: TASK, architecture: MLP_SPEC, labelHistogram: [1, 2] })).message).toContain(`'labelHistogram'`);
  });

  it.each([[null], [[]], ['hello']])('rejects %s with BAD_MESSAGE', (raw) => {
    expect(rejection(validateHello(raw)).code).toBe('BAD_MESSAGE');
  });
});

describe('validateProxyFetch', () => {
  it('accepts a digest and a row range', () => {
    expect(validateProxyFetch({ sha256: TASK, start: 0, count: 1000 })).toEqual({ ok: true, value: { sha256: TASK, start: 0, count: 1000 } });
  });

  it.each([
    ['a short digest', { sha256: 'ab', start: 0, count: 1 }, /sha256 must be 64 lower-case hex digits/],
    ['a negative start', { sha256: TASK, start: -1, count: 1 }, /start must be a non-negative integer/],
    ['no rows', { sha256: TASK, start: 0, count: 0 }, /count must be a positive integer/],
    ['an extra field', { sha256: TASK, start: 0, count: 1, labels: true }, /unknown field 'labels'/],
    ['not an object', 'all of it', /proxy.fetch must be an object/],
  ])('rejects %s with BAD_MESSAGE', (_, raw, reason) => {
    const { code, message } = rejection(validateProxyFetch(raw));
    expect(code).toBe('BAD_MESSAGE');
    expect(message).toMatch(reason);
  });
});

describe('validateRoundDeclined', () => {
  it('accepts a round and a reason', () => {
    expect(validateRoundDeclined({ round: 3, reason: 'privacy budget exhausted' })).toEqual({
      ok: true,
      value: { round: 3, reason: 'privacy budget exhausted' },
    });
  });

  it('rejects an empty or over-long reason with BAD_MESSAGE', () => {
    expect(rejection(validateRoundDeclined({ round: 3, reason: '' })).code).toBe('BAD_MESSAGE');
    const { message } = rejection(validateRoundDeclined({ round: 3, reason: 'x'.repeat(501) }));
    expect(message).toBe('round.declined: reason must be a string of 1-500 characters, got a string of 501 characters');
  });

  it('given the collecting round, rejects an earlier one with STALE_ROUND and a later one with UNKNOWN_ROUND', () => {
    expect(validateRoundDeclined({ round: 3, reason: 'r' }, 3).ok).toBe(true);
    expect(rejection(validateRoundDeclined({ round: 2, reason: 'r' }, 3)).code).toBe('STALE_ROUND');
    expect(rejection(validateRoundDeclined({ round: 4, reason: 'r' }, 3)).code).toBe('UNKNOWN_ROUND');
  });

  it.each([
    ['null', null],
    ['a string', 'no'],
    ['a negative round', { round: -1, reason: 'r' }],
    ['an extra field', { round: 1, reason: 'r', epsilon: 8 }],
  ])('rejects %s with BAD_MESSAGE', (_, raw) => {
    expect(rejection(validateRoundDeclined(raw)).code).toBe('BAD_MESSAGE');
  });
});
