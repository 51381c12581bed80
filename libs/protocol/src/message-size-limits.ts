import type { PredictionEncoding } from './messages';
import { predictionPayloadBytes } from './prediction-codec';

/**
 * Size limits.
 *
 * socket.io closes a connection whose message is larger than the server's `maxHttpBufferSize`
 * (default 1e6 bytes) with a bare "transport close": no ack, no reason. That limit must therefore
 * be at least the largest message either side sends, and the largest is `model.published`,
 * whose weights blob is about 0.94 MB for the 784-256-128-10 MLP in float32 (235,146 parameters)
 * plus its header, already within 6% of socket.io's default, and grows with the student. So the
 * coordinator sets `maxHttpBufferSize` from its config (`maxMessageBytes`, default
 * DEFAULT_MAX_MESSAGE_BYTES = 8 MiB) and validates every payload against tighter, per-message limits:
 * a round's predictions against `maxPayloadBytesFor(n, classes, encoding)` (sent to the clients
 * as `RoundOpen.maxPayloadBytes`), a published model against the same maxMessageBytes on the client.
 *
 * With the default parser each binary attachment travels as its own websocket frame, which the
 * limit bounds separately; over HTTP long-polling it bounds the whole request body.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/**
 * Headroom over the exact binary payload of a predictions message: the JSON part (round, encoding,
 * n, classes, attachment placeholders) and the socket.io/engine.io packet framing are a few
 * hundred bytes.
 */
export const PREDICTIONS_HEADER_SLACK_BYTES = 1024;

/**
 * The `maxPayloadBytes` of a round asking n x classes predictions in this encoding: the exact
 * binary payload (for `top-k:K`, K x 3 bytes per row up to 256 classes) plus the header slack.
 * Throws RangeError for a shape or an encoding that does not fit (e.g. `top-k:10` for 10 classes).
 */
export function maxPayloadBytesFor(n: number, classes: number, encoding: PredictionEncoding): number {
  return predictionPayloadBytes(n, classes, encoding) + PREDICTIONS_HEADER_SLACK_BYTES;
}

/** Total size of the binary values anywhere inside a message: what dominates its size on the wire. */
export function binaryBytesIn(value: unknown, depth = 0): number {
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return value.byteLength;
  if (depth > 8 || typeof value !== 'object' || value === null) return 0;
  return Object.values(value).reduce((sum: number, v) => sum + binaryBytesIn(v, depth + 1), 0);
}
