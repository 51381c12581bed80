import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthDto } from '../api/dto';
import { ApiResult } from '../api/openapi';
import { Public } from '../auth/rest-access.decorators';
import { HealthService, type HealthReport } from './health.service';

@Controller('health')
@ApiTags('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get()
  @Public()
  @ApiOperation({ summary: 'Liveness: the TF.js backend, uptime and socket connections' })
  @ApiResult(200, HealthDto)
  get(): HealthReport {
    return this.health.report();
  }
}
