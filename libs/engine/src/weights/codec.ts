import type { ModelSpec } from '../models/model-spec';
import { WeightBlobError } from './errors';
import { float16BitsToFloat32Array, float32ArrayToFloat16Bits } from './float16';
import {
  HEADER_DIGEST_OFFSET,
  HEADER_LENGTH_OFFSET,
  HEADER_OFFSET,
  SUPPORTED_FORMAT_VERSIONS,
  VERSION_OFFSET,
  WEIGHT_BLOB_MAGIC,
  WEIGHT_FORMAT_VERSION,
  elementCount,
  isValidShape,
  validateHeader,
} from './format';
import { sha256Bytes, sha256Hex } from './sha256';
import { canonicalJson, describeSpecProblem } from './spec-check';
import {
  WEIGHT_DTYPES,
  bytesPerElement,
  type DecodedWeights,
  type EncodeWeightsOptions,
  type NamedWeights,
  type WeightHeader,
  type WeightHeaderInfo,
  type WeightTensorEntry,
} from './types';

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Encodes a model's weights (and the spec they belong to) as one self-describing blob.
 * Deterministic: the same spec (whatever its key order), weights and dtype give the same bytes.
 */
export function encodeWeights(spec: ModelSpec, tensors: NamedWeights, opts: EncodeWeightsOptions = {}): Uint8Array {
  const dtype = opts.dtype ?? 'float32';
  if (!WEIGHT_DTYPES.includes(dtype)) throw new WeightBlobError('INVALID_INPUT', `unknown dtype ${JSON.stringify(dtype)}`);
  const specProblem = describeSpecProblem(spec);
  if (specProblem) throw new WeightBlobError('INVALID_INPUT', specProblem);
  if (!Array.isArray(tensors)) throw new WeightBlobError('INVALID_INPUT', 'tensors must be an array');

  const bpe = bytesPerElement(dtype);
  const names = new Set<string>();
  const entries: WeightTensorEntry[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (typeof t?.name !== 'string' || t.name.length === 0) {
      throw new WeightBlobError('INVALID_INPUT', 'every tensor needs a non-empty string name');
    }
    if (names.has(t.name)) throw new WeightBlobError('INVALID_INPUT', `duplicate tensor name '${t.name}'`);
    names.add(t.name);
    if (!isValidShape(t.shape)) {
      throw new WeightBlobError('INVALID_INPUT', `tensor '${t.name}': shape must be an array of non-negative integers`);
    }
    if (!(t.values instanceof Float32Array)) {
      throw new WeightBlobError('INVALID_INPUT', `tensor '${t.name}': values must be a Float32Array`);
    }
    const count = elementCount(t.shape);
    if (count !== t.values.length) {
      throw new WeightBlobError(
        'SHAPE_MISMATCH',
        `tensor '${t.name}': shape [${t.shape.join(', ')}] has ${count ?? 'too many'} elements but ${t.values.length} values were given`,
      );
    }
    entries.push({ name: t.name, shape: [...t.shape], offset, byteLength: count * bpe });
    offset += count * bpe;
  }

  const body = new Uint8Array(offset);
  tensors.forEach((t, i) => writeValues(body, entries[i].offset, t.values, dtype));

  const header: WeightHeader = {
    formatVersion: WEIGHT_FORMAT_VERSION,
    spec: canonicalJson(spec),
    dtype,
    tensors: entries,
    bodyByteLength: body.length,
    bodySha256: sha256Hex(body),
  };
  return packBlob(utf8Encoder.encode(JSON.stringify(header)), body, WEIGHT_FORMAT_VERSION);
}

/**
 * Assembles prefix + header bytes + body (computing the header digest). Exported for tests that
 * need well-formed blobs around hand-made headers; applications use encodeWeights.
 */
export function packBlob(headerBytes: Uint8Array, body: Uint8Array, version = WEIGHT_FORMAT_VERSION): Uint8Array {
  const blob = new Uint8Array(HEADER_OFFSET + headerBytes.length + body.length);
  const view = new DataView(blob.buffer);
  blob.set(WEIGHT_BLOB_MAGIC, 0);
  view.setUint16(VERSION_OFFSET, version, true);
  view.setUint32(HEADER_LENGTH_OFFSET, headerBytes.length, true);
  blob.set(sha256Bytes(headerBytes), HEADER_DIGEST_OFFSET);
  blob.set(headerBytes, HEADER_OFFSET);
  blob.set(body, HEADER_OFFSET + headerBytes.length);
  return blob;
}

/**
 * Reads and validates the prefix and the header only (the header digest included); the body is
 * neither read nor checked, so this also works on a blob's first `bodyOffset` bytes.
 */
