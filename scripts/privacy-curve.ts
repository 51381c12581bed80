/**
 * Accuracy against privacy on the embedded data, PATE style: 100 teachers on disjoint shards of the
 * private pool vote on the public proxy inputs; GNMax (or Confident-GNMax) releases noisy labels
 * whose cost an RDP accountant bounds; an MLP student learns from the released labels only. At
 * small budgets fewer queries are asked (each then gets less noise).
 * The privacy unit is one private training example (it influences exactly one teacher).
 */
import { Command } from 'commander';
import { buildModel, initBackend, MLP_SPEC, SeededRng } from '@fedkd/engine';
import { loadEmbeddedPart, subset, type EmbeddedDatasetName } from '@fedkd/data';
import { createLoss, ensembleVotes, evaluateAccuracy, softPredictions, trainStudent, trainTeacherEnsemble } from '@fedkd/distill';
import {
  DEFAULT_ORDERS,
  epsilonFromRdpBalle2020,
  epsilonFromRdpClassic,
  gnmax,
  rdpConfidentThreshold,
  rdpGnmaxDataIndependent,
  releaseCentrally,
} from '@fedkd/privacy';
import { embeddedDatasetArg, exitOnError, integerArg, positiveArg } from '@fedkd/command-line';

interface CurveOptions {
  dataset: EmbeddedDatasetName;
  seed: number;
  teachers: number;
  teacherEpochs: number;
  studentEpochs: number;
  delta: number;
  mechanism: 'gnmax' | 'confident-gnmax';
  semiSupervised: boolean;
  sigmaCap: number;
  json: boolean;
}

interface CurvePoint {
  targetEpsilon: number | null;
  mechanism: string;
  sigma: number | null;
  queriesAsked: number;
  queriesAnswered: number;
  labelAccuracy: number;
  studentAccuracy: number;
  epsilonClassic: number | null;
  epsilonBalle2020: number | null;
  accounting: 'data-independent';
}

const TARGETS = [1, 2, 4, 8, Infinity];

/** Total RDP of one release: every query pays GNMax (or the threshold check, and answered ones GNMax too). */
function releaseRdp(mechanism: CurveOptions['mechanism'], sigma: number, asked: number, answered: number): number[] {
  const answer = rdpGnmaxDataIndependent(sigma, DEFAULT_ORDERS);
  if (mechanism === 'gnmax') return answer.map((r) => r * asked);
  const check = rdpConfidentThreshold(thresholdSigma(sigma), DEFAULT_ORDERS);
  return answer.map((r, i) => r * answered + check[i] * asked);
}

/** Confident-GNMax: the threshold check uses more noise than the answer (Papernot et al. 2018 use sigma1 ~ 1.5 sigma2). */
const thresholdSigma = (sigma: number) => 1.5 * sigma;

/** Smallest sigma (to 0.5%) whose release of `asked` queries stays within epsilon; worst case: all answered. */
function sigmaFor(mechanism: CurveOptions['mechanism'], epsilon: number, asked: number, delta: number): number {
  let low = 0.1;
  let high = 10_000;
  while (high / low > 1.005) {
    const mid = Math.sqrt(low * high);
    const spent = epsilonFromRdpClassic(DEFAULT_ORDERS, releaseRdp(mechanism, mid, asked, asked), delta).epsilon;
    if (spent <= epsilon) high = mid;
    else low = mid;
  }
  return high;
}

/**
 * How many proxy inputs to ask at a budget: the most (from a fixed ladder) whose noise stays below
 * --sigma-cap x the number of teachers, so a clear plurality usually survives it. The rule looks only at
 * epsilon and the teacher count, never at data, so choosing it costs no privacy.
 */
function queriesFor(options: CurveOptions, epsilon: number): number {
  const ladder = [2000, 1500, 1000, 750, 500, 300, 200, 100];
  return ladder.find((q) => sigmaFor(options.mechanism, epsilon, q, options.delta) <= options.sigmaCap * options.teachers) ?? ladder[ladder.length - 1];
}

