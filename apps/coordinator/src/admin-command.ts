import { Command } from 'commander';
import { choiceArg, envOption, exitOnError } from '@fedkd/command-line';
import { createApiToken } from './auth/api-tokens';
import type { ApiTokenRecord, ApiTokenScope } from './persistence/api-tokens.repository';
import { DATABASE_HELP, withDatabase } from './persistence/with-database';


/**
 * `fedkd admin token create|list|revoke`: the REST API's tokens, in the coordinator's database.
 * `create` prints the token once on stdout (only its SHA-256 is stored); `list` never shows one.
 */
export function adminCommand(): Command {
  const create = new Command('create').description('Create a REST API token and print it once (only its SHA-256 is stored).');
  create.requiredOption('--name <name>', 'what the token is for, e.g. ops-dashboard (unique among unrevoked tokens)');
  envOption(create, '--scope <scope>', 'admin (run rounds, and read) | read (GET the API)', 'FEDKD_TOKEN_SCOPE', choiceArg('--scope', ['admin', 'read'] as const), 'read');
  envOption(create, '--db <location>', DATABASE_HELP, 'FEDKD_DB', undefined, './fedkd.sqlite');
  create.action((flags: { name: string; scope: ApiTokenScope; db: string }) =>
    exitOnError('fedkd admin token create', () =>
      withDatabase(flags.db, async (db) => {
        const { token, record } = await createApiToken(db, flags.name, flags.scope);
        process.stdout.write(`${token}\n`);
        process.stderr.write(`${record.scope} token ${record.name} (id ${record.id}): shown once, store it now\n`);
      }),
    ),
  );

  const list = new Command('list').description('REST API tokens: id, name, scope, created, revoked (never the token).');
  envOption(list, '--db <location>', DATABASE_HELP, 'FEDKD_DB', undefined, './fedkd.sqlite');
  list.option('--json', 'one JSON array', false);
  list.action((flags: { db: string; json: boolean }) =>
    exitOnError('fedkd admin token list', () =>
      withDatabase(flags.db, async (db) => {
        const rows = (await db.apiTokens.list()).map(describeToken);
        if (flags.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
        else for (const r of rows) process.stdout.write(`${r.id}\t${r.name}\t${r.scope}\tcreated ${r.createdAt}${r.revokedAt ? `\trevoked ${r.revokedAt}` : ''}\n`);
      }),
    ),
  );

  const revoke = new Command('revoke').description('Revoke a REST API token by id or name: it is refused (401) from now on.').argument('<id-or-name>', 'token id (from list) or name');
  envOption(revoke, '--db <location>', DATABASE_HELP, 'FEDKD_DB', undefined, './fedkd.sqlite');
  revoke.action((idOrName: string, flags: { db: string }) =>
    exitOnError('fedkd admin token revoke', () =>
      withDatabase(flags.db, async (db) => {
        const record = await db.apiTokens.revoke(idOrName);
        process.stderr.write(`revoked ${record.scope} token ${record.name} (id ${record.id})\n`);
      }),
    ),
  );

  const token = new Command('token').description('REST API tokens (Authorization: Bearer <token>).').addCommand(create).addCommand(list).addCommand(revoke);
  return new Command('admin').description('Administer the coordinator\'s REST API.').addCommand(token);
}

function describeToken(t: ApiTokenRecord) {
  return {
    id: t.id,
    name: t.name,
    scope: t.scope,
    createdAt: new Date(t.createdAt).toISOString(),
    revokedAt: t.revokedAt === null ? null : new Date(t.revokedAt).toISOString(),
  };
}
