import { Command } from 'commander';
import { loadTaskFile, MNIST_TASK, parsePartitionerSpec } from '@fedkd/data';
import { initBackend, zooModelSpec } from '@fedkd/engine';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeClient, type ClientEvent } from './federation/edge-client';
import { ClientStatusFile } from './client-status-file';
import { downloadModelCommand } from './download-model';
import { clientFlagsSchema } from './client-options';
import { loadClientIdentity, loadPinnedKey } from '@fedkd/privacy';
import { addSchemaOptions, exitOnError, parseOptions } from '@fedkd/command-line';


export function clientCommand(): Command {
  const command = new Command('client').description(
    'Run an edge client: a teacher on this client\'s own data (--data) or its partition of an embedded data set, answering rounds with protected soft predictions.',
  );
  addSchemaOptions(command, clientFlagsSchema);
  // Options before a subcommand's name are the client's; after it, the subcommand's own.
  command.enablePositionalOptions().addCommand(downloadModelCommand());
  return command.action(() =>
    exitOnError('fedkd client', async () => {
      const flags = parseOptions(clientFlagsSchema, command.opts());
      const task = flags.task ? loadTaskFile(flags.task) : MNIST_TASK;
      await initBackend();
      const status = new ClientStatusFile(flags.statusFile ?? '');
      const clientName = flags.name ?? `client-${flags.index}`;
      const client = new EdgeClient(
        {
          identity: loadClientIdentity(flags.key ?? join('keys', `${clientName}.key`), clientName, flags.createKey),
          coordinatorPublicKey: loadPinnedKey(flags.coordinatorKey, flags.coordinatorPublicKey),
          enrolmentToken: flags.enrolmentToken,
          tlsCa: flags.tlsCa ? readFileSync(flags.tlsCa, 'utf8') : undefined,
          teachersPerClient: flags.teachersPerClient,
          epsilonMax: flags.epsilonMax,
          ledgerPath: flags.ledger ?? join('ledgers', `${clientName}.json`),
          queryBudget: flags.queryBudget ?? null,
          acceptUnsafeSecAggThreshold: flags.secaggAcceptUnsafeThreshold,
          coordinatorUrl: flags.coordinator,
          clientName,
          clientIndex: flags.index,
          clients: flags.clients,
          partition: parsePartitionerSpec(flags.partition),
          seed: flags.seed,
          task,
          data: flags.data,
          labelColumn: flags.labelColumn,
          dataset: flags.dataset,
          teacherModelPath: flags.teacherModel,
          fineTuneEpochs: flags.fineTuneEpochs,
          holdout: flags.holdout,
          model: zooModelSpec(flags.model, task.input.shape, task.classes.length),
          epochs: flags.epochs,
          shareSampleCount: flags.shareSampleCount,
          ackTimeoutMs: flags.ackTimeoutMs,
          reconnectDelayMs: 500,
          reconnectDelayMaxMs: 5_000,
        },
        (event: ClientEvent) => {
          process.stdout.write(`${JSON.stringify(event)}\n`);
          if (flags.statusFile) status.update(event);
          // Another task, another protocol: retrying cannot succeed, so stop with the reason.
          if (event.event === 'refused' && event.code === 'TASK_MISMATCH') {
            process.stderr.write(`fedkd client: ${event.message}\n`);
            client.stop();
            process.exit(1);
          }
        },
      );
      const stop = () => {
        client.stop();
        process.exit(0);
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      await client.start();
    }),
  );
}
