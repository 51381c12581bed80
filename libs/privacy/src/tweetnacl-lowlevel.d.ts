/**
 * Types for the part of tweetnacl 1.0.3's `nacl.lowlevel` that fedkd uses: the object exists at run
 * time (nacl-fast.js exports it) but `nacl.d.ts` does not declare it.
 *
 * Why a type and not a property: `nacl.d.ts` ends in `export = nacl`. TypeScript merges an
 * augmentation of such a module into the namespace `nacl` (so `nacl.lowlevel` below is a type),
 * but cannot add values to it (TS2649 "Cannot augment module 'nacl' with value exports") nor
 * members to the interface that types the default export (checked with TypeScript 5.9). So
 * `secure-aggregation/mask-stream.ts` reads `nacl.lowlevel` once, checks at load that
 * `crypto_stream` is a function, and keeps it under this type.
 */
import 'tweetnacl';

declare module 'tweetnacl' {
  /** `nacl.lowlevel` (a subset). */
  interface lowlevel {
    /**
     * The raw XSalsa20 keystream (NaCl's `crypto_stream`, libsodium's `crypto_stream_xsalsa20`):
     * writes `length` keystream bytes into `out` from `outOffset`, for a 24-byte `nonce` and a
     * 32-byte `key`, the block counter starting at 0. Returns 0.
     */
    crypto_stream(out: Uint8Array, outOffset: number, length: number, nonce: Uint8Array, key: Uint8Array): number;
  }
}
