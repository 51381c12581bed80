import { Controller, Get, HttpException, HttpStatus, Inject, Param, Post, Query, Res, UsePipes } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminAccess, ReadAccess } from '../auth/rest-access.decorators';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { RoundsService, type RoundSummary } from '../rounds/rounds.service';
import { RoundCannotStartError, RoundStartRateLimitedError } from '../rounds/round-start-limiter';
import { RoundDetailDto, RoundDto, RoundParamsDto, RoundsQueryDto, RoundSummaryDto } from './dto';
import { ApiErrors, ApiResult } from './openapi';
import { ApiValidationPipe } from './validation.pipe';

@Controller('rounds')
@ReadAccess()
@ApiTags('rounds')
@UsePipes(ApiValidationPipe)
export class RoundsController {
  constructor(
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    private readonly rounds: RoundsService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Rounds, newest first, without participants and transitions' })
  @ApiResult(200, [RoundDto])
  @ApiErrors('bad-query')
  list(@Query() { limit, offset }: RoundsQueryDto) {
    return this.db.rounds.list({ limit, offset });
  }

  @Get(':id')
  @ApiOperation({ summary: 'One round with its participants and state transitions' })
  @ApiResult(200, RoundDetailDto)
  @ApiErrors('bad-param', 404)
  async get(@Param() { id }: RoundParamsDto) {
    const round = await this.db.rounds.get(id);
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
  @ApiOperation({ summary: 'Run a round now (or join the one in progress) and answer with its outcome' })
  @ApiResult(201, RoundSummaryDto)
  @ApiErrors(409, 429)
  async run(@Res({ passthrough: true }) response: { setHeader(name: string, value: string): void }): Promise<RoundSummary> {
    try {
      return await this.rounds.requestRound();
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
