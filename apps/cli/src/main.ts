#!/usr/bin/env node
/**
 * The `fedkd` command: composes the apps' commands (coordinator, client, export, identities) with
 * the data and simulation commands. Heavy parts (Nest, SQLite) load only inside the commands that
 * run them, so `fedkd client` loads neither.
 */
import { Command } from 'commander';
import { clientCommand } from '../../edge-client/src/client-command';
import { adminCommand } from '../../coordinator/src/admin-command';
import { coordinatorCommand } from '../../coordinator/src/coordinator-command';
import { exportCommand } from '../../coordinator/src/export-command';
import { clientsCommand, enrollCommand, keysCommand } from '../../coordinator/src/identity-commands';
import { dataCommand, taskCommand } from './data-commands';
import { simulateCommand } from './simulate/simulate-command';

export function buildCli(): Command {
  return new Command('fedkd')
    .description('Privacy-preserving federated knowledge distillation.')
    // A subcommand's options are its own (`fedkd client download-model --name ...` is not `fedkd client --name`).
    .enablePositionalOptions()
    .addCommand(coordinatorCommand())
    .addCommand(clientCommand())
    .addCommand(simulateCommand(__filename))
    .addCommand(taskCommand())
    .addCommand(dataCommand())
    .addCommand(exportCommand())
    .addCommand(keysCommand())
    .addCommand(enrollCommand())
    .addCommand(clientsCommand())
    .addCommand(adminCommand())
    .showHelpAfterError();
}

if (require.main === module) void buildCli().parseAsync(process.argv);