async function main(options: CurveOptions): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const backend = await initBackend();
  const pool = loadEmbeddedPart(options.dataset, 'private', options.seed);
  const proxy = loadEmbeddedPart(options.dataset, 'proxy', options.seed);
  const test = loadEmbeddedPart(options.dataset, 'test', options.seed);
  log(`teachers: ${options.teachers} MLPs on disjoint shards of the ${pool.count} private digits`);
  const teachers = await trainTeacherEnsemble({
    spec: MLP_SPEC,
    data: pool,
    teachers: options.teachers,
    epochs: options.teacherEpochs,
    seed: options.seed,
    onTeacher: (t, n) => t % 20 === 0 && log(`  ${t}/${n} teachers trained`),
  });
  const votes = ensembleVotes(teachers, proxy, 10);
  teachers.forEach((t) => t.dispose());

  const points: CurvePoint[] = [];
  for (const target of TARGETS) {
    const rng = new SeededRng(options.seed).fork(`noise-${target}`);
    const asked = target === Infinity ? proxy.count : queriesFor(options, target);
    let sigma: number | null = null;
    let labels: Int32Array;
    if (target === Infinity) {
      labels = gnmax(votes, 10, 1e-9, rng).labels;
    } else {
      sigma = sigmaFor(options.mechanism, target, asked, options.delta);
      // One party holds every vote here: the central release (Confident-GNMax as Algorithm 1 of Papernot et al. 2018).
      const spec = options.mechanism === 'gnmax' ? { mechanism: 'gnmax' as const, sigma } : { mechanism: 'confident-gnmax' as const, threshold: 0.6 * options.teachers, sigma1: thresholdSigma(sigma), sigma2: sigma };
      labels = releaseCentrally(spec, votes, 10, rng);
    }
    // Queries beyond `asked` are never sent to the teachers.
    const answered = Array.from(labels.keys()).filter((i) => i < asked && labels[i] >= 0);
    const rdp = sigma === null ? null : releaseRdp(options.mechanism, sigma, asked, answered.length);
    const point: CurvePoint = {
      targetEpsilon: target === Infinity ? null : target,
      mechanism: target === Infinity ? 'noise-free plurality' : options.mechanism,
      sigma,
      queriesAsked: asked,
      queriesAnswered: answered.length,
      // Measured with the proxy's true labels for this report only; the pipeline never reads them.
      labelAccuracy: answered.filter((i) => labels[i] === proxy.labels[i]).length / Math.max(1, answered.length),
      studentAccuracy: await studentAccuracyFrom(proxy, answered, answered.map((i) => labels[i]), test, options),
      epsilonClassic: rdp ? epsilonFromRdpClassic(DEFAULT_ORDERS, rdp, options.delta).epsilon : null,
      epsilonBalle2020: rdp ? epsilonFromRdpBalle2020(DEFAULT_ORDERS, rdp, options.delta).epsilon : null,
      accounting: 'data-independent',
    };
    points.push(point);
    log(
      `epsilon ${target === Infinity ? 'inf' : target}: sigma ${sigma?.toFixed(1) ?? '-'}, answered ${point.queriesAnswered}/${asked}, ` +
        `label accuracy ${point.labelAccuracy.toFixed(4)}, student ${point.studentAccuracy.toFixed(4)}`,
    );
  }

  const noiseFree = points.find((p) => p.targetEpsilon === null)!.studentAccuracy;
  const result = { backend: backend.name, seed: options.seed, delta: options.delta, teachers: options.teachers, mechanism: options.mechanism, points, noiseFreeAccuracy: noiseFree };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const rows = points.map((p) =>
    [
      (p.targetEpsilon ?? 'inf').toString().padStart(7),
      (p.sigma?.toFixed(1) ?? '-').padStart(7),
      `${p.queriesAnswered}/${p.queriesAsked}`.padStart(10),
      p.labelAccuracy.toFixed(4).padStart(10),
      p.studentAccuracy.toFixed(4).padStart(9),
      `${((p.studentAccuracy / noiseFree) * 100).toFixed(1)} %`.padStart(10),
      (p.epsilonClassic?.toFixed(2) ?? '-').padStart(9),
      (p.epsilonBalle2020?.toFixed(2) ?? '-').padStart(9),
    ].join(' | '),
  );
  process.stdout.write(
    [
      `${options.teachers} teachers, ${options.mechanism}, delta ${options.delta}, data-independent accounting, backend ${backend.name}`,
      'epsilon |   sigma |   answered | label acc | student | of noise-free | eps (RDP) | eps (Balle)',
      ...rows,
      '',
    ].join('\n'),
  );
}

