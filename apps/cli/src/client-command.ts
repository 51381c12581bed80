import { Command, Option } from 'commander';
import { parsePartitionerSpec } from '@fedkd/data';
import { initBackend } from '@fedkd/engine';
import { ARCHITECTURES } from '../../coordinator/src/config/coordinator-config';
import { EdgeClient, type ClientEvent } from '../../edge-client/src/federation/edge-client';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClientStatusFile } from './client-status-file';
import { loadClientIdentity, loadPinnedKey } from './key-loading';
import { choiceArg, envOption, exitOnError, integerArg, positiveArg } from './option-parsers';

interface ClientFlags {
  coordinator: string;
  name?: string;
  index: number;
  clients: number;
  partition: string;
  seed: number;
  model: string;
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
}

export function clientCommand(): Command {
  const command = new Command('client').description(
    'Run an edge client: train a teacher on this client\'s private partition of the embedded data, answer rounds with soft predictions.',
  );
  const opt = (flags: string, description: string, env: string, parse?: (v: string) => unknown, fallback?: unknown) =>
    envOption(command, flags, description, env, parse, fallback);
  opt('--coordinator <url>', 'coordinator URL', 'FEDKD_COORDINATOR_URL', undefined, 'http://127.0.0.1:8080');
  opt('--name <name>', 'client name (default client-<index>)', 'FEDKD_CLIENT_NAME');
  opt('--index <i>', 'this client\'s index in the federation (0-based)', 'FEDKD_CLIENT_INDEX', integerArg('--index'), 0);
  opt('--clients <k>', 'number of clients the private pool is partitioned for', 'FEDKD_CLIENTS', integerArg('--clients', 1), 5);
  opt('--partition <spec>', 'iid | dirichlet:ALPHA | shards:N', 'FEDKD_PARTITION', undefined, 'dirichlet:0.5');
  opt('--seed <n>', 'the federation\'s seed (split and partition)', 'FEDKD_SEED', integerArg('--seed'), 0);
  opt('--model <arch>', 'teacher architecture: mlp | cnn', 'FEDKD_MODEL', choiceArg('--model', Object.keys(ARCHITECTURES)), 'mlp');
  opt('--epochs <n>', 'initial teacher epochs on private data', 'FEDKD_EPOCHS', integerArg('--epochs', 1), 10);
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
  command.addOption(new Option('--share-sample-count', 'tell the coordinator how many private samples this client has (for weighted aggregation)').env('FEDKD_SHARE_SAMPLE_COUNT').default(false));
  return command.action((flags: ClientFlags) =>
    exitOnError('fedkd client', async () => {
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
          coordinatorUrl: flags.coordinator,
          clientName,
          clientIndex: flags.index,
          clients: flags.clients,
          partition: parsePartitionerSpec(flags.partition),
          seed: flags.seed,
          model: ARCHITECTURES[flags.model],
          epochs: flags.epochs,
          shareSampleCount: Boolean(flags.shareSampleCount),
          ackTimeoutMs: flags.ackTimeoutMs,
          reconnectDelayMs: 500,
          reconnectDelayMaxMs: 5_000,
        },
        (event: ClientEvent) => {
          process.stdout.write(`${JSON.stringify(event)}\n`);
          if (flags.statusFile) status.update(event);
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
