import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A script that must run as compiled JavaScript (a worker thread or process): `fileName` beside
 * the calling module when that module is itself compiled, else in `builtDir` (dist/, when the
 * caller runs from its TypeScript sources under vitest; `npm test` builds first). Throws naming
 * both places when neither has it.
 */
export function compiledScript(callerDir: string, fileName: string, builtDir: string, what: string): string {
  const beside = join(callerDir, fileName);
  if (existsSync(beside)) return beside;
  const built = join(builtDir, fileName);
  if (existsSync(built)) return built;
  throw new Error(`${what} not found at ${beside} or ${built}: run npm run build`);
}