export function readWeightHeader(blob: Uint8Array): WeightHeaderInfo {
  if (!(blob instanceof Uint8Array)) throw new WeightBlobError('INVALID_INPUT', 'blob must be a Uint8Array');
  const magicBytes = Math.min(blob.length, WEIGHT_BLOB_MAGIC.length);
  for (let i = 0; i < magicBytes; i++) {
    if (blob[i] !== WEIGHT_BLOB_MAGIC[i]) throw new WeightBlobError('BAD_MAGIC', 'not a weight blob (magic is not "FKDW")');
  }
  if (blob.length < HEADER_OFFSET) {
    if (blob.length >= HEADER_LENGTH_OFFSET) checkVersion(blob);
    throw new WeightBlobError('TRUNCATED', `blob of ${blob.length} bytes ends inside the ${HEADER_OFFSET}-byte prefix`);
  }
  const version = checkVersion(blob);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const headerLength = view.getUint32(HEADER_LENGTH_OFFSET, true);
  const bodyOffset = HEADER_OFFSET + headerLength;
  if (bodyOffset > blob.length) {
    throw new WeightBlobError(
      'TRUNCATED',
      `header of ${headerLength} bytes runs past the end of the ${blob.length}-byte blob`,
    );
  }
  const headerBytes = blob.subarray(HEADER_OFFSET, bodyOffset);
  const digest = blob.subarray(HEADER_DIGEST_OFFSET, HEADER_OFFSET);
  if (!bytesEqual(sha256Bytes(headerBytes), digest)) {
    throw new WeightBlobError('HASH_MISMATCH', 'header SHA-256 does not match: the header was altered or corrupted');
  }
  let text: string;
  let parsed: unknown;
  try {
    text = utf8Decoder.decode(headerBytes);
  } catch {
    throw new WeightBlobError('CORRUPT_HEADER', 'header is not valid UTF-8');
  }
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new WeightBlobError('CORRUPT_HEADER', `header is not valid JSON (${(err as Error).message})`);
  }
  const header = validateHeader(parsed, version);
  return { header, bodyOffset, totalByteLength: bodyOffset + header.bodyByteLength };
}

/** Decodes and fully verifies a weight blob (structure, both digests, shapes). */
export function decodeWeights(blob: Uint8Array): DecodedWeights {
  const { header, bodyOffset, totalByteLength } = readWeightHeader(blob);
  if (blob.length < totalByteLength) {
    throw new WeightBlobError(
      'TRUNCATED',
      `body has ${blob.length - bodyOffset} bytes but the header declares ${header.bodyByteLength}`,
    );
  }
  if (blob.length > totalByteLength) {
    throw new WeightBlobError('TRAILING_BYTES', `${blob.length - totalByteLength} bytes follow the end of the body`);
  }
  const body = blob.subarray(bodyOffset, totalByteLength);
  if (sha256Hex(body) !== header.bodySha256) {
    throw new WeightBlobError('HASH_MISMATCH', 'body SHA-256 does not match the header: the weights were altered or corrupted');
  }
  const weights = header.tensors.map((t) => ({
    name: t.name,
    shape: [...t.shape],
    values: readValues(body, t.offset, t.byteLength, header.dtype),
  }));
  return {
    spec: header.spec,
    weights,
    dtype: header.dtype,
    formatVersion: header.formatVersion,
    sha256: blobSha256(blob),
    bodySha256: header.bodySha256,
  };
}

/** SHA-256 (lower-case hex) of the whole blob: the identity of a model version. */
export function blobSha256(blob: Uint8Array): string {
  return sha256Hex(blob);
}

function checkVersion(blob: Uint8Array): number {
  const version = blob[VERSION_OFFSET] | (blob[VERSION_OFFSET + 1] << 8);
  if (!SUPPORTED_FORMAT_VERSIONS.includes(version)) {
    throw new WeightBlobError(
      'UNSUPPORTED_VERSION',
      `weight blob format version ${version} is not supported (supported: ${SUPPORTED_FORMAT_VERSIONS.join(', ')})`,
    );
  }
  return version;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function writeValues(body: Uint8Array, offset: number, values: Float32Array, dtype: 'float32' | 'float16'): void {
  if (dtype === 'float16') {
    const bits = float32ArrayToFloat16Bits(values);
    if (LITTLE_ENDIAN_HOST) {
      body.set(new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength), offset);
    } else {
      const view = new DataView(body.buffer, body.byteOffset + offset, bits.length * 2);
      for (let i = 0; i < bits.length; i++) view.setUint16(i * 2, bits[i], true);
    }
    return;
  }
  if (LITTLE_ENDIAN_HOST) {
    // Byte copy: exact, NaN payloads included.
    body.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), offset);
  } else {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const view = new DataView(body.buffer, body.byteOffset + offset, values.byteLength);
    for (let i = 0; i < bits.length; i++) view.setUint32(i * 4, bits[i], true);
  }
}

function readValues(body: Uint8Array, offset: number, byteLength: number, dtype: 'float32' | 'float16'): Float32Array {
  // slice() copies into a fresh, aligned buffer that the result owns.
  const bytes = body.slice(offset, offset + byteLength);
  if (dtype === 'float16') {
    let bits: Uint16Array;
    if (LITTLE_ENDIAN_HOST) {
      bits = new Uint16Array(bytes.buffer, 0, byteLength / 2);
    } else {
      const view = new DataView(bytes.buffer);
      bits = new Uint16Array(byteLength / 2);
      for (let i = 0; i < bits.length; i++) bits[i] = view.getUint16(i * 2, true);
    }
    return float16BitsToFloat32Array(bits);
  }
  if (LITTLE_ENDIAN_HOST) return new Float32Array(bytes.buffer, 0, byteLength / 4);
  const view = new DataView(bytes.buffer);
  const bits = new Uint32Array(byteLength / 4);
  for (let i = 0; i < bits.length; i++) bits[i] = view.getUint32(i * 4, true);
  return new Float32Array(bits.buffer);
}
