import { createHash } from 'crypto';

/** Lower-case hex SHA-256 of some bytes. */
export function sha256Hex(...parts: Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** Raw 32-byte SHA-256 of some bytes. */
export function sha256Bytes(bytes: Uint8Array): Uint8Array {
  const digest = createHash('sha256').update(bytes).digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}
