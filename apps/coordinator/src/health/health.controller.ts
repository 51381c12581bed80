import { Controller, Get } from '@nestjs/common';
import { Public } from '../auth/rest-access.decorators';
import { HealthService, type HealthReport } from './health.service';

@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get()
  @Public()
  get(): HealthReport {
    return this.health.report();
  }
}
