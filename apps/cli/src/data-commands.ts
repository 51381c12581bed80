import { Command, Option } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import {
  classCounts,
  createPartitioner,
  dataProblems,
  formatPartitionerSpec,
  loadEmbeddedPart,
  loadTaskFile,
  MNIST_TASK,
  parsePartitionerSpec,
  readData,
  subset,
  taskSha256,
  writeDataset,
  type Dataset,
  type EmbeddedDatasetName,
  type LoadedData,
  type PartitionerSpec,
  type Task,
} from '@fedkd/data';
import { checkedArg, choiceArg, embeddedDatasetArg, envOption, exitOnError, integerArg, tenthsOf } from '@fedkd/command-line';

/** `fedkd task check FILE --data SPEC`: what a data set holds against a task, and every problem found. */
export function taskCommand(): Command {
  const check = new Command('check')
    .description('Validate a task file and print what a data set holds against it (count per class, shape, value range) and every problem found; exits 1 if there are problems.')
    .argument('<file>', 'task file (JSON or YAML)');
  envOption(check, '--data <spec>', 'data set to check: FORMAT:PATH (idx, npy, csv, image-folder), a path (format inferred) or embedded:NAME', 'FEDKD_DATA');
  check.addOption(new Option('--unlabelled', 'check it as unlabelled proxy data (labels neither needed nor read)').default(false));
  envOption(check, '--label-column <name>', 'CSV data: the column holding the label', 'FEDKD_LABEL_COLUMN', undefined, 'label');
  check.action((file: string, flags: { data?: string; unlabelled: boolean; labelColumn: string }) =>
    exitOnError('fedkd task check', async () => {
      const task = loadTaskFile(file);
      process.stdout.write(`${describeTask(task, file)}\n`);
      if (!flags.data) return;
      const problems = dataProblems('collect');
      const labelled = !flags.unlabelled;
      const loaded = await readData(flags.data, {
        task,
        labelled,
        labelColumn: flags.labelColumn,
        problems,
        embedded: { part: labelled ? 'private' : 'proxy', seed: 0 },
        onProgress: tenthsOf('  read', (line) => process.stderr.write(`${line}\n`)),
      });
      process.stdout.write(`${describeData(flags.data, loaded, task, labelled)}\n`);
      const all = [...problems.list, ...(loaded.inputs.count === 0 ? [`${flags.data}: the data set is empty`] : [])];
      if (all.length === 0) {
        process.stdout.write('no problems found\n');
        return;
      }
      process.stdout.write(`${all.length} problem${all.length === 1 ? '' : 's'}:\n${all.map((p) => `  ${p}`).join('\n')}\n`);
      process.exitCode = 1;
    }),
  );
  return new Command('task').description('Task files: what every party of a federation loads.').addCommand(check);
}

function describeTask(task: Task, file: string): string {
  const s = task.input.scaling;
  const scaling = s.type === 'none' ? 'none' : s.type === 'divide' ? `divide by ${s.by}` : `standardise (mean ${s.mean.join(', ')}; std ${s.std.join(', ')})`;
  return [
    `task ${task.name} from ${file}`,
    `  SHA-256 ${taskSha256(task)}`,
    `  inputs [${task.input.shape.join(', ')}], scaling: ${scaling}`,
    `  ${task.classes.length} classes: ${task.classes.join(', ')}`,
  ].join('\n');
}

