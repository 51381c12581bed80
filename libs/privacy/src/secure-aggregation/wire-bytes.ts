import { SecureAggregationError } from './errors';

/** Longest accepted client id, in UTF-16 code units (ids travel inside every sealed share). */
export const MAX_CLIENT_ID_LENGTH = 256;

/**
 * A private copy of a byte field from a message. Transports hand over Node `Buffer`s that may be
 * views into a shared, reused, unaligned packet buffer; a plain `Uint8Array` copy is safe to keep,
 * and is what `shamir-secret-sharing` requires (it checks `constructor === Uint8Array`, so a Buffer
 * is refused with a TypeError).
 */
export function copyBytes(value: unknown, what: string, expectedLength?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new SecureAggregationError('BAD_MESSAGE', `${what} must be bytes (a Uint8Array)`);
  }
  if (expectedLength !== undefined && value.byteLength !== expectedLength) {
    throw new SecureAggregationError(
      'BAD_MESSAGE',
      `${what} must be ${expectedLength} bytes, got ${value.byteLength}`,
    );
  }
  return new Uint8Array(value);
}

/** A lone (unpaired) UTF-16 surrogate: such a string has no UTF-8 encoding (TextEncoder writes U+FFFD). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A client id: a non-empty, well-formed UTF-16 string of at most MAX_CLIENT_ID_LENGTH code units.
 * Ids are UTF-8 encoded inside sealed shares and signed bytes, and two ids that differ only in
 * lone surrogates encode to the same bytes (each becomes U+FFFD): such an id would break every
 * share to or from it, so it is refused wherever an id enters.
 */
export function assertClientId(value: unknown, what = 'client id'): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CLIENT_ID_LENGTH) {
    throw new SecureAggregationError(
      'BAD_MESSAGE',
      `${what} must be a non-empty string of at most ${MAX_CLIENT_ID_LENGTH} characters`,
    );
  }
  if (LONE_SURROGATE.test(value)) {
    throw new SecureAggregationError(
      'BAD_MESSAGE',
      `${what} ${JSON.stringify(value)} is not well-formed UTF-16 (it holds a lone surrogate, which has no UTF-8 encoding)`,
    );
  }
}

/**
 * An untrusted field in an error message: a string (cut to 64 characters), number, boolean, null
 * or undefined as it is, anything else by its type. Never throws (`String(value)` does for an
 * object like {"toString": 1}, which JSON can carry).
 */
export function describeWireValue(value: unknown): string {
  if (typeof value === 'string') return value.length <= 64 ? value : `${value.slice(0, 64)}...`;
  if (value === null || ['undefined', 'number', 'boolean', 'bigint'].includes(typeof value)) return String(value);
  return Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
}

export function assertRoundId(value: unknown, what = 'round id'): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SecureAggregationError(
      'BAD_MESSAGE',
      `${what} must be a non-negative safe integer, got ${describeWireValue(value)}`,
    );
  }
}

/** Writes a round id (a safe integer) as 8 bytes little-endian into `out` at `offset`. */
export function writeUint64LE(out: Uint8Array, offset: number, value: number): void {
  const low = value % 2 ** 32;
  const high = Math.floor(value / 2 ** 32);
  for (let i = 0; i < 4; i++) {
    out[offset + i] = (low >>> (8 * i)) & 0xff;
    out[offset + 4 + i] = (high >>> (8 * i)) & 0xff;
  }
}

export function readUint64LE(bytes: Uint8Array, offset: number): number {
  let low = 0;
  let high = 0;
  for (let i = 3; i >= 0; i--) {
    low = low * 256 + bytes[offset + i]!;
    high = high * 256 + bytes[offset + 4 + i]!;
  }
  return high * 2 ** 32 + low;
}

/** u32 words from bytes, 4 bytes per word, little-endian on every platform. */
export function uint32FromBytesLE(bytes: Uint8Array): Uint32Array {
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`byte length ${bytes.byteLength} is not a multiple of 4`);
  const words = new Uint32Array(bytes.byteLength / 4);
  for (let i = 0, j = 0; i < words.length; i++, j += 4) {
    words[i] = (bytes[j]! | (bytes[j + 1]! << 8) | (bytes[j + 2]! << 16) | (bytes[j + 3]! << 24)) >>> 0;
  }
  return words;
}

export function bytesFromUint32LE(words: Uint32Array): Uint8Array {
  const bytes = new Uint8Array(words.length * 4);
  for (let i = 0, j = 0; i < words.length; i++, j += 4) {
    const w = words[i]!;
    bytes[j] = w & 0xff;
    bytes[j + 1] = (w >>> 8) & 0xff;
    bytes[j + 2] = (w >>> 16) & 0xff;
    bytes[j + 3] = w >>> 24;
  }
  return bytes;
}

/** Code-unit order of client ids: the order every party uses for graphs and mask signs. */
export function compareClientIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortedClientIds(ids: Iterable<string>): string[] {
  return [...ids].sort(compareClientIds);
}
