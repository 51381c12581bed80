import { WeightBlobError } from './errors';
import { describeSpecProblem, isPlainObject } from './spec-check';
import { WEIGHT_DTYPES, bytesPerElement, type WeightDtype, type WeightHeader, type WeightTensorEntry } from './types';

/**
 * Blob layout (all integers little-endian):
 *
 *   offset  size  field
 *   0       4     magic "FKDW"
 *   4       2     format version (u16) = 1
 *   6       4     header length H in bytes (u32)
 *   10      32    SHA-256 of the header bytes
 *   42      H     header: UTF-8 JSON (WeightHeader)
 *   42+H    B     body: the tensors' values, float32 or float16, B = header.bodyByteLength
 *
 * The header digest makes every header byte tamper-evident (otherwise a flipped bit in a tensor
 * name or in the spec could go unnoticed); the body digest lives inside the header.
 */
export const WEIGHT_BLOB_MAGIC = new Uint8Array([0x46, 0x4b, 0x44, 0x57]); // "FKDW"
export const WEIGHT_FORMAT_VERSION = 1;
export const SUPPORTED_FORMAT_VERSIONS: readonly number[] = [WEIGHT_FORMAT_VERSION];

export const MAGIC_OFFSET = 0;
export const VERSION_OFFSET = 4;
export const HEADER_LENGTH_OFFSET = 6;
export const HEADER_DIGEST_OFFSET = 10;
export const HEADER_OFFSET = 42;
export const PREFIX_BYTE_LENGTH = HEADER_OFFSET;

const HEADER_KEYS = ['formatVersion', 'spec', 'dtype', 'tensors', 'bodyByteLength', 'bodySha256'];
const TENSOR_KEYS = ['name', 'shape', 'offset', 'byteLength'];
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Product of a shape's dimensions (1 for a scalar); null if not a safe integer. */
export function elementCount(shape: readonly number[]): number | null {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return null;
  }
  return n;
}

export function isValidShape(shape: unknown): shape is number[] {
  return Array.isArray(shape) && shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0);
}

function corrupt(message: string): never {
  throw new WeightBlobError('CORRUPT_HEADER', message);
}

function checkKeys(obj: Record<string, unknown>, expected: string[], what: string): void {
  for (const key of expected) if (!(key in obj)) corrupt(`${what} lacks '${key}'`);
  for (const key of Object.keys(obj)) if (!expected.includes(key)) corrupt(`${what} has unknown field '${key}'`);
}

function isNonNegativeSafeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Validates a parsed header: field set and types, the spec's structure, unique non-empty names,
 * shapes of non-negative integers, byte lengths matching shapes (else SHAPE_MISMATCH), and
 * tensors that tile the body exactly (inside it, no overlap, no gap).
 */
export function validateHeader(value: unknown, prefixVersion: number): WeightHeader {
  if (!isPlainObject(value)) corrupt('header is not a JSON object');
  checkKeys(value, HEADER_KEYS, 'header');
  const { formatVersion, spec, dtype, tensors, bodyByteLength, bodySha256 } = value;

  if (formatVersion !== prefixVersion) {
    corrupt(`header formatVersion ${JSON.stringify(formatVersion)} differs from the prefix's ${prefixVersion}`);
  }
  const specProblem = describeSpecProblem(spec);
  if (specProblem) corrupt(specProblem);
  if (typeof dtype !== 'string' || !WEIGHT_DTYPES.includes(dtype as WeightDtype)) {
    corrupt(`dtype must be one of ${WEIGHT_DTYPES.join(', ')} (got ${JSON.stringify(dtype)})`);
  }
  if (!isNonNegativeSafeInt(bodyByteLength)) corrupt('bodyByteLength must be a non-negative integer');
  if (typeof bodySha256 !== 'string' || !SHA256_HEX.test(bodySha256)) {
    corrupt('bodySha256 must be 64 lower-case hex digits');
  }
  if (!Array.isArray(tensors)) corrupt('tensors must be an array');

  const bpe = bytesPerElement(dtype as WeightDtype);
  const names = new Set<string>();
  const entries: WeightTensorEntry[] = tensors.map((t: unknown, i: number) => {
    if (!isPlainObject(t)) corrupt(`tensors[${i}] is not an object`);
    checkKeys(t, TENSOR_KEYS, `tensors[${i}]`);
    const { name, shape, offset, byteLength } = t;
    if (typeof name !== 'string' || name.length === 0) corrupt(`tensors[${i}].name must be a non-empty string`);
    if (names.has(name)) corrupt(`duplicate tensor name '${name}'`);
    names.add(name);
    if (!isValidShape(shape)) corrupt(`tensor '${name}': shape must be an array of non-negative integers`);
    if (!isNonNegativeSafeInt(offset)) corrupt(`tensor '${name}': offset must be a non-negative integer`);
    if (!isNonNegativeSafeInt(byteLength)) corrupt(`tensor '${name}': byteLength must be a non-negative integer`);
    const count = elementCount(shape);
    if (count === null || count * bpe !== byteLength) {
      throw new WeightBlobError(
        'SHAPE_MISMATCH',
        `tensor '${name}': shape [${shape.join(', ')}] needs ${count === null ? 'too many' : count * bpe} bytes ` +
          `of ${dtype} but the header gives ${byteLength}`,
      );
    }
    if (offset + byteLength > bodyByteLength) {
      corrupt(`tensor '${name}': bytes ${offset}..${offset + byteLength} lie outside the ${bodyByteLength}-byte body`);
    }
    return { name, shape: [...shape], offset, byteLength };
  });

  // Tensors must tile the body: sorted by offset, each starts where the previous ended.
  const byOffset = [...entries].sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  let end = 0;
  for (const e of byOffset) {
    if (e.byteLength === 0) {
      if (e.offset > end) corrupt(`empty tensor '${e.name}' at offset ${e.offset} lies beyond the data (${end})`);
      continue;
    }
    if (e.offset < end) corrupt(`tensor '${e.name}' at offset ${e.offset} overlaps the previous tensor (ends at ${end})`);
    if (e.offset > end) corrupt(`gap of ${e.offset - end} bytes before tensor '${e.name}'`);
    end = e.offset + e.byteLength;
  }
  if (end !== bodyByteLength) corrupt(`tensors cover ${end} bytes but bodyByteLength is ${bodyByteLength}`);

  return {
    formatVersion,
    spec: spec as WeightHeader['spec'],
    dtype: dtype as WeightDtype,
    tensors: entries,
    bodyByteLength,
    bodySha256,
  };
}
