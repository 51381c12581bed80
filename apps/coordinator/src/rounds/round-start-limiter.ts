/** A round that cannot start (too few clients connected or invited): nothing was stored. */
export class RoundCannotStartError extends Error {
  readonly code = 'CANNOT_START';
}

/** A start was asked for too soon after failed ones. */
export class RoundStartRateLimitedError extends Error {
  readonly code = 'RATE_LIMITED';
  constructor(
    readonly retryAfterSeconds: number,
    lastRefusal: string,
  ) {
    super(`round starts are refused for ${retryAfterSeconds} s after failed ones (the last: ${lastRefusal})`);
  }
}

/**
 * Rate limit of failed round starts (POST /rounds while too few clients are connected): after a
 * failed start the next is allowed after `initialMs`, doubling with each consecutive failure up
 * to `maxMs`; a start that goes ahead resets it.
 */
export class RoundStartLimiter {
  private failures = 0;
  private blockedUntil = 0;
  private lastRefusal = '';

  constructor(
    private readonly initialMs = 1_000,
    private readonly maxMs = 60_000,
  ) {}

  /** Throws RoundStartRateLimitedError while starts are blocked. */
  check(now = Date.now()): void {
    if (now < this.blockedUntil) throw new RoundStartRateLimitedError(Math.ceil((this.blockedUntil - now) / 1000), this.lastRefusal);
  }

  failed(reason: string, now = Date.now()): void {
    this.lastRefusal = reason;
    this.blockedUntil = now + Math.min(this.maxMs, this.initialMs * 2 ** this.failures);
    this.failures++;
  }

  started(): void {
    this.failures = 0;
    this.blockedUntil = 0;
  }
}
