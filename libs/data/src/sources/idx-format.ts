import { gunzipSync } from 'node:zlib';

/**
 * The IDX byte format (the original MNIST files): a header of big-endian words — the magic number
 * `0x0000TTDD` (TT: the value type, DD: the number of dimensions), then one uint32 per dimension —
 * followed by the values, row-major, big-endian. fedkd reads and writes two value types: uint8
 * (`0x08`, pixels and labels) and float32 (`0x0d`).
 *
 * Magic numbers fedkd uses: images 0x00000803 (uint8, count x rows x cols), 0x00000804
 * (count x H x W x C), 0x00000802 (count x features), and the float32 forms 0x00000d02-04;
 * labels 0x00000801 (uint8, count).
 *
 * Files may be gzip-compressed: `maybeGunzip` recognises gzip by its magic bytes (1f 8b), not by
 * the file's name.
 */
export type IdxType = 'uint8' | 'float32';

const TYPE_CODES: Record<IdxType, number> = { uint8: 0x08, float32: 0x0d };
const ITEM_BYTES: Record<IdxType, number> = { uint8: 1, float32: 4 };

/** What a header says. */
export interface IdxHeader {
  magic: number;
  type: IdxType;
  /** All dimensions, the first being the record count. */
  dims: number[];
  /** 4 + 4 x dims.length. */
  headerBytes: number;
  /** Bytes per value: 1 (uint8) or 4 (float32). */
  itemBytes: number;
}

export type IdxHeaderResult = { ok: true; header: IdxHeader } | { ok: false; reason: string };

/** The magic number of an IDX file of `type` with `dimensions` dimensions. */
export function idxMagic(type: IdxType, dimensions: number): number {
  return (TYPE_CODES[type] << 8) | dimensions;
}

/** `0x00000803`. */
export function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

/** The first big-endian word of `bytes`, or null when there are fewer than 4 bytes. */
export function readIdxMagic(bytes: Uint8Array): number | null {
  if (bytes.length < 4) return null;
  return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
}

/** The value type a magic number declares, or null when it is not one fedkd reads. */
export function idxTypeOf(magic: number): IdxType | null {
  if (magic >>> 16 !== 0) return null;
  const code = (magic >>> 8) & 0xff;
  return (Object.keys(TYPE_CODES) as IdxType[]).find((type) => TYPE_CODES[type] === code) ?? null;
}

/** The header of an IDX file (magic, type, dimensions); the values are not checked here. */
export function parseIdxHeader(bytes: Uint8Array): IdxHeaderResult {
  const magic = readIdxMagic(bytes);
  if (magic === null) return { ok: false, reason: `truncated: expected at least 4 bytes (the magic number), got ${bytes.length}` };
  const type = idxTypeOf(magic);
  if (!type) return { ok: false, reason: `wrong magic number: ${hex32(magic)} is not a uint8 or float32 IDX file` };
  const dimensions = magic & 0xff;
  if (dimensions === 0) return { ok: false, reason: `wrong magic number: ${hex32(magic)} declares 0 dimensions` };
  const headerBytes = 4 + 4 * dimensions;
  if (bytes.length < headerBytes) {
    return { ok: false, reason: `truncated: expected at least ${headerBytes} bytes of header (${dimensions} dimension${dimensions === 1 ? '' : 's'}), got ${bytes.length}` };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerBytes);
  const dims = Array.from({ length: dimensions }, (_, d) => view.getUint32(4 + 4 * d, false));
  return { ok: true, header: { magic, type, dims, headerBytes, itemBytes: ITEM_BYTES[type] } };
}

/** Total bytes a file with this header must hold: header + product(dims) x item size. */
export function idxExpectedBytes(header: IdxHeader): number {
  return header.headerBytes + header.dims.reduce((a, b) => a * b, 1) * header.itemBytes;
}

