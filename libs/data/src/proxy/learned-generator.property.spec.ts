import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anyValue, FUZZ_RUNS, mutatedBytes, mutatedRecord, outcome } from '../../../engine/src/fuzz-inputs.testing';
import { decodeLearnedGenerator, encodeLearnedGenerator, initialLearnedGenerator } from './learned-generator';

/**
 * The learned generator's weights as a client receives them (round.open's proxy.weights), under
 * fuzzing: decodeLearnedGenerator returns a generator or throws RangeError saying what is wrong.
 */

const isRangeError = (error: unknown) => error instanceof RangeError;
const blob = encodeLearnedGenerator(initialLearnedGenerator(3, { classes: 3, side: 6, resolution: 3 }));

/** A generator blob around any header value, with a correct body digest where the header is an object. */
function withHeader(header: unknown, body: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(header) ?? 'null');
  const out = new Uint8Array(8 + text.length + body.length);
  out.set([0x46, 0x4b, 0x44, 0x47]);
  new DataView(out.buffer).setUint32(4, text.length, true);
  out.set(text, 8);
  out.set(body, 8 + text.length);
  return out;
}

describe('learned generator weights under fuzzing', () => {
  const headerLength = new DataView(blob.buffer).getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(blob.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  const body = blob.subarray(8 + headerLength);

  it('decodes the valid blob the mutations start from', () => {
    expect(decodeLearnedGenerator(blob).classes).toBe(3);
  });

  it('decodes mutated or arbitrary bytes, or throws RangeError', () => {
    fc.assert(fc.property(fc.oneof(mutatedBytes(blob), fc.uint8Array({ maxLength: 200 })), (bytes) => void outcome(() => decodeLearnedGenerator(bytes), isRangeError)), {
      numRuns: FUZZ_RUNS,
    });
  });

  it('refuses headers with fields removed, added or retyped (body digest intact), and headers that are not objects, with RangeError', () => {
    const headers = fc.oneof(mutatedRecord(header, fc.jsonValue()), fc.jsonValue());
    fc.assert(fc.property(headers, (h) => void outcome(() => decodeLearnedGenerator(withHeader(h, body)), isRangeError)), { numRuns: FUZZ_RUNS });
  });

  it.each<[string, unknown]>([['null', null], ['a number', 5], ['a field that cannot be printed', { ...header, classes: JSON.parse('{"toString": 1}') }]])('refuses a header that is %s with RangeError', (_, h) => {
    expect(() => decodeLearnedGenerator(withHeader(h, body))).toThrow(RangeError);
  });

  it('throws RangeError for values that are not bytes', () => {
    fc.assert(fc.property(anyValue, (value) => void outcome(() => decodeLearnedGenerator(value as Uint8Array), isRangeError)), { numRuns: FUZZ_RUNS });
  });
});
