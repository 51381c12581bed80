import { describe, expect, it } from 'vitest';
import { RoundStartLimiter, RoundStartRateLimitedError } from './round-start-limiter';

describe('round start limiter', () => {
  it('blocks starts for 1 s after a failed one, doubling with each consecutive failure up to the maximum', () => {
    const limiter = new RoundStartLimiter(1_000, 4_000);
    limiter.check(0);
    limiter.failed('only 0 of the 2 required clients are connected', 0);
    expect(() => limiter.check(999)).toThrow(RoundStartRateLimitedError);
    limiter.check(1_000);
    limiter.failed('again', 1_000);
    expect(() => limiter.check(2_999)).toThrow(/refused for 1 s after failed ones \(the last: again\)/);
    limiter.failed('again', 3_000);
    limiter.failed('again', 7_000);
    try {
      limiter.check(7_000);
      throw new Error('expected a refusal');
    } catch (error) {
      expect((error as RoundStartRateLimitedError).retryAfterSeconds).toBe(4);
    }
  });

  it('forgets the failures once a round starts', () => {
    const limiter = new RoundStartLimiter(1_000, 60_000);
    for (let t = 0; t < 5; t++) limiter.failed('x', t * 100_000);
    limiter.started();
    limiter.check(400_000);
    limiter.failed('x', 400_000);
    limiter.check(401_000);
  });
});
