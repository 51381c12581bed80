/**
 * Every way a weight blob (or a weight transfer into a model) can be refused.
 *
 * - BAD_MAGIC: the blob does not start with the `FKDW` magic bytes (not a weight blob at all).
 * - UNSUPPORTED_VERSION: a weight blob of a format version this build cannot read.
 * - TRUNCATED: the blob ends before the prefix, the header or the declared body does.
 * - TRAILING_BYTES: bytes after the declared end of the body.
 * - CORRUPT_HEADER: header not UTF-8, not JSON, or not of the expected shape (fields, types,
 *   unique names, offsets inside the body, no overlap or gap).
 * - HASH_MISMATCH: the header's or the body's SHA-256 does not match (tampered or corrupted bytes).
 * - SHAPE_MISMATCH: a tensor whose element count does not match its shape, or weights that do
 *   not fit a model (count or shape).
 * - NAME_MISMATCH: weights whose canonical names do not match the model's layer positions.
 * - INVALID_INPUT: arguments to the encoder that cannot be encoded (bad spec, names, dtype).
 */
export type WeightBlobErrorCode =
  | 'BAD_MAGIC'
  | 'UNSUPPORTED_VERSION'
  | 'TRUNCATED'
  | 'TRAILING_BYTES'
  | 'CORRUPT_HEADER'
  | 'HASH_MISMATCH'
  | 'SHAPE_MISMATCH'
  | 'NAME_MISMATCH'
  | 'INVALID_INPUT';

export class WeightBlobError extends Error {
  override readonly name = 'WeightBlobError';

  constructor(
    readonly code: WeightBlobErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export function isWeightBlobError(err: unknown, code?: WeightBlobErrorCode): err is WeightBlobError {
  return err instanceof WeightBlobError && (code === undefined || err.code === code);
}
