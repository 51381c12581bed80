import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anyValue, FUZZ_RUNS, HUGE_WORDS, mutatedBytes, mutatedRecord, outcome, withUint32 } from '../fuzz-inputs.testing';
import type { ModelSpec } from '../models/model-spec';
import { decodeWeights, encodeWeights, packBlob, readWeightHeader } from './codec';
import { WeightBlobError } from './errors';
import { HEADER_LENGTH_OFFSET, HEADER_OFFSET } from './format';
import type { NamedWeights, WeightDtype } from './types';

/**
 * The weight blob decoder under fuzzing: whatever the bytes, decodeWeights and readWeightHeader
 * return or throw WeightBlobError (with its code), never another exception, and a header that
 * declares a huge header, body or tensor is refused before anything of that size is allocated.
 */

const SPEC: ModelSpec = { kind: 'mlp', inputShape: [3], hidden: [4], classes: 2 };
const WEIGHTS: NamedWeights = [
  { name: 'layer2/Dense/kernel', shape: [3, 4], values: Float32Array.from({ length: 12 }, (_, i) => i / 10 - 0.5) },
  { name: 'layer2/Dense/bias', shape: [4], values: new Float32Array(4).fill(0.25) },
  { name: 'layer3/Dense/kernel', shape: [4, 2], values: Float32Array.from({ length: 8 }, (_, i) => 1 - i / 4) },
  { name: 'layer3/Dense/bias', shape: [2], values: new Float32Array(2) },
];
const DTYPES: readonly WeightDtype[] = ['float32', 'float16'];

const isWeightBlobError = (error: unknown) => error instanceof WeightBlobError;

/** A valid blob taken apart: its header as JSON and its body. */
function parts(blob: Uint8Array) {
  const headerLength = new DataView(blob.buffer, blob.byteOffset).getUint32(HEADER_LENGTH_OFFSET, true);
  const headerBytes = blob.subarray(HEADER_OFFSET, HEADER_OFFSET + headerLength);
  return { headerBytes, header: JSON.parse(new TextDecoder().decode(headerBytes)) as unknown, body: blob.subarray(HEADER_OFFSET + headerLength) };
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe.each(DTYPES)('the %s weight blob decoder under fuzzing', (dtype) => {
  const blob = encodeWeights(SPEC, WEIGHTS, { dtype });
  const { header, headerBytes, body } = parts(blob);

  it('decodes the valid blob the mutations start from', () => {
    expect(decodeWeights(blob).weights).toHaveLength(WEIGHTS.length);
  });

  it('decodes mutated blob bytes or throws WeightBlobError', () => {
    fc.assert(
      fc.property(mutatedBytes(blob), (bytes) => {
        outcome(() => decodeWeights(bytes), isWeightBlobError);
        outcome(() => readWeightHeader(bytes), isWeightBlobError);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('refuses headers with fields removed, added or of another type (re-sealed with a correct digest) with WeightBlobError', () => {
    fc.assert(
      fc.property(mutatedRecord(header, fc.jsonValue()), (mutated) => {
        let decoded: ReturnType<typeof decodeWeights> | undefined;
        if (outcome(() => (decoded = decodeWeights(packBlob(json(mutated), body))), isWeightBlobError) === 'ok') {
          // A header the format accepts (e.g. a renamed tensor, an extra field inside the spec: the
          // model's setter checks names and the spec) still describes exactly the body's values.
          const bytesPerValue = dtype === 'float16' ? 2 : 4;
          expect(decoded!.weights.reduce((n, w) => n + w.values.length, 0)).toBe(body.length / bytesPerValue);
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('refuses mutated header text (re-sealed with a correct digest) with WeightBlobError', () => {
    fc.assert(fc.property(mutatedBytes(headerBytes), (text) => void outcome(() => decodeWeights(packBlob(text, body)), isWeightBlobError)), {
      numRuns: FUZZ_RUNS,
    });
  });

  it('refuses headers declaring huge bodies, tensors or offsets without allocating them', () => {
    const h = header as { bodyByteLength: number; tensors: { shape: number[]; offset: number; byteLength: number }[] };
    const huge = [...HUGE_WORDS, 2 ** 31, 2 ** 32, 2 ** 53 - 1];
    const before = process.memoryUsage().arrayBuffers;
    for (const size of huge) {
      const variants = [
        { ...h, bodyByteLength: size },
        { ...h, tensors: [{ ...h.tensors[0], shape: [size, size], byteLength: size }] },
        { ...h, bodyByteLength: size, tensors: [{ ...h.tensors[0], shape: [size], byteLength: size * (dtype === 'float16' ? 2 : 4) }] },
        { ...h, tensors: h.tensors.map((t) => ({ ...t, offset: size })) },
      ];
      for (const variant of variants) {
        expect(outcome(() => decodeWeights(packBlob(json(variant), body)), isWeightBlobError)).toBe('typed');
      }
      expect(outcome(() => decodeWeights(withUint32(blob, HEADER_LENGTH_OFFSET, size >>> 0)), isWeightBlobError)).toBe('typed');
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });
});

describe('weight blob readers given values that are not bytes', () => {
  it('throw WeightBlobError INVALID_INPUT or another WeightBlobError for any value', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        outcome(() => decodeWeights(value as Uint8Array), isWeightBlobError);
        outcome(() => readWeightHeader(value as Uint8Array), isWeightBlobError);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('throw WeightBlobError for arbitrary bytes, including ones that start with the magic', () => {
    const prefix = fc.constantFrom(new Uint8Array(0), new Uint8Array([0x46, 0x4b, 0x44, 0x57, 1, 0]));
    fc.assert(
      fc.property(prefix, fc.uint8Array({ maxLength: 300 }), (head, tail) => {
        const bytes = new Uint8Array(head.length + tail.length);
        bytes.set(head);
        bytes.set(tail, head.length);
        expect(outcome(() => decodeWeights(bytes), isWeightBlobError)).toBe('typed');
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});
