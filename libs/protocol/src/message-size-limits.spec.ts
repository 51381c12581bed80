import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { buildModel, encodeWeights, getModelWeights, MLP_SPEC } from '@fedkd/engine';
import { DEFAULT_MAX_MESSAGE_BYTES, maxPayloadBytesFor, PREDICTIONS_HEADER_SLACK_BYTES } from './message-size-limits';
import { predictionPayloadBytes } from './prediction-codec';

/** socket.io's default maxHttpBufferSize. */
const SOCKET_IO_DEFAULT_MAX_HTTP_BUFFER_SIZE = 1e6;

describe('message size limits', () => {
  it('sizes a round\'s predictions limit as the exact payload plus 1 KiB of header slack', () => {
    expect(PREDICTIONS_HEADER_SLACK_BYTES).toBe(1024);
    expect(maxPayloadBytesFor(2000, 10, 'float32')).toBe(80_000 + 1024);
    expect(maxPayloadBytesFor(2000, 10, 'float16')).toBe(40_000 + 1024);
    expect(maxPayloadBytesFor(2000, 10, 'uint8')).toBe(28_000 + 1024);
    expect(maxPayloadBytesFor(2000, 10, 'top-k:1')).toBe(6_000 + 1024);
    expect(maxPayloadBytesFor(2000, 10, 'top-k:2')).toBe(12_000 + 1024);
    expect(maxPayloadBytesFor(2000, 1000, 'top-k:5')).toBe(40_000 + 1024); // uint16 class indices
  });

  it('throws RangeError for a top-k that does not fit the classes', () => {
    expect(() => maxPayloadBytesFor(2000, 10, 'top-k:10')).toThrow(RangeError);
  });

  it('defaults the largest message to 8 MiB', () => {
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBe(8 * 1024 * 1024);
  });

  it('needs more than socket.io\'s default for a published student: the float32 MLP blob alone is over 94% of 1e6 bytes', async () => {
    await tf.setBackend('cpu');
    const model = buildModel(MLP_SPEC, 0);
    const blob = encodeWeights(MLP_SPEC, getModelWeights(model));
    model.dispose();
    expect(blob.byteLength).toBeGreaterThan(0.94 * SOCKET_IO_DEFAULT_MAX_HTTP_BUFFER_SIZE); // 235,146 float32 parameters + header
    expect(blob.byteLength).toBeLessThan(DEFAULT_MAX_MESSAGE_BYTES / 8);
    expect(predictionPayloadBytes(2000, 10, 'float32')).toBeLessThan(blob.byteLength / 10);
  });
});
