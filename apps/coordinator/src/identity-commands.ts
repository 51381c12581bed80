import { Command } from 'commander';
import { createEnrolmentToken, encodePublicKey, fingerprint, initKeys } from '@fedkd/privacy';
import { envOption, exitOnError, positiveArg } from '@fedkd/command-line';
import { DATABASE_HELP, withDatabase } from './persistence/with-database';


/** `fedkd keys init`: an Ed25519 key pair in <dir>/<name>.key (mode 0600) and <name>.pub. */
export function keysCommand(): Command {
  const init = new Command('init').description('Create an Ed25519 key pair: <dir>/<name>.key (mode 0600) and <dir>/<name>.pub.');
  envOption(init, '--dir <dir>', 'directory for the key files', 'FEDKD_KEYS_DIR', undefined, './keys');
  envOption(init, '--name <name>', 'key name, e.g. coordinator or the client name', 'FEDKD_KEY_NAME', undefined, 'coordinator');
  init.option('--force', 'overwrite existing key files', false);
  init.action((flags: { dir: string; name: string; force: boolean }) =>
    exitOnError('fedkd keys init', async () => {
      const keys = initKeys(flags.dir, flags.name, { force: flags.force });
      if (!keys.ok) throw new Error(keys.message);
      const { secretKeyPath, publicKeyPath, publicKey } = keys.value;
      process.stdout.write(`${secretKeyPath}\n${publicKeyPath}\npublic key ${encodePublicKey(publicKey)}\nfingerprint ${fingerprint(publicKey)}\n`);
    }),
  );
  return new Command('keys').description('Manage Ed25519 identity keys.').addCommand(init);
}

/** `fedkd enroll --client NAME`: a one-time enrolment token, printed once; only its hash is stored. */
export function enrollCommand(): Command {
  const command = new Command('enroll').description('Print a one-time enrolment token for a client (only its hash is stored).');
  command.requiredOption('--client <name>', 'the client name the token admits');
  envOption(command, '--db <location>', DATABASE_HELP, 'FEDKD_DB', undefined, './fedkd.sqlite');
  envOption(command, '--ttl-hours <h>', 'hours until the token expires', 'FEDKD_ENROL_TTL_HOURS', positiveArg('--ttl-hours'), 24);
  return command.action((flags: { client: string; db: string; ttlHours: number }) =>
    exitOnError('fedkd enroll', async () => {
      await withDatabase(flags.db, async (db) => {
        const { token, record } = createEnrolmentToken(flags.client, flags.ttlHours * 3_600_000, Date.now());
        await db.identities.addToken(record);
        process.stdout.write(`${token}\n`);
        process.stderr.write(`token for ${flags.client}, valid once until ${new Date(record.expiresAt).toISOString()}\n`);
      });
    }),
  );
}

/** `fedkd clients list|revoke`. */
export function clientsCommand(): Command {
  const list = new Command('list').description('Enrolled clients: name, key fingerprint, enrolled, revoked.');
  envOption(list, '--db <location>', DATABASE_HELP, 'FEDKD_DB', undefined, './fedkd.sqlite');
  list.option('--json', 'one JSON array', false);
  list.action((flags: { db: string; json: boolean }) =>
    exitOnError('fedkd clients list', async () => {
      await withDatabase(flags.db, async (db) => {
        const rows = (await db.identities.list()).map((i) => ({
          name: i.clientName,
          fingerprint: fingerprint(Buffer.from(i.publicKey, 'base64')),
          enrolledAt: new Date(i.enrolledAt).toISOString(),
          revokedAt: i.revokedAt === null ? null : new Date(i.revokedAt).toISOString(),
        }));
        if (flags.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
        else for (const r of rows) process.stdout.write(`${r.name}\t${r.fingerprint}\tenrolled ${r.enrolledAt}${r.revokedAt ? `\trevoked ${r.revokedAt}` : ''}\n`);
      });
    }),
  );
  const revoke = new Command('revoke').description('Revoke a client: its key is refused from now on.').argument('<name>', 'client name');
  envOption(revoke, '--db <location>', DATABASE_HELP, 'FEDKD_DB', undefined, './fedkd.sqlite');
  revoke.action((name: string, flags: { db: string }) =>
    exitOnError('fedkd clients revoke', async () => {
      await withDatabase(flags.db, async (db) => {
        await db.identities.revoke(name);
        process.stderr.write(`revoked ${name}\n`);
      });
    }),
  );
  return new Command('clients').description('Enrolled clients.').addCommand(list).addCommand(revoke);
}
