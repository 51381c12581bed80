import { Command, Option } from 'commander';
import { loadTaskFile, MNIST_TASK, parsePartitionerSpec, type EmbeddedDatasetName } from '@fedkd/data';
import { initBackend, ZOO_MODEL_NAMES, zooModelSpec, type ZooModelName } from '@fedkd/engine';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeClient, type ClientEvent } from './federation/edge-client';
import { ClientStatusFile } from './client-status-file';
import { downloadModelCommand } from './download-model';
import { loadClientIdentity, loadPinnedKey } from '@fedkd/privacy';
import { choiceArg, embeddedDatasetArg, envOption, exitOnError, integerArg, nonNegativeArg, positiveArg } from '@fedkd/command-line';

interface ClientFlags {
  coordinator: string;
  name?: string;
  task?: string;
  data?: string;
  labelColumn: string;
  dataset: EmbeddedDatasetName;
  teacherModel?: string;
  fineTuneEpochs: number;
  holdout: number;
  index: number;
  clients: number;
  partition: string;
  seed: number;
  model: ZooModelName;
  epochs: number;
  shareSampleCount: boolean;
  ackTimeoutMs: number;
  statusFile?: string;
  key?: string;
  createKey: boolean;
  coordinatorKey?: string;
  coordinatorPublicKey?: string;
  enrolmentToken?: string;
  tlsCa?: string;
  teachersPerClient: number;
  epsilonMax: number;
  ledger?: string;
  queryBudget?: number;
  secaggAcceptUnsafeThreshold: boolean;
}

