import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { Logger, type INestApplication, type LoggerService } from '@nestjs/common';
import { initBackend } from '@fedkd/engine';
import type { DestinationStream } from 'pino';
import { validateCoordinatorConfig, type CoordinatorConfig } from './config/coordinator-config';
import { serveOpenApi } from './api/openapi';
import { CoordinatorModule } from './coordinator.module';
import { FederationEvents } from './events/federation-events';
import { createCoordinatorLogging } from './observability/coordinator-logging';
import { prepareFederation, type FederationSetup } from './federation/federation-setup';
import { RoundsService } from './rounds/rounds.service';
import { ConfiguredIoAdapter } from './transport/configured-io.adapter';
import { connectRedisBroadcast } from './transport/redis-broadcast';
import { CONNECTION_ADMISSION, type ConnectionAdmission } from './transport/connection-admission';

export interface RunningCoordinator {
  app: INestApplication;
  url: string;
  port: number;
  rounds: RoundsService;
  federation: FederationSetup;
}

export interface StartOptions {
  /**
   * Where the coordinator logs: by default its JSON log (pino, config.logLevel) to `logDestination`;
   * false: nowhere; a Nest LoggerService: that one instead.
   */
  logger?: false | LoggerService;
  /** The JSON log's destination (each line written once, newline-terminated); default standard output. */
  logDestination?: DestinationStream;
}

/** Starts the coordinator: HTTP API and the clients' socket.io endpoint on one port. */
export async function startCoordinator(config: CoordinatorConfig, options: StartOptions = {}): Promise<RunningCoordinator> {
  validateCoordinatorConfig(config);
  await initBackend();
  // Task, data and student first: a bad file stops the coordinator before it listens.
  const federation = await prepareFederation(config, options.logger === false ? undefined : (line) => process.stderr.write(`fedkd coordinator: ${line}\n`));
  const httpsOptions = config.tlsKeyPath && config.tlsCertPath ? { key: readFileSync(config.tlsKeyPath), cert: readFileSync(config.tlsCertPath) } : undefined;
  const logging = options.logger === undefined ? createCoordinatorLogging(config.logLevel, options.logDestination) : null;
  const app = await NestFactory.create(CoordinatorModule.forRoot(config, federation), {
    logger: logging ? logging.nest : options.logger!,
    httpsOptions,
  });
  if (logging) {
    // The round in progress on every line; HTTP requests at debug.
    logging.round.follow(app.get(FederationEvents));
    app.use(logging.http);
  }
  const broadcast = config.redisUrl
    ? await connectRedisBroadcast(config.redisUrl, (message) => new Logger('Transport').warn(message)).catch(async (error: unknown) => {
        await app.close();
        throw error;
      })
    : null;
  app.useWebSocketAdapter(
    new ConfiguredIoAdapter(app, {
      maxMessageBytes: config.maxMessageBytes,
      preAuthMaxMessageBytes: config.preAuthMaxMessageBytes,
      helloTimeoutMs: config.helloTimeoutMs,
      allowedOrigins: config.allowedOrigins,
      admission: app.get<symbol, ConnectionAdmission>(CONNECTION_ADMISSION),
      broadcast,
    }),
  );
  app.enableShutdownHooks();
  serveOpenApi(app); // Swagger UI at /docs, the document at /docs-json (public: it describes the API, holds no data)
  await app.listen(config.port, config.host);
  const { port } = app.getHttpServer().address() as { port: number };
  return { app, url: `${httpsOptions ? 'https' : 'http'}://${config.host}:${port}`, port, rounds: app.get(RoundsService), federation };
}
