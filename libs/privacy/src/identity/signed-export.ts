import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';

import { assertPublicKey, assertSecretKey, SIGNATURE_BYTES } from './ed25519-keys';
import { refuse, succeed, type IdentityResult } from './identity-result';
import { isUint, SigningBytesBuilder } from './signing-bytes';

/**
 * A published student exported as files a consumer can check without fedkd's protocol (the TF.js
 * `model.json` + `weights.bin`, or the `.fkdw` blob): the coordinator signs the SHA-256 of every
 * file together with the version they export,
 *
 *   field("fedkd/export/v1") || field(version: uint) || field(round: uint)
 *   || field(sha256 of the version's weight blob) || for each file in name order:
 *      field(name) || field(sha256 of its bytes, 64 lower-case hex digits)
 *
 * and `signature.json` beside the files carries those digests and the signature (base64).
 */
export const EXPORT_DOMAIN_TAG = 'fedkd/export/v1';
export const SIGNED_EXPORT_FORMAT = 'fedkd-signed-export/v1';
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface SignedExport {
  format: typeof SIGNED_EXPORT_FORMAT;
  version: number;
  round: number;
  /** SHA-256 of the version's weight blob, as published (GET /models, model.published). */
  sha256: string;
  /** File name -> SHA-256 (hex) of its bytes. */
  files: Record<string, string>;
  /** Ed25519 signature (base64) by the coordinator's key. */
  signature: string;
}

export function fileSha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Coordinator side: the signature.json of a version's exported files. */
export function signExport(meta: { version: number; round: number; sha256: string }, files: Record<string, Uint8Array>, coordinatorSecretKey: Uint8Array): SignedExport {
  assertSecretKey(coordinatorSecretKey);
  const digests = Object.fromEntries(Object.keys(files).sort().map((name) => [name, fileSha256(files[name])]));
  const unsigned = { format: SIGNED_EXPORT_FORMAT, version: meta.version, round: meta.round, sha256: meta.sha256, files: digests } as const;
  const signature = nacl.sign.detached(exportSigningBytes(unsigned), coordinatorSecretKey);
  return { ...unsigned, signature: Buffer.from(signature).toString('base64') };
}

export type ExportRefusalCode = 'MALFORMED' | 'BAD_SIGNATURE' | 'FILE_MISMATCH';

/**
 * Consumer side: `signature.json` must be well-formed and signed by the pinned coordinator key,
 * and every file it names must be given and hash to its digest (FILE_MISMATCH naming the file).
 */
export function verifyExport(manifest: unknown, files: Record<string, Uint8Array>, pinnedCoordinatorPublicKey: Uint8Array): IdentityResult<SignedExport, ExportRefusalCode> {
  assertPublicKey(pinnedCoordinatorPublicKey);
  const problem = manifestProblem(manifest);
  if (problem) return refuse('MALFORMED', `signature.json: ${problem}`);
  const m = manifest as SignedExport;
  const signature = Buffer.from(m.signature, 'base64');
  if (signature.length !== SIGNATURE_BYTES || !nacl.sign.detached.verify(exportSigningBytes(m), new Uint8Array(signature), pinnedCoordinatorPublicKey)) {
    return refuse('BAD_SIGNATURE', `the export of model version ${m.version} is not signed by the pinned coordinator key`);
  }
  for (const [name, digest] of Object.entries(m.files)) {
    const bytes = files[name];
    if (!bytes) return refuse('FILE_MISMATCH', `${name} is named in signature.json but was not given`);
    const actual = fileSha256(bytes);
    if (actual !== digest) return refuse('FILE_MISMATCH', `${name} hashes to ${actual}, not the signed ${digest}`);
  }
  return succeed({ ...m, files: { ...m.files } });
}

function exportSigningBytes(m: Omit<SignedExport, 'signature'>): Uint8Array {
  const builder = new SigningBytesBuilder(EXPORT_DOMAIN_TAG).uint(m.version).uint(m.round).text(m.sha256);
  for (const name of Object.keys(m.files).sort()) builder.text(name).text(m.files[name]);
  return builder.build();
}

function manifestProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'must be a JSON object';
  const m = value as Record<string, unknown>;
  if (m.format !== SIGNED_EXPORT_FORMAT) return `format must be ${SIGNED_EXPORT_FORMAT}, got ${JSON.stringify(m.format)}`;
  if (!isUint(m.version) || m.version < 1) return 'version must be a positive integer';
  if (!isUint(m.round)) return 'round must be a non-negative integer';
  if (typeof m.sha256 !== 'string' || !SHA256_HEX.test(m.sha256)) return 'sha256 must be 64 lower-case hex digits';
  if (typeof m.files !== 'object' || m.files === null || Array.isArray(m.files) || Object.keys(m.files).length === 0) return 'files must name at least one file';
  for (const [name, digest] of Object.entries(m.files as Record<string, unknown>)) {
    if (typeof digest !== 'string' || !SHA256_HEX.test(digest)) return `files.${name.slice(0, 60)} must be 64 lower-case hex digits`;
  }
  if (typeof m.signature !== 'string') return 'signature must be base64 text';
  return null;
}
