/**
 * Prints the coordinator's OpenAPI document (what a running coordinator serves at /docs-json) to
 * stdout: `npm run -s build && node dist/scripts/openapi-document.js > openapi.json`. It starts a
 * throwaway coordinator (default options, a fresh key and database in a temporary directory, a
 * free loopback port), reads the document its routes make, and stops it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initKeys } from '@fedkd/privacy';
import { createOpenApiDocument } from '../apps/coordinator/src/api/openapi';
import { COORDINATOR_DEFAULTS } from '../apps/coordinator/src/config/coordinator-config';
import { startCoordinator } from '../apps/coordinator/src/start-coordinator';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fedkd-openapi-'));
  try {
    const keys = initKeys(join(dir, 'keys'), 'coordinator');
    if (!keys.ok) throw new Error(keys.message);
    const coordinator = await startCoordinator(
      { ...COORDINATOR_DEFAULTS, host: '127.0.0.1', port: 0, databasePath: join(dir, 'fedkd.sqlite'), keyPath: keys.value.secretKeyPath },
      { logger: false },
    );
    try {
      process.stdout.write(`${JSON.stringify(createOpenApiDocument(coordinator.app), null, 2)}\n`);
    } finally {
      await coordinator.app.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`openapi-document: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
