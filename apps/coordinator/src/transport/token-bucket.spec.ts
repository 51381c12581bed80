import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket';

describe('token bucket', () => {
  it('allows a burst, then refills at its rate', () => {
    const bucket = new TokenBucket(2, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
    expect(bucket.take(400)).toBe(false); // 0.8 token
    expect(bucket.take(500)).toBe(true); // 1 token after 500 ms at 2/s
    expect(bucket.take(10_000)).toBe(true);
  });

  it('never holds more than its burst', () => {
    const bucket = new TokenBucket(100, 2, 0);
    expect([bucket.take(60_000), bucket.take(60_000), bucket.take(60_000)]).toEqual([true, true, false]);
  });

  it('rejects a nonsensical configuration', () => {
    expect(() => new TokenBucket(0, 5)).toThrow(/perSecond/);
  });
});
