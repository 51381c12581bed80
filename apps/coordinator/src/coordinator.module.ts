import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { ClientsController } from './api/clients.controller';
import { ModelsController } from './api/models.controller';
import { RoundsController } from './api/rounds.controller';
import { ClientAuthService } from './auth/client-auth.service';
import { coordinatorKeyProvider } from './auth/coordinator-key.provider';
import { RestAuthGuard } from './auth/rest-auth.guard';
import { RestRateLimitGuard } from './auth/rest-rate-limit.guard';
import { CONFIG } from './config/config.provider';
import { DashboardController } from './dashboard/dashboard.controller';
import { DashboardGateway } from './dashboard/dashboard.gateway';
import { DashboardService } from './dashboard/dashboard.service';
import { RoundSamplesController } from './dashboard/round-samples.controller';
import type { CoordinatorConfig } from './config/coordinator-config';
import { FEDERATION, type FederationSetup } from './federation/federation-setup';
import { FederationEvents } from './events/federation-events';
import { HealthModule } from './health/health.module';
import { MetricsController } from './observability/metrics.controller';
import { MetricsService } from './observability/metrics.service';
import { databaseProvider } from './persistence/database.provider';
import { RoundsService } from './rounds/rounds.service';
import { DatabaseShutdown } from './rounds/database-shutdown';
import { leadershipProvider, REPLICA_ROLE, ReplicaRole } from './scale/leadership';
import { ReplicaCluster } from './scale/replica-cluster';
import { ReplicaRelay } from './scale/replica-relay';
import { StudentTrainerService } from './training/student-trainer.service';
import { FederationGateway } from './transport/federation.gateway';
import { ConnectionGrid } from './transport/connection-grid';
import { FederationEndpoint } from './transport/federation-endpoint';
import { GRID } from './transport/grid';
import { CONNECTION_ADMISSION, ConnectionAdmission } from './transport/connection-admission';

/** Wiring only: the algorithms live in libs/, the round logic in RoundsService and the Strategy. */
@Module({})
export class CoordinatorModule {
  static forRoot(config: CoordinatorConfig, federation: FederationSetup): DynamicModule {
    // One admission per coordinator: the socket.io adapter and gateway fill it, GET /health reports it.
    const admission = new ConnectionAdmission(config);
    const role = new ReplicaRole();
    return {
      module: CoordinatorModule,
      imports: [HealthModule.withConnections(admission, role), ThrottlerModule.forRoot([{ ttl: 60_000, limit: config.restRateLimitPerMinute }])],
      controllers: [RoundsController, ModelsController, ClientsController, MetricsController, DashboardController, RoundSamplesController],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: FEDERATION, useValue: federation },
        { provide: CONNECTION_ADMISSION, useValue: admission },
        databaseProvider,
        { provide: REPLICA_ROLE, useValue: role },
        leadershipProvider,
        ReplicaCluster,
        ReplicaRelay,
        FederationEvents,
        coordinatorKeyProvider,
        ClientAuthService,
        ConnectionGrid,
        { provide: GRID, useExisting: ConnectionGrid },
        FederationEndpoint,
        StudentTrainerService,
        RoundsService,
        DatabaseShutdown,
        FederationGateway,
        MetricsService,
        DashboardService,
        DashboardGateway,
        // In this order: an address over its rate limit is refused before its credentials are checked.
        { provide: APP_GUARD, useClass: RestRateLimitGuard },
        { provide: APP_GUARD, useClass: RestAuthGuard },
      ],
    };
  }
}
