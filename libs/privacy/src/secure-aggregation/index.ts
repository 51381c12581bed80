export * from './errors';
export * from './fixed-point';
export {
  addMaskInPlace,
  maskStream,
  pairwiseMaskSign,
  streamNonce,
  STREAM_KEY_BYTES,
  STREAM_NONCE_BYTES,
  type StreamDomain,
} from './mask-stream';
export * from './messages';
export * from './neighbour-graph';
export * from './round-parameters';
export {
  ADVERTISEMENT_DOMAIN_TAG,
  advertisementSigningBytes,
  shareCommitment,
  SURVIVOR_VIEW_DOMAIN_TAG,
  survivorViewSigningBytes,
  type SurvivorView,
} from './round-signatures';
export {
  combineShares,
  openSealedShare,
  SECRET_BYTES,
  SHARE_BYTES,
  SHAMIR_MAX_SHARES,
  sealingKey,
  sealShare,
  selfMaskSeedCommitment,
  splitSecret,
  type SealedShare,
  type SharePlaintext,
} from './shares';
export * from './secagg-client';
export * from './secagg-server';
export { compareClientIds, describeWireValue } from './wire-bytes';
