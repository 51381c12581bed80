/**
 * Per-socket rate limit: a token bucket of `burst` tokens refilled at `perSecond`. A client that
 * floods the coordinator gets RATE_LIMITED acknowledgements instead of using its event loop.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new RangeError(`rate limit needs perSecond > 0 and burst >= 1, got ${perSecond}, ${burst}`);
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token if there is one. */
  take(now = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
