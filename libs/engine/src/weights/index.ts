export * from './errors';
export * from './types';
export {
  FLOAT16_MAX,
  FLOAT16_MIN_NORMAL,
  FLOAT16_MIN_SUBNORMAL,
  float16BitsToFloat32,
  float16BitsToFloat32Array,
  float32ArrayToFloat16Bits,
  float32ToFloat16Bits,
  roundToFloat16,
} from './float16';
export { WEIGHT_BLOB_MAGIC, WEIGHT_FORMAT_VERSION, SUPPORTED_FORMAT_VERSIONS } from './format';
export { encodeWeights, decodeWeights, readWeightHeader, blobSha256 } from './codec';
export { getModelWeights, setModelWeights, type SetModelWeightsOptions } from './model-weights';
