/**
 * How well a student learns from a few hundred released labels plus the unlabelled public proxy:
 * on embedded:mnist-full, N random proxy digits (of 5,000) get labels (a fraction flipped to a
 * random other class, as a noisy PATE release would), and two students are trained: the
 * FixMatch-style semi-supervised one (trainSemiSupervisedStudent, using all 5,000 proxy digits) and a
 * supervised-only baseline (the same trainer and augmentation on the N labels alone). Both are
 * measured on the 5,000 test digits.
 * --biased labels the N digits a reference model (trained on 1,000 digits of the private pool) is
 * most confident about (taking its predicted classes in turn), as Confident-GNMax would, instead of
 * N random ones.
 */
import { Command, InvalidArgumentError } from 'commander';
import { initBackend, SeededRng } from '@fedkd/engine';
import { loadEmbeddedPart, subset, type Dataset } from '@fedkd/data';
import { evaluateAccuracy, softPredictions, trainSemiSupervisedStudent, SEMI_SUPERVISED_STUDENT_SPEC } from '@fedkd/distill';
import { exitOnError, integerArg, nonNegativeArg, positiveArg } from '@fedkd/command-line';

interface BenchOptions {
  labels: number[];
  labelNoise: number;
  seed: number;
  epochs: number;
  baselineEpochs: number;
  threshold: number;
  baseline: boolean;
  biased: boolean;
  json: boolean;
}

interface BenchRow {
  labels: number;
  wrongLabels: number;
  /** Released digits per true class (0-9). */
  labelledPerClass: number[];
  semiSupervisedAccuracy: number;
  semiSupervisedSeconds: number;
  finalPseudoLabelled: number;
  baselineAccuracy: number | null;
  baselineSeconds: number | null;
}

