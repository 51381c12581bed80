import { Controller, Get, HttpException, HttpStatus, Inject, Param, ParseIntPipe, Post, Query, Res } from '@nestjs/common';
import { AdminAccess, ReadAccess } from '../auth/rest-access.decorators';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { RoundsService, type RoundSummary } from '../rounds/rounds.service';
import { RoundCannotStartError, RoundStartRateLimitedError } from '../rounds/round-start-limiter';

@Controller('rounds')
@ReadAccess()
export class RoundsController {
  constructor(
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    private readonly rounds: RoundsService,
  ) {}

  @Get()
  list(@Query('limit') limit?: string, @Query('offset') offset?: string) {
    return this.db.rounds.list({ limit: boundedInt(limit, 100, 1000), offset: boundedInt(offset, 0, Number.MAX_SAFE_INTEGER) });
  }

  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number) {
    const round = this.db.rounds.get(id);
    if (!round) throw new HttpException({ code: 'NOT_FOUND', message: `no round ${id}` }, HttpStatus.NOT_FOUND);
    return round;
  }

  /**
   * Runs one round now (or joins the one in progress) and answers with its outcome. A round that
   * cannot start (too few clients) is refused with 409 and not stored; asking again too soon after
   * that gets 429 with Retry-After.
   */
  @Post()
  @AdminAccess()
  run(@Res({ passthrough: true }) response: { setHeader(name: string, value: string): void }): Promise<RoundSummary> {
    try {
      return this.rounds.requestRound();
    } catch (error) {
      if (error instanceof RoundCannotStartError) throw new HttpException({ code: error.code, message: error.message }, HttpStatus.CONFLICT);
      if (error instanceof RoundStartRateLimitedError) {
        response.setHeader('Retry-After', String(error.retryAfterSeconds));
        throw new HttpException({ code: error.code, message: error.message }, HttpStatus.TOO_MANY_REQUESTS);
      }
      throw error;
    }
  }
}

function boundedInt(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new HttpException({ code: 'BAD_QUERY', message: `expected an integer in [0, ${max}], got ${raw}` }, HttpStatus.BAD_REQUEST);
  }
  return n;
}
