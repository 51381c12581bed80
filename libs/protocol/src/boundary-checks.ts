/**
 * Field-level checks shared by the message validators. Each describes untrusted values briefly
 * (a type and a size, or a short literal) so that an error message never echoes a large payload.
 */

/** Longest literal quoted back in an error message. */
const MAX_QUOTED_CHARS = 40;

/** A plain object (from JSON or an object literal): not null, an array, a Buffer or a class instance. */
export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function isSafeIntegerAtLeast(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
}

/** A round number: a non-negative safe integer. */
export function isRoundNumber(value: unknown): value is number {
  return isSafeIntegerAtLeast(value, 0);
}

/** A short, safe description of an untrusted value for an error message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    return value.length <= MAX_QUOTED_CHARS ? JSON.stringify(value) : `a string of ${value.length} characters`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return 'a bigint';
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (typeof Buffer !== 'undefined' && Buffer.isBuffer(value)) return `a Buffer of ${value.byteLength} bytes`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor?.name ?? 'typed array'} of ${value.byteLength} bytes`;
  if (value instanceof ArrayBuffer) return `an ArrayBuffer of ${value.byteLength} bytes`;
  if (typeof value === 'object') return isPlainRecord(value) ? 'an object' : 'a non-plain object';
  return `a ${typeof value}`;
}

/** A field name from the wire, quoted and cut short. */
export function quoteKey(key: string): string {
  return key.length <= MAX_QUOTED_CHARS ? `'${key}'` : `'${key.slice(0, MAX_QUOTED_CHARS)}...' (${key.length} characters)`;
}

/**
 * Names the fields of `record` that are not in `known` (at most three), or null if there are none.
 * Messages carry exactly their known fields: a new field is a protocol version bump.
 */
export function unknownFieldsProblem(record: Record<string, unknown>, known: readonly string[], what: string): string | null {
  const unknown = Object.keys(record).filter((key) => !known.includes(key));
  if (unknown.length === 0) return null;
  const named = unknown.slice(0, 3).map(quoteKey).join(', ');
  const more = unknown.length > 3 ? ` and ${unknown.length - 3} more` : '';
  return `${what} has unknown field${unknown.length > 1 ? 's' : ''} ${named}${more} (expected only: ${known.join(', ')})`;
}

/**
 * The bytes of a binary field (Node Buffer, Uint8Array or ArrayBuffer) as a Uint8Array view (not a
 * copy: decoders copy before reading), or null if the value is not binary. JSON number arrays and
 * other typed arrays are not accepted.
 */
export function binaryBytes(value: unknown): Uint8Array | null {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return null;
}
