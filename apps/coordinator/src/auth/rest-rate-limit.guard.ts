import { HttpException, HttpStatus, Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';

/**
 * Per-address rate limit of the REST API (@nestjs/throttler, sliding window, keyed by the client
 * address across all routes): over the limit, 429 { code: 'RATE_LIMITED' } with Retry-After in
 * seconds. Socket.io messages have their own per-socket token bucket (transport/token-bucket.ts).
 */
@Injectable()
export class RestRateLimitGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return context.getType() !== 'http';
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    throw new HttpException(
      { code: 'RATE_LIMITED', message: `more than ${detail.limit} requests in ${detail.ttl / 1000} s from this address: retry after ${detail.timeToBlockExpire} s` },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}
