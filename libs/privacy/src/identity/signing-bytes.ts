/**
 * The framing of every signed byte string (handshake, message, model): a sequence of fields,
 * each written as a 4-byte big-endian length followed by that many bytes. The first field is
 * always the domain tag (UTF-8, e.g. `fedkd/handshake/v1`), so a signature made for one purpose
 * never verifies for another, and the tag's version fixes the list of fields that follow.
 * Field kinds:
 *   - text: the UTF-8 bytes of a string;
 *   - uint: a non-negative safe integer as 8 bytes, big-endian (so the field is 00000008 || 8 bytes);
 *   - bytes: raw bytes.
 * Because every field carries its length, no two different field lists give the same bytes.
 */
export class SigningBytesBuilder {
  private readonly parts: Uint8Array[] = [];

  constructor(domainTag: string) {
    this.text(domainTag);
  }

  text(value: string): this {
    if (typeof value !== 'string') throw new TypeError(`expected a string field, got ${typeof value}`);
    return this.bytes(new TextEncoder().encode(value));
  }

  uint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`expected a non-negative safe integer field, got ${String(value)}`);
    }
    const field = new Uint8Array(8);
    new DataView(field.buffer).setBigUint64(0, BigInt(value), false);
    return this.bytes(field);
  }

  bytes(value: Uint8Array): this {
    if (!(value instanceof Uint8Array)) throw new TypeError('expected a byte field (Uint8Array)');
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, value.length, false);
    this.parts.push(length, new Uint8Array(value));
    return this;
  }

  build(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

export function isUint(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
