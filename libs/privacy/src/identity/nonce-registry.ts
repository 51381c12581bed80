import nacl from 'tweetnacl';

import { refuse, succeed, type IdentityResult } from './identity-result';
import { bytesToHex } from './sha512';

export const HANDSHAKE_NONCE_BYTES = 32;

export type NonceRefusalCode = 'NONCE_UNKNOWN' | 'NONCE_EXPIRED' | 'NONCE_REUSED';

export interface NonceRegistryOptions {
  /** How long an issued nonce may be answered; default 60 s. */
  ttlMs?: number;
  /** Most nonces remembered (issued or used, until they expire); default 10,000. */
  capacity?: number;
}

/**
 * The coordinator's record of the handshake nonces it issued, so that each is answered at most
 * once and only within its lifetime. In memory and bounded: expired entries are dropped, and at
 * capacity the oldest entry is forgotten (a forgotten nonce is refused as NONCE_UNKNOWN, so
 * forgetting never lets a nonce be used twice; a flood of connections can only make a slow
 * client reconnect). A used nonce is remembered until it expires, so that its reuse is refused as
 * NONCE_REUSED. State is lost on restart, which is safe: nonces issued before are then unknown.
 */
export class NonceRegistry {
  private readonly ttlMs: number;
  private readonly capacity: number;
  /** In issue order (a Map keeps insertion order), hex nonce -> state. */
  private readonly entries = new Map<string, { expiresAt: number; used: boolean }>();

  constructor(options: NonceRegistryOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.capacity = options.capacity ?? 10_000;
    if (!Number.isSafeInteger(this.ttlMs) || this.ttlMs <= 0) throw new RangeError(`ttlMs must be a positive integer, got ${this.ttlMs}`);
    if (!Number.isSafeInteger(this.capacity) || this.capacity <= 0) throw new RangeError(`capacity must be a positive integer, got ${this.capacity}`);
  }

  /** A fresh 32-byte random nonce, remembered until now + ttlMs. Send it to the connecting client. */
  issue(now: number): Uint8Array {
    this.dropExpired(now);
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    const nonce = nacl.randomBytes(HANDSHAKE_NONCE_BYTES);
    this.entries.set(bytesToHex(nonce), { expiresAt: now + this.ttlMs, used: false });
    return nonce;
  }

  /**
   * Marks an issued nonce used: ok the first time within its lifetime; NONCE_REUSED afterwards,
   * NONCE_EXPIRED after its lifetime, NONCE_UNKNOWN if never issued here (or forgotten).
   */
  consume(nonce: Uint8Array, now: number): IdentityResult<void, NonceRefusalCode> {
    const key = bytesToHex(nonce);
    const entry = this.entries.get(key);
    if (!entry) return refuse('NONCE_UNKNOWN', 'handshake nonce was not issued by this coordinator, or has been forgotten: reconnect for a new one');
    if (entry.used) return refuse('NONCE_REUSED', 'handshake nonce was already used: reconnect for a new one');
    if (now >= entry.expiresAt) {
      this.entries.delete(key);
      return refuse('NONCE_EXPIRED', 'handshake nonce expired before it was answered: reconnect for a new one');
    }
    entry.used = true;
    return succeed(undefined);
  }

  /** Nonces currently remembered (issued or used, not yet dropped). */
  get size(): number {
    return this.entries.size;
  }

  private dropExpired(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now) break; // issue order: later entries expire later (for a monotone clock)
      this.entries.delete(key);
    }
  }
}
