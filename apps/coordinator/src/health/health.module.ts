import { Module, type DynamicModule } from '@nestjs/common';
import { HealthController } from './health.controller';
import { CONNECTION_STATUS, HealthService, REPLICA_STATUS, type ConnectionStatusSource, type ReplicaStatusSource } from './health.service';

@Module({ controllers: [HealthController], providers: [HealthService] })
export class HealthModule {
  /** GET /health with the coordinator's connection counts (open, unauthenticated, refused by reason) and its replica's role. */
  static withConnections(connections: ConnectionStatusSource, replica: ReplicaStatusSource): DynamicModule {
    return {
      module: HealthModule,
      providers: [
        { provide: CONNECTION_STATUS, useValue: connections },
        { provide: REPLICA_STATUS, useValue: replica },
      ],
    };
  }
}