async function main(options: BenchOptions): Promise<void> {
  const backend = await initBackend();
  const proxy = loadEmbeddedPart('mnist-full', 'proxy', options.seed);
  const test = loadEmbeddedPart('mnist-full', 'test', options.seed);
  for (const n of options.labels) {
    if (n > proxy.count) throw new RangeError(`--labels: ${n} labels asked, but the proxy holds ${proxy.count} digits`);
  }
  const ranking = options.biased ? await confidenceRanking(proxy, options.seed) : null;
  const say = (line: string) => {
    if (!options.json) process.stderr.write(`${line}\n`);
  };
  const rows: BenchRow[] = [];
  for (const n of options.labels) {
    const rng = new SeededRng(options.seed).fork(`release-${n}`);
    const indices = ranking ? ranking.slice(0, n) : rng.permutation(proxy.count).slice(0, n);
    const labels = indices.map((i) => proxy.labels[i]);
    const noisy = rng.permutation(n).slice(0, Math.round(n * options.labelNoise));
    for (const k of noisy) labels[k] = (labels[k] + 1 + rng.int(proxy.classes - 1)) % proxy.classes;

    let started = Date.now();
    let finalPseudoLabelled = 0;
    const student = await trainSemiSupervisedStudent({
      inputs: proxy,
      labelled: { indices, labels },
      epochs: options.epochs,
      seed: options.seed,
      threshold: options.threshold,
      onProgress: (p) => {
        finalPseudoLabelled = p.pseudoLabelled / Math.max(1, p.unlabelledSeen);
        say(`  N=${n} epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} pseudo-labelled ${(100 * finalPseudoLabelled).toFixed(1)} %`);
      },
    });
    const semiSupervisedSeconds = (Date.now() - started) / 1000;
    const semiSupervisedAccuracy = evaluateAccuracy(student, test, test.labels);
    student.dispose();

    let baselineAccuracy: number | null = null;
    let baselineSeconds: number | null = null;
    if (options.baseline) {
      started = Date.now();
      const baseline = await trainSemiSupervisedStudent({
        inputs: proxy,
        labelled: { indices, labels },
        epochs: options.baselineEpochs,
        seed: options.seed,
        unlabelledWeight: 0,
      });
      baselineSeconds = (Date.now() - started) / 1000;
      baselineAccuracy = evaluateAccuracy(baseline, test, test.labels);
      baseline.dispose();
    }
    const labelledPerClass = new Array<number>(proxy.classes).fill(0);
    for (const i of indices) labelledPerClass[proxy.labels[i]]++;
    const row = { labels: n, wrongLabels: noisy.length, labelledPerClass, semiSupervisedAccuracy, semiSupervisedSeconds, finalPseudoLabelled, baselineAccuracy, baselineSeconds };
    rows.push(row);
    say(`N=${n}: released digits per class ${labelledPerClass.join(' ')}`);
    say(`N=${n}: semi-supervised ${semiSupervisedAccuracy.toFixed(4)} (${semiSupervisedSeconds.toFixed(0)} s), baseline ${baselineAccuracy?.toFixed(4) ?? '-'}`);
  }

  const settings = {
    dataset: 'embedded:mnist-full',
    seed: options.seed,
    labelNoise: options.labelNoise,
    selection: options.biased ? 'most confident of a reference model' : 'random',
    epochs: options.epochs,
    baselineEpochs: options.baselineEpochs,
    threshold: options.threshold,
    spec: SEMI_SUPERVISED_STUDENT_SPEC,
    backend: backend.name,
  };
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ settings, rows })}\n`);
    return;
  }
  process.stdout.write(
    [
      `embedded:mnist-full, seed ${options.seed}, ${settings.selection} labels, label noise ${options.labelNoise}, ${options.epochs} epochs, threshold ${options.threshold}, backend ${backend.name}`,
      '  labels | wrong | semi-supervised | pseudo-labelled | seconds | supervised only',
      ...rows.map((r) =>
        [
          String(r.labels).padStart(8),
          String(r.wrongLabels).padStart(5),
          r.semiSupervisedAccuracy.toFixed(4).padStart(15),
          `${(100 * r.finalPseudoLabelled).toFixed(1)} %`.padStart(15),
          r.semiSupervisedSeconds.toFixed(0).padStart(7),
          (r.baselineAccuracy?.toFixed(4) ?? '-').padStart(15),
        ].join(' | '),
      ),
      '',
    ].join('\n'),
  );
}

/**
 * Proxy rows from most to least confident prediction of a reference model trained on 1,000 digits
 * of the private pool (labels only, no proxy data): the kind of digits a confident release answers.
 */
async function confidenceRanking(proxy: Dataset, seed: number): Promise<number[]> {
  const pool = loadEmbeddedPart('mnist-full', 'private', seed);
  const rows = new SeededRng(seed).fork('reference').permutation(pool.count).slice(0, 1000);
  const reference = subset(pool, rows);
  const model = await trainSemiSupervisedStudent({
    inputs: reference,
    labelled: { indices: rows.map((_, i) => i), labels: reference.labels },
    epochs: 10,
    seed,
    unlabelledWeight: 0,
  });
  const probabilities = softPredictions(model, proxy, 1);
  model.dispose();
  const rowOf = (i: number) => Array.from(probabilities.subarray(i * proxy.classes, (i + 1) * proxy.classes));
  const confidence = Array.from({ length: proxy.count }, (_, i) => Math.max(...rowOf(i)));
  const predicted = Array.from({ length: proxy.count }, (_, i) => rowOf(i).indexOf(confidence[i]));
  // Most confident first within each predicted class, the classes taken in turn: a plain top-N
  // takes almost all its digits from a few classes (seed 0: no 1, 8 or 9 among the top 300), which
  // a threshold-based release over many queries does not.
  const byClass = Array.from({ length: proxy.classes }, (_, k) =>
    predicted.flatMap((c, i) => (c === k ? [i] : [])).sort((a, b) => confidence[b] - confidence[a] || a - b),
  );
  const ranking: number[] = [];
  for (let depth = 0; ranking.length < proxy.count; depth++) {
    for (const rows of byClass) if (depth < rows.length) ranking.push(rows[depth]);
  }
  return ranking;
}

function labelCounts(value: string): number[] {
  const counts = value.split(',').map((s) => Number(s.trim()));
  if (counts.length === 0 || counts.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new InvalidArgumentError(`--labels must be a comma-separated list of integers >= 1, got '${value}'`);
  }
  return counts;
}

function fraction(flag: string) {
  const parse = nonNegativeArg(flag);
  return (value: string): number => {
    const f = parse(value);
    if (f >= 1) throw new InvalidArgumentError(`${flag} must be in [0, 1), got '${value}'`);
    return f;
  };
}

new Command('semi-supervised-bench')
  .description('Test accuracy of the semi-supervised student (and a supervised-only baseline) from N released labels plus the unlabelled proxy of embedded:mnist-full.')
  .option('--labels <list>', 'comma-separated numbers of released labels', labelCounts, [100, 300, 600, 1000])
  .option('--label-noise <f>', 'fraction of released labels flipped to a random other class', fraction('--label-noise'), 0.015)
  .option('--seed <n>', 'seed of the split, the release, the noise and the models', integerArg('--seed'), 0)
  .option('--epochs <n>', 'passes of the semi-supervised student over the 5,000 proxy digits', integerArg('--epochs', 1), 30)
  .option('--baseline-epochs <n>', 'passes of the supervised-only baseline over its N labels', integerArg('--baseline-epochs', 1), 100)
  .option('--threshold <p>', 'confidence a pseudo-label needs', positiveArg('--threshold', 1), 0.95)
  .option('--no-baseline', 'skip the supervised-only baseline')
  .option('--biased', 'label the N proxy digits a reference model is most confident about (its predicted classes in turn), not N random ones', false)
  .option('--json', 'print one JSON object', false)
  .action((opts: BenchOptions) => exitOnError('semi-supervised-bench', () => main(opts)))
  .parse();
