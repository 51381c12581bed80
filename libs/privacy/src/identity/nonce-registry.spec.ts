import { describe, expect, it } from 'vitest';

import { NonceRegistry } from './index';

const NOW = 1_700_000_000_000;

describe('nonce registry', () => {
  it('issues distinct 32-byte nonces', () => {
    const registry = new NonceRegistry();
    const a = registry.issue(NOW);
    const b = registry.issue(NOW);
    expect(a).toHaveLength(32);
    expect(Buffer.from(a).equals(b)).toBe(false);
  });

  it('lets a nonce be consumed once, then refuses it as reused', () => {
    const registry = new NonceRegistry();
    const nonce = registry.issue(NOW);
    expect(registry.consume(nonce, NOW + 1)).toEqual({ ok: true, value: undefined });
    expect(registry.consume(nonce, NOW + 2)).toMatchObject({ ok: false, code: 'NONCE_REUSED' });
  });

  it('refuses a nonce it never issued', () => {
    expect(new NonceRegistry().consume(new Uint8Array(32), NOW)).toMatchObject({ ok: false, code: 'NONCE_UNKNOWN' });
  });

  it('refuses a nonce answered after its lifetime', () => {
    const registry = new NonceRegistry({ ttlMs: 1000 });
    const nonce = registry.issue(NOW);
    expect(registry.consume(nonce, NOW + 1000)).toMatchObject({ ok: false, code: 'NONCE_EXPIRED' });
  });

  it('stays bounded: forgets expired nonces, and the oldest at capacity (which are then refused, never reusable)', () => {
    const registry = new NonceRegistry({ ttlMs: 1000, capacity: 3 });
    const first = registry.issue(NOW);
    registry.issue(NOW);
    registry.issue(NOW);
    const fourth = registry.issue(NOW);
    expect(registry.size).toBe(3);
    expect(registry.consume(first, NOW)).toMatchObject({ ok: false, code: 'NONCE_UNKNOWN' });
    expect(registry.consume(fourth, NOW).ok).toBe(true);
    registry.issue(NOW + 5000);
    expect(registry.size).toBe(1);
    expect(registry.consume(fourth, NOW + 5000).ok).toBe(false);
  });
});
