import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';

/**
 * SHA-512 of some bytes. Node's OpenSSL gives the same digest as tweetnacl's `nacl.hash` about 20x
 * faster (0.5 ms against 10 ms for a 400 KB payload), which matters on the coordinator's event loop.
 */
export function sha512(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha512').update(bytes).digest());
}

export function sha512Hex(bytes: Uint8Array): string {
  return bytesToHex(sha512(bytes));
}

export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Constant-time equality of two byte strings of the same, non-zero length (tweetnacl's
 * `nacl.verify`); different lengths compare unequal at once (lengths are not secret here).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.length > 0 && nacl.verify(a, b);
}
