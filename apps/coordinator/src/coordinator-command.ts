import { Command } from 'commander';
import { coordinatorConfigSchema, coordinatorFlagsSchema } from './config/coordinator-config';
import { addSchemaOptions, exitOnError, parseOptions } from '@fedkd/command-line';
import { ensureKeyPair, exportPublicKey } from '@fedkd/privacy';

export { coordinatorConfigFrom, type CoordinatorFlags } from './config/coordinator-config';

/** Every coordinator flag (coordinatorFlagsSchema), each also readable from the environment variable it names. */
export function addCoordinatorOptions(command: Command): Command {
  return addSchemaOptions(command, coordinatorFlagsSchema);
}

export function coordinatorCommand(): Command {
  const command = addCoordinatorOptions(new Command('coordinator').description('Run the coordinator: REST API, socket.io endpoint, rounds.'));
  return command.action(() =>
    exitOnError('fedkd coordinator', async () => {
      const flags = parseOptions(coordinatorFlagsSchema, command.opts());
      const config = parseOptions(coordinatorConfigSchema, flags);
      if (flags.createKey) ensureKeyPair(flags.key, 'the coordinator');
      if (flags.publicKeyOut) exportPublicKey(flags.key, flags.publicKeyOut);
      // Nest and SQLite load only here, so that other commands of the same program never load them.
      const { startCoordinator } = await import('./start-coordinator');
      const running = await startCoordinator(config);
      process.stderr.write(`fedkd coordinator listening on ${running.url}\n`);
      if (flags.exitAfterRounds && flags.rounds > 0) {
        await running.rounds.autoRunDone;
        await running.app.close();
        process.exit(0);
      }
    }),
  );
}