/** `10 x 28 x 28 + 16-byte header` (uint8) or `10 x 28 x 28 x 4 bytes + 16-byte header` (float32). */
export function describeIdxSize(header: IdxHeader): string {
  const item = header.itemBytes === 1 ? '' : ` x ${header.itemBytes} bytes`;
  return `${header.dims.join(' x ')}${item} + ${header.headerBytes}-byte header`;
}

/** True when `bytes` start with the gzip magic bytes 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** `bytes` decompressed if they are gzip (by their magic bytes), else as they are. */
export function maybeGunzip(bytes: Buffer): { ok: true; bytes: Buffer } | { ok: false; reason: string } {
  if (!isGzip(bytes)) return { ok: true, bytes };
  try {
    return { ok: true, bytes: gunzipSync(bytes) };
  } catch (error) {
    const message = (error as Error).message;
    const truncated = /unexpected end/i.test(message);
    return { ok: false, reason: `${truncated ? 'truncated gzip data' : 'not a readable gzip file'} (${message})` };
  }
}

/**
 * An IDX file of `values` (row-major) with the given dimensions (the first is the record count):
 * uint8 (integers 0..255: pixels, labels) or float32. Throws a RangeError for a value uint8 cannot hold.
 */
export function encodeIdx(values: ArrayLike<number>, dims: readonly number[], type: IdxType = 'uint8'): Buffer {
  if (dims.length < 1 || dims.length > 255) throw new RangeError(`an IDX file has 1 to 255 dimensions, got ${dims.length}`);
  dims.forEach((d, k) => {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new RangeError(`dims[${k}] must be a uint32, got ${d}`);
  });
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) throw new RangeError(`dims ${dims.join(' x ')} need ${count} values, got ${values.length}`);
  const headerBytes = 4 + 4 * dims.length;
  const out = Buffer.alloc(headerBytes + count * ITEM_BYTES[type]);
  out.writeUInt32BE(idxMagic(type, dims.length), 0);
  dims.forEach((d, k) => out.writeUInt32BE(d, 4 + 4 * k));
  if (type === 'uint8') writeUint8Values(values, out, headerBytes);
  else for (let i = 0; i < count; i++) out.writeFloatBE(values[i], headerBytes + 4 * i);
  return out;
}

function writeUint8Values(values: ArrayLike<number>, out: Buffer, offset: number): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(Number.isInteger(v) && v >= 0 && v <= 255)) throw new RangeError(`values[${i}] = ${v} is not a uint8 (an integer 0..255)`);
    out[offset + i] = v;
  }
}

/** A uint8 IDX images file: `count` images of `shape` ([rows, cols] -> 0x00000803, [H, W, C] -> 0x00000804). */
export function encodeIdxImages(pixels: ArrayLike<number>, count: number, shape: readonly number[], type: IdxType = 'uint8'): Buffer {
  return encodeIdx(pixels, [count, ...shape], type);
}

/** A uint8 IDX labels file (0x00000801). */
export function encodeIdxLabels(labels: ArrayLike<number>): Buffer {
  return encodeIdx(labels, [labels.length], 'uint8');
}

/** IDX file names fedkd recognises: `*-ubyte`, `*-ubyte.gz`, `*.idx`, `*.idx.gz` (any case). */
export function isIdxFileName(name: string): boolean {
  return /(-ubyte|\.idx)(\.gz)?$/i.test(name);
}

/** An IDX images file by name: an IDX name containing `images`. */
export function isIdxImagesName(name: string): boolean {
  return isIdxFileName(name) && /images/i.test(name);
}

/** An IDX labels file by name: an IDX name containing `labels`. */
export function isIdxLabelsName(name: string): boolean {
  return isIdxFileName(name) && /labels/i.test(name);
}

/** The labels file name beside an images file: `images` -> `labels`, `idx3`/`idx4` -> `idx1`; null if the name has no `images`. */
export function idxLabelsNameFor(imagesName: string): string | null {
  if (!/images/i.test(imagesName)) return null;
  return imagesName.replace(/images/i, 'labels').replace(/idx[2-4]/i, 'idx1');
}
