import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { initBackend } from '@fedkd/engine';
import { CoordinatorModule } from './coordinator.module';

async function main(): Promise<void> {
  await initBackend();
  const app = await NestFactory.create(CoordinatorModule, { logger: ['error', 'warn', 'log'] });
  const port = Number(process.env.FEDKD_PORT ?? 8080);
  await app.listen(port, process.env.FEDKD_HOST ?? '127.0.0.1');
  console.error(`fedkd coordinator listening on ${await app.getUrl()}`);
}

main().catch((error: unknown) => {
  console.error(`fedkd coordinator: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
