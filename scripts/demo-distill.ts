/**
 * Distillation on the embedded MNIST split, in one process: a CNN teacher trained on the private
 * pool teaches an MLP student through its soft predictions on the public proxy inputs only (no
 * proxy labels), beside the same MLP trained directly on the labelled private pool.
 */
import { Command } from 'commander';
import { embeddedDatasetArg, exitOnError, integerArg, positiveArg } from '@fedkd/command-line';
import { initBackend, buildModel, CNN_SPEC, MLP_SPEC, type ModelSpec } from '@fedkd/engine';
import { loadEmbeddedPart, type EmbeddedDatasetName } from '@fedkd/data';
import { createLoss, evaluateAccuracy, softPredictions, trainStudent, type EpochProgress } from '@fedkd/distill';

interface DemoOptions {
  dataset: EmbeddedDatasetName;
  seed: number;
  temperature: number;
  teacherEpochs: number;
  studentEpochs: number;
  directEpochs: number;
  json: boolean;
}

async function main(options: DemoOptions): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const started = Date.now();
  const backend = await initBackend();
  const privatePool = loadEmbeddedPart(options.dataset, 'private', options.seed);
  const proxy = loadEmbeddedPart(options.dataset, 'proxy', options.seed);
  const test = loadEmbeddedPart(options.dataset, 'test', options.seed);
  const progress = (what: string) => (p: EpochProgress) =>
    log(`  ${what} epoch ${p.epoch}/${p.epochs} loss ${p.trainLoss.toFixed(4)} (${Math.round(p.samplesPerSecond)} samples/s)`);
  /** A model of `spec` trained with cross-entropy on the labelled private pool, and its test accuracy. */
  const trainOnPrivateLabels = async (what: string, spec: ModelSpec, seed: number, epochs: number) => {
    log(`${what}: ${spec.kind.toUpperCase()} on the ${privatePool.count} labelled private digits`);
    const model = buildModel(spec, seed);
    const loss = createLoss({ name: 'response', temperature: 1, alpha: 1 });
    await trainStudent(model, { inputs: privatePool, hardLabels: privatePool.labels }, { loss, epochs, seed: options.seed, onEpoch: progress(what) });
    const accuracy = evaluateAccuracy(model, test, test.labels);
    log(`  ${what} test accuracy ${accuracy.toFixed(4)}`);
    return { model, accuracy };
  };

  const { model: teacher, accuracy: teacherAccuracy } = await trainOnPrivateLabels('teacher', CNN_SPEC, options.seed, options.teacherEpochs);

  log(`student: MLP on the teacher's soft predictions (T=${options.temperature}) for ${proxy.count} unlabelled proxy digits`);
  const softLabels = softPredictions(teacher, proxy, options.temperature);
  const student = buildModel(MLP_SPEC, options.seed + 1);
  await trainStudent(
    student,
    { inputs: proxy, softLabels },
    {
      loss: createLoss({ name: 'response', temperature: options.temperature }),
      epochs: options.studentEpochs,
      seed: options.seed,
      onEpoch: progress('student'),
    },
  );
  const studentAccuracy = evaluateAccuracy(student, test, test.labels);
  log(`  student test accuracy ${studentAccuracy.toFixed(4)}`);

  const { model: direct, accuracy: directAccuracy } = await trainOnPrivateLabels('direct', MLP_SPEC, options.seed + 1, options.directEpochs);

  const result = {
    backend: backend.name,
    seed: options.seed,
    temperature: options.temperature,
    teacherAccuracy,
    studentAccuracy,
    directAccuracy,
    studentGapPoints: Number(((directAccuracy - studentAccuracy) * 100).toFixed(2)),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  [teacher, student, direct].forEach((m) => m.dispose());
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    process.stdout.write(
      [
        `backend ${result.backend}, seed ${result.seed}, ${result.seconds} s`,
        `teacher (CNN, private labels)        ${teacherAccuracy.toFixed(4)}`,
        `student (MLP, proxy soft labels)     ${studentAccuracy.toFixed(4)}`,
        `direct  (MLP, private labels)        ${directAccuracy.toFixed(4)}`,
        `student - direct                     ${(-result.studentGapPoints).toFixed(2)} points`,
        '',
      ].join('\n'),
    );
  }
}

const program = new Command('demo:distill')
  .description('Distil a CNN teacher into an MLP student through soft predictions on public proxy inputs.')
  .option('--dataset <name>', 'embedded:mnist | embedded:mnist-full', embeddedDatasetArg('--dataset'), 'mnist')
  .option('--seed <n>', 'seed of the split, the initial weights and the shuffles', integerArg('--seed'), 0)
  .option('--temperature <T>', 'distillation temperature', positiveArg('--temperature'), 8)
  .option('--teacher-epochs <n>', 'epochs of the CNN teacher on the private pool', integerArg('--teacher-epochs', 1), 20)
  .option('--student-epochs <n>', 'epochs of the MLP student on the proxy set', integerArg('--student-epochs', 1), 100)
  .option('--direct-epochs <n>', 'epochs of the directly trained MLP', integerArg('--direct-epochs', 1), 20)
  .option('--json', 'print one JSON object with teacherAccuracy, studentAccuracy and directAccuracy', false)
  .action((opts: DemoOptions) => exitOnError('demo:distill', () => main(opts)));

program.parse();
