import { Module, type DynamicModule } from '@nestjs/common';
import { HealthController } from './health.controller';
import { CONNECTION_STATUS, HealthService, type ConnectionStatusSource } from './health.service';

@Module({ controllers: [HealthController], providers: [HealthService] })
export class HealthModule {
  /** GET /health with the coordinator's connection counts (open, unauthenticated, refused by reason). */
  static withConnections(connections: ConnectionStatusSource): DynamicModule {
    return { module: HealthModule, providers: [{ provide: CONNECTION_STATUS, useValue: connections }] };
  }
}
