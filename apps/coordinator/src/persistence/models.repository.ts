import type { JsonObject } from './json-column';

/** A published student, without its weights. */
export interface ModelVersionInfo {
  /** 1, 2, 3, ...; never reused, never overwritten. */
  version: number;
  /** The round that trained it. */
  round: number;
  /** SHA-256 (lower-case hex) of the whole weight blob: the version's identity. */
  sha256: string;
  byteLength: number;
  /** e.g. { testAccuracy }. */
  metrics: JsonObject;
  /** Epoch milliseconds. */
  createdAt: number;
}

export interface NewModelVersion {
  /** Must not exist yet and must be greater than every stored version. */
  version: number;
  round: number;
  /** The weight blob (libs/engine format); stored byte for byte. */
  blob: Uint8Array;
  /** When given, must equal the blob's SHA-256 (a guard against publishing the wrong bytes). */
  sha256?: string;
  /** Any plain JSON object. */
  metrics: object;
  /** Epoch milliseconds; defaults to the repository's clock. */
  createdAt?: number;
}

/** The Repository seam for model versions (DESIGN.md): immutable once added. */
export interface ModelsRepository {
  /** latest version + 1, or 1 when there is none. */
  nextVersion(): Promise<number>;
  /** Stores a new version; throws ALREADY_EXISTS if the version is taken (versions are immutable). */
  add(model: NewModelVersion): Promise<ModelVersionInfo>;
  latest(): Promise<ModelVersionInfo | null>;
  get(version: number): Promise<ModelVersionInfo | null>;
  /** The stored bytes, checked against the stored SHA-256; null for an unknown version. */
  getBlob(version: number): Promise<Uint8Array | null>;
  /** Newest first, without blobs. */
  list(): Promise<ModelVersionInfo[]>;
}
