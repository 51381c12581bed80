import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Registry } from 'prom-client';
import { ReadAccess } from '../auth/rest-access.decorators';
import { MetricsService } from './metrics.service';

@ApiTags('monitoring')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus's scrape target: read access (a read or admin token, or anyone with --public-read). */
  @Get()
  @ReadAccess()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Prometheus metrics',
    description:
      'The coordinator\'s metrics in the Prometheus text format, every name prefixed fedkd_: rounds by outcome, phase durations, bytes up and down, ' +
      'clients connected, refused and rate-limited messages, refused connections, the latest student\'s accuracy and agreement, each client\'s epsilon, and process metrics. ' +
      'Needs a read or admin token (`fedkd admin token create --name prometheus --scope read`) unless the coordinator runs with --public-read.',
  })
  @ApiOkResponse({ description: 'Prometheus text exposition format 0.0.4.', content: { 'text/plain': { schema: { type: 'string', example: '# HELP fedkd_rounds_total ...\n# TYPE fedkd_rounds_total counter\nfedkd_rounds_total{outcome="published"} 3\n' } } } })
  scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}
