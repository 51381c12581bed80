import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { initBackend } from '@fedkd/engine';
import { validateCoordinatorConfig, type CoordinatorConfig } from './config/coordinator-config';
import { serveOpenApi } from './api/openapi';
import { CoordinatorModule } from './coordinator.module';
import { prepareFederation, type FederationSetup } from './federation/federation-setup';
import { RoundsService } from './rounds/rounds.service';
import { ConfiguredIoAdapter } from './transport/configured-io.adapter';
import { CONNECTION_ADMISSION, type ConnectionAdmission } from './transport/connection-admission';

export interface RunningCoordinator {
  app: INestApplication;
  url: string;
  port: number;
  rounds: RoundsService;
  federation: FederationSetup;
}

/** Starts the coordinator: HTTP API and the clients' socket.io endpoint on one port. */
export async function startCoordinator(config: CoordinatorConfig, options: { logger?: false | LoggerService } = {}): Promise<RunningCoordinator> {
  validateCoordinatorConfig(config);
  await initBackend();
  // Task, data and student first: a bad file stops the coordinator before it listens.
  const federation = await prepareFederation(config, options.logger === false ? undefined : (line) => process.stderr.write(`fedkd coordinator: ${line}\n`));
  const httpsOptions = config.tlsKeyPath && config.tlsCertPath ? { key: readFileSync(config.tlsKeyPath), cert: readFileSync(config.tlsCertPath) } : undefined;
  const app = await NestFactory.create(CoordinatorModule.forRoot(config, federation), {
    logger: options.logger === false ? false : (options.logger ?? ['error', 'warn', 'log']),
    httpsOptions,
  });
  app.useWebSocketAdapter(
    new ConfiguredIoAdapter(app, {
      maxMessageBytes: config.maxMessageBytes,
      preAuthMaxMessageBytes: config.preAuthMaxMessageBytes,
      helloTimeoutMs: config.helloTimeoutMs,
      allowedOrigins: config.allowedOrigins,
      admission: app.get<symbol, ConnectionAdmission>(CONNECTION_ADMISSION),
    }),
  );
  app.enableShutdownHooks();
  serveOpenApi(app); // Swagger UI at /docs, the document at /docs-json (public: it describes the API, holds no data)
  await app.listen(config.port, config.host);
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, url: `${httpsOptions ? 'https' : 'http'}://${config.host}:${port}`, port, rounds: app.get(RoundsService), federation };
}
