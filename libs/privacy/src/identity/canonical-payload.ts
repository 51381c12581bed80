import { refuse, succeed, type IdentityResult } from './identity-result';
import { sha512Hex } from './sha512';

/**
 * The canonical bytes of a message payload: the UTF-8 of a JSON text built deterministically
 * from the value, so that equal payloads give equal bytes on both ends of the wire and any change
 * changes them. The JSON is built as follows (a fixed version: changing it is a new message
 * domain tag, `fedkd/message/v3`):
 *
 *   - object (plain: prototype Object.prototype or null): `{` keys sorted by UTF-16 code units
 *     (Array.prototype.sort's order), each `"key":value`, joined by `,` `}`; keys whose value is
 *     `undefined` are left out (as JSON and socket.io leave them out on the wire);
 *   - array: `[` items joined by `,` `]`; `undefined` items and holes are `null` (as on the wire);
 *   - string: the JSON string of `"s:" + value` (every string is tagged, so no string can pass
 *     for bytes or a special number);
 *   - binary (Uint8Array/Buffer, any other ArrayBufferView as its bytes, ArrayBuffer): the JSON
 *     string `"b:<byteLength>:<SHA-512 hex of the bytes>"` (socket.io delivers every typed array
 *     as a Buffer of the same bytes, so what was signed as a Float32Array verifies as a Buffer);
 *   - finite number other than -0: JavaScript's shortest round-trip form (JSON.stringify), e.g. `1`,
 *     `0.1`, `1e+21`; -0, NaN, Infinity and -Infinity: the strings `"n:-0"`, `"n:NaN"`,
 *     `"n:Infinity"`, `"n:-Infinity"`;
 *   - true, false, null: themselves.
 * Anything else (undefined at the top, bigint, symbol, function, Date, Map, class instances,
 * cycles, nesting deeper than MAX_PAYLOAD_DEPTH) cannot be encoded.
 *
 * Example: { b: Uint8Array[1, 2], a: 'x', n: [1, -0] } ->
 *   {"a":"s:x","b":"b:2:<128 hex digits>","n":[1,"n:-0"]}
 */
export const MAX_PAYLOAD_DEPTH = 64;

export function encodeCanonicalPayload(payload: unknown): IdentityResult<Uint8Array, 'UNENCODABLE'> {
  const parts: string[] = [];
  const problem = appendValue(payload, parts, [], '$');
  if (problem !== null) return refuse('UNENCODABLE', `payload cannot be canonically encoded: ${problem}`);
  return succeed(new TextEncoder().encode(parts.join('')));
}

/** `encodeCanonicalPayload` for the signing side, where an unencodable payload is a programmer error. */
export function canonicalPayloadBytes(payload: unknown): Uint8Array {
  const encoded = encodeCanonicalPayload(payload);
  if (!encoded.ok) throw new TypeError(encoded.message);
  return encoded.value;
}

/** Returns a problem (naming the path, e.g. `$.data[3]`), or null when the value was appended. */
function appendValue(value: unknown, out: string[], ancestors: object[], at: string): string | null {
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(`s:${value}`));
      return null;
    case 'number':
      out.push(Number.isFinite(value) && !Object.is(value, -0) ? JSON.stringify(value) : JSON.stringify(`n:${Object.is(value, -0) ? '-0' : String(value)}`));
      return null;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return null;
    case 'object':
      break;
    default:
      return `${at} is ${value === undefined ? 'undefined' : `a ${typeof value}`}`;
  }
  if (value === null) {
    out.push('null');
    return null;
  }
  const binary = binaryView(value);
  if (binary) {
    out.push(JSON.stringify(`b:${binary.byteLength}:${sha512Hex(binary)}`));
    return null;
  }
  if (ancestors.includes(value)) return `${at} is a cycle`;
  if (ancestors.length >= MAX_PAYLOAD_DEPTH) return `${at} is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`;
  ancestors.push(value);
  try {
    if (Array.isArray(value)) {
      out.push('[');
      for (let i = 0; i < value.length; i += 1) {
        if (i > 0) out.push(',');
        const item: unknown = value[i];
        if (item === undefined) out.push('null');
        else {
          const problem = appendValue(item, out, ancestors, `${at}[${i}]`);
          if (problem !== null) return problem;
        }
      }
      out.push(']');
      return null;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      return `${at} is a ${(value as object).constructor?.name ?? 'non-plain object'}, not a plain object, array or binary`;
    }
    const record = value as Record<string, unknown>;
    out.push('{');
    let first = true;
    for (const key of Object.keys(record).sort()) {
      const item = record[key];
      if (item === undefined) continue;
      if (!first) out.push(',');
      first = false;
      out.push(JSON.stringify(key), ':');
      const problem = appendValue(item, out, ancestors, `${at}.${key.length <= 40 ? key : `${key.slice(0, 40)}...`}`);
      if (problem !== null) return problem;
    }
    out.push('}');
    return null;
  } finally {
    ancestors.pop();
  }
}

function binaryView(value: object): Uint8Array | null {
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return null;
}
