#!/usr/bin/env node
/** The `fedkd` command: coordinator, client, simulate. */
import 'reflect-metadata';
import { Command } from 'commander';
import { clientCommand } from './client-command';
import { coordinatorCommand } from './coordinator-command';
import { clientsCommand, enrollCommand, keysCommand } from './identity-commands';
import { simulateCommand } from './simulate/simulate-command';

export function buildCli(): Command {
  return new Command('fedkd')
    .description('Privacy-preserving federated knowledge distillation.')
    .addCommand(coordinatorCommand())
    .addCommand(clientCommand())
    .addCommand(simulateCommand(__filename))
    .addCommand(keysCommand())
    .addCommand(enrollCommand())
    .addCommand(clientsCommand())
    .showHelpAfterError();
}

if (require.main === module) buildCli().parseAsync(process.argv);
