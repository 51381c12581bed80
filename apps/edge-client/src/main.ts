/**
 * Edge client. For now it does the local half of a round: derive its private partition, train
 * its teacher, report its local-only test accuracy. Joining a coordinator over socket.io follows
 * (docs/DESIGN.md, "A round").
 */
import { Command, InvalidArgumentError } from 'commander';
import { CNN_SPEC, initBackend, MLP_SPEC } from '@fedkd/engine';
import { parsePartitionerSpec } from '@fedkd/data';
import { loadPrivatePartition, localOnlyAccuracy, trainLocalTeacher } from './teacher/local-teacher';

function integer(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

interface ClientOptions {
  index: number;
  clients: number;
  partition: string;
  seed: number;
  model: 'mlp' | 'cnn';
  epochs: number;
}

async function main(options: ClientOptions): Promise<void> {
  await initBackend();
  const config = {
    clientIndex: options.index,
    clients: options.clients,
    partition: parsePartitionerSpec(options.partition),
    seed: options.seed,
    model: options.model === 'cnn' ? CNN_SPEC : MLP_SPEC,
    epochs: options.epochs,
  };
  const data = loadPrivatePartition(config);
  process.stderr.write(`client ${config.clientIndex}/${config.clients}: ${data.count} private digits\n`);
  const teacher = await trainLocalTeacher(config, data, (p) =>
    process.stderr.write(`  epoch ${p.epoch}/${p.epochs} loss ${p.trainLoss.toFixed(4)}\n`),
  );
  process.stdout.write(`${JSON.stringify({ client: config.clientIndex, samples: data.count, localOnlyAccuracy: localOnlyAccuracy(teacher, config.seed) })}\n`);
}

new Command('fedkd-edge-client')
  .description('Train this client\'s teacher on its private partition of the embedded data and report its local-only accuracy.')
  .option('--index <i>', 'this client\'s index in the federation (0-based)', integer('--index', 0), 0)
  .option('--clients <k>', 'number of clients in the federation', integer('--clients', 1), 5)
  .option('--partition <spec>', 'iid | dirichlet:ALPHA | shards:N', 'dirichlet:0.5')
  .option('--seed <n>', 'the federation\'s seed', integer('--seed', 0), 0)
  .option('--model <kind>', 'teacher architecture: mlp | cnn', (v: string) => {
    if (v !== 'mlp' && v !== 'cnn') throw new InvalidArgumentError('--model must be mlp or cnn');
    return v;
  }, 'mlp')
  .option('--epochs <n>', 'teacher training epochs', integer('--epochs', 1), 10)
  .action((opts: ClientOptions) =>
    main(opts).catch((error: unknown) => {
      process.stderr.write(`fedkd-edge-client: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    }),
  )
  .parse();
