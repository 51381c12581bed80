import type { TestProject } from 'vitest/node';
import { startPostgres, type PostgresServer } from './postgres-server';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server for this test run (superuser, trust on loopback): tests create their own databases in it. */
    postgresUrl: string;
  }
}

let server: PostgresServer | undefined;

/**
 * vitest globalSetup: one PostgreSQL server for the whole run (FEDKD_TEST_POSTGRES_URL names an
 * existing one instead), so that every repository test runs against PostgreSQL as well as SQLite.
 */
export async function setup(project: TestProject): Promise<void> {
  const external = process.env.FEDKD_TEST_POSTGRES_URL;
  if (external) {
    project.provide('postgresUrl', external);
    return;
  }
  server = await startPostgres();
  project.provide('postgresUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
