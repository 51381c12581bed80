import fc from 'fast-check';
import { Encoder } from 'socket.io-parser';
import { describe, expect, it } from 'vitest';
import { anyValue, FUZZ_RUNS, mutatedBytes, outcome } from '../../engine/src/fuzz-inputs.testing';
import type { PredictionEncoding } from './messages';
import { decodePredictions, encodePredictions, parsePredictionEncoding } from './prediction-codec';
import { federationParser, MAX_MESSAGE_ATTACHMENTS } from './socket-parser';
import { binaryBytesIn, maxPayloadBytesFor } from './message-size-limits';
import { softPredictions } from './soft-predictions.testing';

/**
 * The binary codecs under fuzzing. decodePredictions documents RangeError as its only failure
 * (wrong byte lengths, unknown encodings, bad top-k indices); the socket.io decoder both sides use
 * fails with a plain Error, which socket.io turns into closing that one connection.
 */

const ENCODINGS: readonly PredictionEncoding[] = ['float32', 'float16', 'uint8', 'top-k:1', 'top-k:3', 'top-k:9'];
const isRangeError = (error: unknown) => error instanceof RangeError;

describe('decodePredictions under fuzzing', () => {
  it('decodes arbitrary bytes of any declared shape to n x classes values, or throws RangeError', () => {
    const payload = fc.record({
      encoding: fc.oneof(fc.constantFrom(...ENCODINGS), fc.string({ maxLength: 12 }) as fc.Arbitrary<PredictionEncoding>),
      n: fc.oneof(fc.integer({ min: -2, max: 40 }), fc.constantFrom(2 ** 31, 2 ** 53 - 1, NaN, 0.5)),
      classes: fc.oneof(fc.integer({ min: -2, max: 300 }), fc.constantFrom(65_536, 65_537, 2 ** 32)),
      data: fc.uint8Array({ maxLength: 2048 }),
      scales: fc.option(fc.uint8Array({ maxLength: 256 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(payload, (p) => {
        let decoded: Float32Array | undefined;
        const result = outcome(() => (decoded = decodePredictions(p)), isRangeError);
        if (result === 'ok') expect(decoded!.length).toBe(p.n * p.classes);
      }),
      { numRuns: FUZZ_RUNS * 3 },
    );
  });

  it.each(ENCODINGS)('decodes mutated %s payloads of a valid message or throws RangeError', (encoding) => {
    const n = 16;
    const classes = 10;
    const encoded = encodePredictions(softPredictions(n, classes, 5), n, classes, encoding);
    fc.assert(
      fc.property(mutatedBytes(encoded.data), fc.option(mutatedBytes(encoded.scales ?? new Uint8Array(4 * n))), (data, scales) => {
        const result = outcome(() => decodePredictions({ encoding, n, classes, data, scales: encoded.scales ? (scales ?? encoded.scales) : undefined }), isRangeError);
        const sameLength = data.byteLength === encoded.data.byteLength;
        const scalesLength = encoded.scales ? (scales ?? encoded.scales).byteLength === encoded.scales.byteLength : true;
        // A payload of the right lengths and a fixed encoding always decodes (values are the validator's business).
        if (sameLength && scalesLength && parsePredictionEncoding(encoding)?.kind !== 'top-k') expect(result).toBe('ok');
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('throws RangeError for shapes declaring 2^31 rows and more before allocating anything near their size', () => {
    const before = process.memoryUsage().arrayBuffers;
    for (const encoding of ENCODINGS) {
      for (const n of [2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
        expect(outcome(() => decodePredictions({ encoding, n, classes: 10, data: new Uint8Array(64), scales: new Uint8Array(64) }), isRangeError)).toBe('typed');
      }
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });
});

describe('message size helpers under fuzzing', () => {
  it('binaryBytesIn counts the binary bytes of any value and never throws', () => {
    fc.assert(fc.property(anyValue, (value) => {
      expect(binaryBytesIn(value)).toBeGreaterThanOrEqual(0);
    }), { numRuns: FUZZ_RUNS });
  });

  it('maxPayloadBytesFor gives a size or throws RangeError for any shape and encoding', () => {
    const shape = fc.oneof(fc.integer({ min: -2, max: 100_000 }), fc.constantFrom(NaN, 0.5, 2 ** 53));
    fc.assert(
      fc.property(shape, shape, fc.oneof(fc.constantFrom(...ENCODINGS), fc.string({ maxLength: 12 })), (n, classes, encoding) => {
        if (outcome(() => maxPayloadBytesFor(n, classes, encoding as PredictionEncoding), isRangeError) === 'ok') expect(maxPayloadBytesFor(n, classes, encoding as PredictionEncoding)).toBeGreaterThan(0);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});

/** Feeds wire frames to a fresh federation decoder; returns the packets it decoded. */
function decodeFrames(frames: (string | Uint8Array)[]): unknown[] {
  const decoder = new federationParser.Decoder();
  const packets: unknown[] = [];
  decoder.on('decoded', (packet: unknown) => packets.push(packet));
  for (const frame of frames) decoder.add(typeof frame === 'string' ? frame : Buffer.from(frame));
  decoder.destroy();
  return packets;
}

/** socket.io's decoder reports malformed frames with a plain Error (the server closes that connection). */
const isParserError = (error: unknown) => error instanceof Error && error.constructor === Error;

describe('the socket.io message decoder under fuzzing', () => {
  const encoder = new Encoder();
  const binaryEvent = encoder.encode({
    type: 2,
    nsp: '/federation',
    id: 12,
    data: ['round.predictions', { round: 3, encoding: 'float16', n: 2, classes: 2, data: Buffer.from([0, 56, 0, 56, 0, 60, 0, 0]), seq: 1, signature: Buffer.alloc(64) }],
  }) as (string | Buffer)[];

  it('decodes the valid binary event it starts from', () => {
    expect(decodeFrames(binaryEvent)).toHaveLength(1);
  });

  it('decodes arbitrary text frames or refuses them with a plain Error', () => {
    const frame = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.jsonValue().map((v) => `2${JSON.stringify(v)}`));
    fc.assert(fc.property(fc.array(frame, { minLength: 1, maxLength: 4 }), (frames) => void outcome(() => decodeFrames(frames), isParserError)), {
      numRuns: FUZZ_RUNS,
    });
  });

  it('decodes mutated binary events (header text and attachments) or refuses them with a plain Error', () => {
    const header = binaryEvent[0] as string;
    const mutatedHeader = mutatedBytes(new TextEncoder().encode(header)).map((b) => new TextDecoder().decode(b));
    const frames = fc.tuple(
      fc.oneof(mutatedHeader, fc.constant(header)),
      fc.array(fc.oneof(mutatedBytes(binaryEvent[1] as Buffer), fc.uint8Array({ maxLength: 80 })), { maxLength: 4 }),
    );
    fc.assert(fc.property(frames, ([text, binaries]) => void outcome(() => decodeFrames([text, ...binaries]), isParserError)), { numRuns: FUZZ_RUNS });
  });

  it('refuses an event declaring more attachments than MAX_MESSAGE_ATTACHMENTS, or 2^31 of them, before reading any', () => {
    for (const count of [MAX_MESSAGE_ATTACHMENTS + 1, 2 ** 31, 2 ** 53]) {
      expect(() => decodeFrames([`5${count}-/federation,["round.predictions",{"data":{"_placeholder":true,"num":0}}]`])).toThrow(/too many attachments/);
    }
  });

});