function describeData(spec: string, loaded: LoadedData, task: Task, labelled: boolean): string {
  const { inputs, labels, rawRange } = loaded;
  let min = Infinity;
  let max = -Infinity;
  for (const v of inputs.values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const lines = [
    `data ${spec} (${labelled ? 'labelled' : 'unlabelled'}): ${inputs.count} inputs of [${inputs.inputShape.join(', ')}] read from ${loaded.files.join(', ')}`,
    `  raw values ${rawRange.min} .. ${rawRange.max}; after scaling ${inputs.count ? `${min.toPrecision(4)} .. ${max.toPrecision(4)}` : '-'}`,
  ];
  if (labels) {
    const counts = classCounts(labels, task.classes.length);
    lines.push(`  per class: ${task.classes.map((name, c) => `${name} ${counts[c]}`).join(', ')}`);
    const missing = task.classes.filter((_, c) => counts[c] === 0);
    if (missing.length) lines.push(`  classes with no example: ${missing.join(', ')} (a client may lack classes; the federation needs them somewhere)`);
  }
  return lines.join('\n');
}

interface ExportFlags {
  dataset: EmbeddedDatasetName;
  clients: number;
  partition: string;
  format: 'idx' | 'npy' | 'csv' | 'image-folder';
  out: string;
  seed: number;
}

/**
 * `fedkd data export`: an embedded data set written as a user's files would be, to try a real
 * deployment in minutes: one private folder per client (a partition of the private pool), the
 * unlabelled public proxy, the labelled evaluation set and the task file.
 */
export function dataCommand(): Command {
  const exporter = new Command('export').description(
    'Write an embedded data set as files: client-<i>/ (private partitions), proxy/ (unlabelled), eval/ (labelled) and task.yaml.',
  );
  envOption(exporter, '--dataset <name>', 'embedded:mnist | embedded:mnist-full', 'FEDKD_DATASET', embeddedDatasetArg('--dataset'), 'mnist');
  envOption(exporter, '--clients <k>', 'private partitions to write', 'FEDKD_CLIENTS', integerArg('--clients', 1, 1000), 3);
  envOption(exporter, '--partition <spec>', 'iid | dirichlet:ALPHA | shards:N', 'FEDKD_PARTITION', checkedArg('--partition', parsePartitionerSpec), 'dirichlet:0.5');
  envOption(exporter, '--format <format>', 'image-folder (PNG) | csv | npy | idx', 'FEDKD_DATA_FORMAT', choiceArg('--format', ['image-folder', 'csv', 'npy', 'idx'] as const), 'image-folder');
  envOption(exporter, '--out <dir>', 'directory to write into (created if missing)', 'FEDKD_OUT', undefined, './federation-data');
  envOption(exporter, '--seed <n>', 'seed of the split and the partition', 'FEDKD_SEED', integerArg('--seed'), 0);
  exporter.action((flags: ExportFlags) =>
    exitOnError('fedkd data export', async () => {
      const task = MNIST_TASK;
      const partition: PartitionerSpec = parsePartitionerSpec(flags.partition);
      mkdirSync(flags.out, { recursive: true });
      const taskFile = join(flags.out, 'task.yaml');
      writeFileSync(taskFile, `# The task of embedded:${flags.dataset}, as fedkd data export wrote it.\n${toYaml(task)}`);
      const fileTask = loadTaskFile(taskFile);
      const pool = loadEmbeddedPart(flags.dataset, 'private', flags.seed, task);
      const parts = createPartitioner(partition).partition(pool.labels, flags.clients, flags.seed).clients;
      const write = async (name: string, data: Dataset, labelled: boolean) => {
        const files = await writeDataset(flags.format, join(flags.out, name), { raw: toRawPixels(data.values), count: data.count, inputShape: data.inputShape, labels: labelled ? data.labels : null, task: fileTask });
        process.stderr.write(`  ${name}: ${data.count} ${labelled ? 'labelled' : 'unlabelled'} inputs in ${files.length} file${files.length === 1 ? '' : 's'}\n`);
      };
      process.stderr.write(`fedkd data export: embedded:${flags.dataset}, ${flags.clients} clients (${formatPartitionerSpec(partition)}), ${flags.format}, into ${flags.out}\n`);
      for (const [i, indices] of parts.entries()) await write(`client-${i}`, subset(pool, indices), true);
      await write('proxy', loadEmbeddedPart(flags.dataset, 'proxy', flags.seed, task), false);
      await write('eval', loadEmbeddedPart(flags.dataset, 'test', flags.seed, task), true);
      const spec = (name: string) => `${flags.format}:${join(flags.out, name)}`;
      process.stdout.write(
        [
          `${taskFile}`,
          `next: fedkd coordinator --task ${taskFile} --proxy-data ${spec('proxy')} --eval-data ${spec('eval')} --min-clients ${flags.clients} --rounds 3`,
          ...parts.map((_, i) => `      fedkd client --task ${taskFile} --data ${spec(`client-${i}`)} --name client-${i} ...`),
        ].join('\n') + '\n',
      );
    }),
  );
  return new Command('data').description('Data sets as files.').addCommand(exporter);
}

/** The embedded digits are pixel / 255: back to the integers 0..255 that image files hold. */
function toRawPixels(values: Float32Array): Uint8Array {
  return Uint8Array.from(values, (v) => Math.round(v * 255));
}
