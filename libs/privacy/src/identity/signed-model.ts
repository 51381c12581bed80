import nacl from 'tweetnacl';

import { encodeCanonicalPayload } from './canonical-payload';
import { assertPublicKey, assertSecretKey, SIGNATURE_BYTES } from './ed25519-keys';
import { refuse, succeed, type IdentityResult } from './identity-result';
import { isUint, SigningBytesBuilder } from './signing-bytes';

/**
 * A published student is signed by the coordinator over its metadata:
 *
 *   field("fedkd/model/v1") || field(version: uint) || field(round: uint)
 *   || field(sha256: 64 lower-case hex digits, UTF-8) || field(canonicalPayloadBytes(metrics))
 *   || field(createdAt: uint, epoch ms)
 *
 * (framing in signing-bytes.ts; metrics encoded as a canonical payload, canonical-payload.ts).
 * The weights are bound through `sha256`: the client must also check that the weights hash to it
 * (the protocol's validateModelPublished does), and load them only if both checks pass; otherwise
 * it keeps its last good model.
 */
export const MODEL_DOMAIN_TAG = 'fedkd/model/v1';
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface ModelMetadata {
  /** Model version, >= 1, increasing. */
  version: number;
  round: number;
  /** SHA-256 (64 lower-case hex digits) of the weights blob. */
  sha256: string;
  /** Evaluation figures, e.g. { testAccuracy: 0.97 }: finite numbers by name. */
  metrics: Readonly<Record<string, number>>;
  /** Epoch milliseconds when the coordinator published it. */
  createdAt: number;
}

export type ModelRefusalCode = 'MALFORMED' | 'UNSIGNED' | 'BAD_SIGNATURE' | 'NOT_NEWER';

/** The signed bytes of model metadata; throws for metadata that is not well-formed (a programmer error here). */
export function modelSigningBytes(meta: ModelMetadata): Uint8Array {
  const problem = modelMetadataProblem(meta);
  if (problem !== null) throw new TypeError(`model metadata: ${problem}`);
  return buildModelBytes(meta);
}

/** Coordinator side: the 64-byte Ed25519 signature of a model's metadata. */
export function signModel(meta: ModelMetadata, coordinatorSecretKey: Uint8Array): Uint8Array {
  assertSecretKey(coordinatorSecretKey);
  return nacl.sign.detached(modelSigningBytes(meta), coordinatorSecretKey);
}

/**
 * Client side, before loading: MALFORMED (metadata not of the shape above), UNSIGNED (no
 * signature), BAD_SIGNATURE (not 64 bytes, or not by the pinned coordinator key), and, when
 * `options.currentVersion` is given, NOT_NEWER for a version at or below it (a validly signed old
 * model replayed to roll the client back). The value is a fresh copy of the signed fields only.
 * Throws only for a pinned key of the wrong length.
 */
export function verifyModel(
  meta: unknown,
  signature: unknown,
  pinnedCoordinatorPublicKey: Uint8Array,
  options: { currentVersion?: number } = {},
): IdentityResult<ModelMetadata, ModelRefusalCode> {
  assertPublicKey(pinnedCoordinatorPublicKey);
  const problem = modelMetadataProblem(meta);
  if (problem !== null) return refuse('MALFORMED', `model metadata: ${problem}`);
  const m = meta as ModelMetadata;
  const copy: ModelMetadata = { version: m.version, round: m.round, sha256: m.sha256, metrics: { ...m.metrics }, createdAt: m.createdAt };
  if (signature === undefined || signature === null) return refuse('UNSIGNED', `model version ${copy.version} carries no signature`);
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) {
    return refuse('BAD_SIGNATURE', `model signature must be ${SIGNATURE_BYTES} bytes`);
  }
  if (!nacl.sign.detached.verify(buildModelBytes(copy), signature, pinnedCoordinatorPublicKey)) {
    return refuse('BAD_SIGNATURE', `model version ${copy.version} is not signed by the pinned coordinator key`);
  }
  if (options.currentVersion !== undefined && copy.version <= options.currentVersion) {
    return refuse('NOT_NEWER', `model version ${copy.version} is not newer than the loaded version ${options.currentVersion}`);
  }
  return succeed(copy);
}

function buildModelBytes(meta: ModelMetadata): Uint8Array {
  const metrics = encodeCanonicalPayload(meta.metrics);
  if (!metrics.ok) throw new TypeError(metrics.message); // excluded by modelMetadataProblem
  return new SigningBytesBuilder(MODEL_DOMAIN_TAG)
    .uint(meta.version)
    .uint(meta.round)
    .text(meta.sha256)
    .bytes(metrics.value)
    .uint(meta.createdAt)
    .build();
}

function modelMetadataProblem(meta: unknown): string | null {
  if (typeof meta !== 'object' || meta === null) return 'must be an object { version, round, sha256, metrics, createdAt }';
  const { version, round, sha256, metrics, createdAt } = meta as Record<string, unknown>;
  if (!isUint(version) || version < 1) return 'version must be a positive integer';
  if (!isUint(round)) return 'round must be a non-negative integer';
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) return 'sha256 must be 64 lower-case hex digits';
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) return 'metrics must be an object of numbers';
  const proto: unknown = Object.getPrototypeOf(metrics);
  if (proto !== Object.prototype && proto !== null) return 'metrics must be a plain object of numbers';
  for (const [name, value] of Object.entries(metrics)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return `metrics.${name.slice(0, 40)} must be a finite number`;
  }
  if (!isUint(createdAt)) return 'createdAt must be epoch milliseconds (a non-negative integer)';
  return null;
}
