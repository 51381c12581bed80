import type { ModelSpec } from '../models/model-spec';

/** One weight tensor as plain data: row-major float32 values of `shape`. */
export interface NamedWeight {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** The weights of a model, in a fixed order (see model-weights.ts for the order tfjs models use). */
export type NamedWeights = NamedWeight[];

/** How the body stores values. float16 halves the size at ~3 significant digits. */
export type WeightDtype = 'float32' | 'float16';

export const WEIGHT_DTYPES: readonly WeightDtype[] = ['float32', 'float16'];

export function bytesPerElement(dtype: WeightDtype): number {
  return dtype === 'float16' ? 2 : 4;
}

/** Where one tensor's bytes lie in the body (offset from the start of the body). */
export interface WeightTensorEntry {
  name: string;
  shape: number[];
  offset: number;
  byteLength: number;
}

/** The JSON header of a weight blob. */
export interface WeightHeader {
  formatVersion: number;
  spec: ModelSpec;
  dtype: WeightDtype;
  tensors: WeightTensorEntry[];
  bodyByteLength: number;
  /** Lower-case hex SHA-256 of the body bytes. */
  bodySha256: string;
}

export interface EncodeWeightsOptions {
  /** Body element type; default 'float32' (exact). */
  dtype?: WeightDtype;
}

export interface DecodedWeights {
  spec: ModelSpec;
  weights: NamedWeights;
  dtype: WeightDtype;
  formatVersion: number;
  /** SHA-256 (hex) of the whole blob: the same as blobSha256(blob); the model version's hash. */
  sha256: string;
  /** SHA-256 (hex) of the body alone, as stated (and verified) in the header. */
  bodySha256: string;
}

export interface WeightHeaderInfo {
  header: WeightHeader;
  /** Byte offset of the body in the blob. */
  bodyOffset: number;
  /** The blob's full length as the header declares it: bodyOffset + header.bodyByteLength. */
  totalByteLength: number;
}