export function clientCommand(): Command {
  const command = new Command('client').description(
    'Run an edge client: a teacher on this client\'s own data (--data) or its partition of an embedded data set, answering rounds with protected soft predictions.',
  );
  const opt = (flags: string, description: string, env: string, parse?: (v: string) => unknown, fallback?: unknown) =>
    envOption(command, flags, description, env, parse, fallback);
  opt('--coordinator <url>', 'coordinator URL', 'FEDKD_COORDINATOR_URL', undefined, 'http://127.0.0.1:8080');
  opt('--name <name>', 'client name (default client-<index>)', 'FEDKD_CLIENT_NAME');
  opt('--task <file>', 'the federation\'s task file (JSON or YAML); its SHA-256 must be the coordinator\'s (default: the --dataset\'s task)', 'FEDKD_TASK');
  opt('--data <spec>', 'this client\'s private data: FORMAT:PATH (idx, npy, csv, image-folder) or a path (format inferred); never leaves this machine', 'FEDKD_DATA');
  opt('--label-column <name>', 'CSV data: the column holding the label', 'FEDKD_LABEL_COLUMN', undefined, 'label');
  opt('--dataset <name>', 'demos and simulation without --data: the embedded data set whose private pool is partitioned (embedded:mnist | embedded:mnist-full)', 'FEDKD_DATASET', embeddedDatasetArg('--dataset'), 'mnist');
  opt('--teacher-model <path>', 'the teacher: a TF.js LayersModel model.json (e.g. converted from Keras); default: a zoo model (--model) trained here', 'FEDKD_TEACHER_MODEL');
  opt('--fine-tune-epochs <n>', 'epochs of fine-tuning --teacher-model on the private data (0: frozen, also in the rounds)', 'FEDKD_FINE_TUNE_EPOCHS', integerArg('--fine-tune-epochs'), 0);
  opt('--holdout <fraction>', 'share of the private data held out to report the teacher\'s accuracy, locally only (0: none)', 'FEDKD_HOLDOUT', nonNegativeArg('--holdout'), 0);
  opt('--index <i>', 'this client\'s index in the federation (0-based): its embedded partition, and seeds', 'FEDKD_CLIENT_INDEX', integerArg('--index'), 0);
  opt('--clients <k>', 'number of clients the private pool is partitioned for', 'FEDKD_CLIENTS', integerArg('--clients', 1), 5);
  opt('--partition <spec>', 'iid | dirichlet:ALPHA | shards:N', 'FEDKD_PARTITION', undefined, 'dirichlet:0.5');
  opt('--seed <n>', 'the federation\'s seed (split and partition)', 'FEDKD_SEED', integerArg('--seed'), 0);
  opt('--model <arch>', `zoo teacher architecture, sized to the task: ${ZOO_MODEL_NAMES.join(' | ')}`, 'FEDKD_MODEL', choiceArg('--model', ZOO_MODEL_NAMES), 'mlp');
  opt('--epochs <n>', 'epochs of training a zoo teacher on the private data', 'FEDKD_EPOCHS', integerArg('--epochs', 1), 10);
  opt('--ack-timeout-ms <ms>', 'how long to wait for the coordinator to acknowledge a message', 'FEDKD_ACK_TIMEOUT_MS', integerArg('--ack-timeout-ms', 100), 30_000);
  opt('--key <file>', 'this client\'s Ed25519 secret key (default ./keys/<name>.key)', 'FEDKD_KEY');
  opt('--coordinator-key <file>', 'the coordinator\'s public key file, pinned (or --coordinator-public-key)', 'FEDKD_COORDINATOR_KEY');
  opt('--coordinator-public-key <base64>', 'the coordinator\'s public key, pinned, as printed by `fedkd keys init`', 'FEDKD_COORDINATOR_PUBLIC_KEY');
  opt('--enrolment-token <token>', 'one-time token from `fedkd enroll --client <name>` (first contact only)', 'FEDKD_ENROLMENT_TOKEN');
  command.addOption(new Option('--create-key', 'create the key pair if the key file does not exist yet').env('FEDKD_CREATE_KEY').default(false));
  opt('--teachers-per-client <m>', 'private rounds: teachers on disjoint shards of the private data (PATE)', 'FEDKD_TEACHERS_PER_CLIENT', integerArg('--teachers-per-client', 1, 10_000), 1);
  opt('--epsilon-max <e>', 'privacy budget: decline private rounds that would spend more (epsilon at the round\'s delta)', 'FEDKD_EPSILON_MAX', positiveArg('--epsilon-max'), 8);
  opt('--ledger <file>', 'privacy ledger file, kept across restarts (default ./ledgers/<name>.json)', 'FEDKD_LEDGER');
  opt('--query-budget <n>', 'most proxy inputs (teacher queries) this client answers over its run; later rounds are declined (default: no limit)', 'FEDKD_QUERY_BUDGET', integerArg('--query-budget', 1));
  opt('--tls-ca <file>', 'PEM certificate to trust for an https:// coordinator (private CA or self-signed)', 'FEDKD_TLS_CA');
  opt('--status-file <path>', 'JSON file rewritten on every connection change (for container health checks)', 'FEDKD_STATUS_FILE');
  command.addOption(
    new Option('--secagg-accept-unsafe-threshold', 'UNSAFE: take part in secure rounds whose threshold is half of the neighbours or fewer (coordinator --secagg-unsafe-threshold); declined by default')
      .env('FEDKD_SECAGG_ACCEPT_UNSAFE_THRESHOLD')
      .default(false),
  );
  command.addOption(new Option('--share-sample-count', 'tell the coordinator how many private samples this client has (for weighted aggregation)').env('FEDKD_SHARE_SAMPLE_COUNT').default(false));
  // Options before a subcommand's name are the client's; after it, the subcommand's own.
  command.enablePositionalOptions().addCommand(downloadModelCommand());
  return command.action((flags: ClientFlags) =>
    exitOnError('fedkd client', async () => {
      if (!(flags.holdout < 1)) throw new Error(`--holdout must be in [0, 1), got ${flags.holdout}`);
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
          acceptUnsafeSecAggThreshold: Boolean(flags.secaggAcceptUnsafeThreshold),
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
          shareSampleCount: Boolean(flags.shareSampleCount),
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