/**
 * The student: first on the released labels alone; then (semi-supervised, at no privacy cost) on
 * every public proxy input, with its own soft predictions where no label was released.
 */
async function studentAccuracyFrom(
  proxy: ReturnType<typeof subset>,
  answered: number[],
  labels: number[],
  test: ReturnType<typeof subset>,
  options: CurveOptions,
): Promise<number> {
  if (answered.length === 0) return 0.1;
  const hard = createLoss({ name: 'response', temperature: 1, alpha: 1 });
  const first = buildModel(MLP_SPEC, options.seed + 1);
  await trainStudent(first, { inputs: subset(proxy, answered), hardLabels: labels }, { loss: hard, epochs: options.studentEpochs, seed: options.seed, batchSize: 64 });
  let student = first;
  if (options.semiSupervised && answered.length < proxy.count) {
    const soft = softPredictions(first, proxy, 1);
    answered.forEach((row, k) => soft.fill(0, row * 10, (row + 1) * 10).set([1], row * 10 + labels[k]));
    const second = buildModel(MLP_SPEC, options.seed + 2);
    const distil = createLoss({ name: 'response', temperature: 1 });
    await trainStudent(second, { inputs: proxy, softLabels: soft }, { loss: distil, epochs: options.studentEpochs, seed: options.seed, batchSize: 64 });
    distil.dispose();
    first.dispose();
    student = second;
  }
  const accuracy = evaluateAccuracy(student, test, test.labels);
  student.dispose();
  hard.dispose();
  return accuracy;
}

new Command('privacy-curve')
  .description('Student test accuracy against epsilon (1, 2, 4, 8, infinity) for PATE-style noisy teacher votes on the embedded data.')
  .option('--dataset <name>', 'embedded:mnist | embedded:mnist-full', embeddedDatasetArg('--dataset'), 'mnist')
  .option('--seed <n>', 'seed of the split, the shards, the noise and the models', integerArg('--seed'), 0)
  .option('--teachers <n>', 'teachers (disjoint shards of the private pool)', integerArg('--teachers', 1, 6000), 100)
  .option('--teacher-epochs <n>', 'epochs of each teacher on its shard', integerArg('--teacher-epochs', 1), 40)
  .option('--student-epochs <n>', 'epochs of the student on the released labels', integerArg('--student-epochs', 1), 40)
  .option('--delta <d>', 'delta of the (epsilon, delta) guarantee', positiveArg('--delta', 0.1), 1e-5)
  .option('--mechanism <m>', 'gnmax | confident-gnmax', 'gnmax')
  .option('--no-semi-supervised', 'train the student on the released labels only (no self-training on the other proxy inputs)')
  .option('--sigma-cap <f>', 'ask as many queries as keep the noise below this fraction of the teachers', positiveArg('--sigma-cap', 10), 0.25)
  .option('--json', 'print one JSON object', false)
  .action((opts: CurveOptions) => exitOnError('privacy-curve', () => main(opts)))
  .parse();
