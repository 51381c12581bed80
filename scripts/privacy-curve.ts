/**
 * Accuracy against privacy on the embedded data, PATE style: teachers on disjoint shards of the
 * private pool vote on the public proxy inputs; GNMax or Confident-GNMax releases noisy labels for
 * the queries the student asks; the student learns from the released labels and the unlabelled
 * proxy inputs. The privacy unit is one private training example (it influences exactly one teacher).
 *
 * Two accountings, both always reported:
 *  - data-independent: the noise is chosen so that the bound holds whatever the votes;
 *  - sanitised data-dependent (Papernot et al. 2018): PATE's noise (threshold 0.8, sigma1 0.6 and
 *    sigma2 0.16 times the number of teachers: 200, 150 and 40 for 250 teachers), a fixed number of
 *    queries per target, and the bound computed on the votes and released through smooth-sensitivity
 *    sanitisation (the released epsilon includes the sanitisation's cost).
 */
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { buildModel, initBackend, zooModelSpec, SeededRng, type ZooModelName } from '@fedkd/engine';
import { loadEmbeddedPart, subset, type Dataset, type EmbeddedDatasetName } from '@fedkd/data';
import { createLoss, evaluateAccuracy, softPredictions, trainSemiSupervisedStudent, trainStudent } from '@fedkd/distill';
import {
  analyseRelease,
  DEFAULT_ORDERS,
  epsilonFromRdpBalle2020,
  epsilonFromRdpClassic,
  gnmax,
  rdpConfidentThreshold,
  rdpGnmaxDataIndependent,
  privacyMechanism,
  type VotingMechanismSpec,
} from '@fedkd/privacy';
import { choiceArg, embeddedDatasetArg, exitOnError, integerArg, positiveArg } from '@fedkd/command-line';
import type { TeacherJob, TeacherJobResult } from './privacy-curve-teachers';

type Mechanism = 'gnmax' | 'confident-gnmax';
type Accounting = 'sanitised' | 'data-independent';

interface CurveOptions {
  dataset: EmbeddedDatasetName;
  seed: number;
  teachers: number;
  teacher: ZooModelName;
  teacherEpochs: number;
  teacherTraining: 'augmented' | 'plain';
  student: 'semi-supervised' | 'self-training';
  studentEpochs?: number;
  delta: number;
  mechanism: Mechanism;
  accounting: Accounting;
  epsilons: number[];
  queries?: number[];
  sigmaCap: number;
  workers: number;
  saveVotes?: string;
  loadVotes?: string;
  ssOrder?: number;
  ssBeta?: number;
  ssSigma?: number;
  json: boolean;
}

interface CurvePoint {
  targetEpsilon: number | null;
  mechanism: string;
  /** gnmax: sigma; confident-gnmax: sigma2 (the answer's noise). */
  sigma: number | null;
  threshold: number | null;
  sigma1: number | null;
  queriesAsked: number;
  queriesAnswered: number;
  labelAccuracy: number;
  studentAccuracy: number;
  /** Always publishable: holds whatever the votes. */
  epsilonDataIndependent: number | null;
  epsilonDataIndependentBalle2020: number | null;
  /**
   * Publishable: the data-dependent bound released through smooth-sensitivity sanitisation (its
   * cost included); a random draw, with its mean beside it.
   */
  sanitised: {
    epsilon: number;
    expectedEpsilon: number;
    order: number;
    beta: number;
    sigma: number;
    smoothSensitivity: number;
    sanitisationEpsilonCost: number;
    method: 'smooth-sensitivity' | 'data-independent';
    reason?: string;
    /** True when the GNSS parameters were tuned on the votes (as PATE 2018's reference does). */
    parametersFromPrivateData: boolean;
  } | null;
  /** NOT publishable (a function of the private votes); for comparison with the sanitised bound only. */
  dataDependentUnsanitisedNotPublishable: number | null;
  accounting: Accounting | 'none';
}

/** A release's data-independent RDP: every query pays the threshold check (confident-gnmax), answered ones GNMax. */
function dataIndependentRdp(spec: VotingMechanismSpec, asked: number, answered: number): number[] {
  if (spec.mechanism === 'gnmax') return rdpGnmaxDataIndependent(spec.sigma, DEFAULT_ORDERS).map((r) => r * asked);
  const answer = rdpGnmaxDataIndependent(spec.sigma2, DEFAULT_ORDERS);
  const check = rdpConfidentThreshold(spec.sigma1, DEFAULT_ORDERS);
  return answer.map((r, i) => r * answered + check[i] * asked);
}

/** Data-independent accounting: the threshold check uses more noise than the answer (Papernot et al. 2018 use sigma1 ~ 1.5 sigma2). */
function dataIndependentSpec(mechanism: Mechanism, sigma: number, teachers: number): VotingMechanismSpec {
  return mechanism === 'gnmax' ? { mechanism, sigma } : { mechanism, threshold: 0.6 * teachers, sigma1: 1.5 * sigma, sigma2: sigma };
}

/** Smallest sigma (to 0.5%) whose release of `asked` queries stays within epsilon whatever the votes; worst case: all answered. */
function sigmaFor(mechanism: Mechanism, epsilon: number, asked: number, delta: number, teachers: number): number {
  let low = 0.1;
  let high = 10_000;
  while (high / low > 1.005) {
    const mid = Math.sqrt(low * high);
    const spent = epsilonFromRdpClassic(DEFAULT_ORDERS, dataIndependentRdp(dataIndependentSpec(mechanism, mid, teachers), asked, asked), delta).epsilon;
    if (spent <= epsilon) high = mid;
    else low = mid;
  }
  return high;
}

/**
 * Data-independent accounting: how many proxy inputs to ask at a budget: the most (from a fixed
 * ladder) whose noise stays below --sigma-cap x the number of teachers, so a clear plurality usually
 * survives it. The rule looks only at epsilon and the teacher count, never at data.
 */
function dataIndependentQueries(options: CurveOptions, epsilon: number, available: number): number {
  const ladder = [2000, 1500, 1000, 750, 500, 300, 200, 100, 50].filter((q) => q <= available);
  return ladder.find((q) => sigmaFor(options.mechanism, epsilon, q, options.delta, options.teachers) <= options.sigmaCap * options.teachers) ?? ladder[ladder.length - 1];
}

/** PATE 2018's MNIST noise (threshold 200, sigma1 150, sigma2 40 for 250 teachers), scaled to the number of teachers. */
function pateSpec(mechanism: Mechanism, teachers: number): VotingMechanismSpec {
  const sigma2 = 0.16 * teachers;
  return mechanism === 'gnmax' ? { mechanism, sigma: sigma2 } : { mechanism, threshold: 0.8 * teachers, sigma1: 0.6 * teachers, sigma2 };
}

/**
 * Sanitised accounting: the queries asked at each target epsilon, fixed before any vote is seen
 * (the data-dependent bound may not choose them: that choice would itself leak). PATE 2018 asked
 * 640 MNIST queries for its epsilon-2 row.
 */
const DEFAULT_SANITISED_QUERIES: Record<string, number> = { '0.5': 100, '1': 250, '2': 640, '4': 1500, '8': 3000 };

async function teacherVotes(options: CurveOptions, proxyCount: number, log: (line: string) => void): Promise<{ votes: Float64Array; accuracies: number[] }> {
  if (options.loadVotes) return readVotes(options, proxyCount);
  const workers = Math.max(1, Math.min(options.workers, options.teachers));
  log(`teachers: ${options.teachers} ${options.teacher.toUpperCase()}s, ${options.teacherEpochs} epochs each (${options.teacherTraining}) on disjoint shards of the private pool, in ${workers} worker process(es)`);
  const script = join(__dirname, 'privacy-curve-teachers.js');
  let done = 0;
  let reported = 0;
  const started = Date.now();
  const results = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const job: TeacherJob = {
        dataset: options.dataset,
        seed: options.seed,
        teachers: options.teachers,
        teacher: options.teacher,
        teacherEpochs: options.teacherEpochs,
        augmented: options.teacherTraining === 'augmented',
        first: Math.floor((w * options.teachers) / workers),
        end: Math.floor(((w + 1) * options.teachers) / workers),
        scoreOn: 1000,
      };
      return new Promise<TeacherJobResult>((resolve, reject) => {
        const child = fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        child.on('message', (message: { kind: string; result?: TeacherJobResult; message?: string }) => {
          if (message.kind === 'progress') {
            done += 1;
            if (done - reported >= Math.max(1, Math.round(options.teachers / 10)) || done === options.teachers) {
              reported = done;
              log(`  ${done}/${options.teachers} teachers trained (${((Date.now() - started) / 60_000).toFixed(1)} min)`);
            }
          } else if (message.kind === 'done') resolve(message.result!);
          else reject(new Error(`teacher worker ${w}: ${message.message}`));
        });
        child.on('exit', (code) => code !== 0 && reject(new Error(`teacher worker ${w} exited with code ${code}`)));
        child.send(job);
      });
    }),
  );
  const votes = new Float64Array(proxyCount * 10);
  for (const r of results) for (let i = 0; i < votes.length; i++) votes[i] += r.votes[i];
  const accuracies = results.flatMap((r) => r.accuracies);
  if (options.saveVotes) writeVotes(options, votes, accuracies);
  return { votes, accuracies };
}

const VOTES_FORMAT = 'fedkd-teacher-votes/1';
const votesIdentity = (o: CurveOptions) => ({ dataset: o.dataset, seed: o.seed, teachers: o.teachers, teacher: o.teacher, teacherEpochs: o.teacherEpochs, teacherTraining: o.teacherTraining });

function writeVotes(options: CurveOptions, votes: Float64Array, accuracies: number[]): void {
  writeFileSync(options.saveVotes!, JSON.stringify({ format: VOTES_FORMAT, ...votesIdentity(options), accuracies, votes: Array.from(votes) }));
}

/** Votes saved by --save-votes, refused unless they come from the same data, seed and teachers as asked for now. */
function readVotes(options: CurveOptions, proxyCount: number): { votes: Float64Array; accuracies: number[] } {
  const file = options.loadVotes!;
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`--load-votes ${file}: cannot read it as JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (saved.format !== VOTES_FORMAT) throw new Error(`--load-votes ${file}: not a votes file of privacy-curve (format ${String(saved.format)}, expected ${VOTES_FORMAT})`);
  for (const [key, value] of Object.entries(votesIdentity(options))) {
    if (saved[key] !== value) throw new Error(`--load-votes ${file}: saved with ${key} ${String(saved[key])}, but this run asks for ${String(value)}`);
  }
  const votes = saved.votes;
  if (!Array.isArray(votes) || votes.length !== proxyCount * 10 || !votes.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new Error(`--load-votes ${file}: expected ${proxyCount * 10} non-negative integer vote counts`);
  }
  return { votes: Float64Array.from(votes as number[]), accuracies: (saved.accuracies as number[]) ?? [] };
}

async function main(options: CurveOptions): Promise<void> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const backend = await initBackend();
  const proxy = loadEmbeddedPart(options.dataset, 'proxy', options.seed);
  const test = loadEmbeddedPart(options.dataset, 'test', options.seed);
  if (options.queries && options.queries.length !== options.epsilons.length) {
    throw new Error(`--queries gives ${options.queries.length} counts for ${options.epsilons.length} --epsilons: give one per epsilon`);
  }
  const { votes, accuracies } = await teacherVotes(options, proxy.count, log);
  const meanTeacherAccuracy = accuracies.reduce((a, b) => a + b, 0) / Math.max(1, accuracies.length);
  const plurality = gnmax(votes, 10, 1e-9, new SeededRng(options.seed).fork('plurality')).labels;
  const pluralityAccuracy = Array.from(plurality).filter((label, i) => label === proxy.labels[i]).length / proxy.count;
  log(`mean teacher accuracy ${meanTeacherAccuracy.toFixed(4)} (on 1,000 test digits), noise-free plurality ${pluralityAccuracy.toFixed(4)} on the proxy`);

  const points: CurvePoint[] = [];
  for (const [k, target] of [...options.epsilons, Infinity].entries()) {
    const rng = new SeededRng(options.seed).fork(`noise-${target}`);
    let spec: VotingMechanismSpec | null = null;
    let asked = proxy.count;
    if (target !== Infinity) {
      if (options.accounting === 'data-independent') {
        asked = dataIndependentQueries(options, target, proxy.count);
        spec = dataIndependentSpec(options.mechanism, sigmaFor(options.mechanism, target, asked, options.delta, options.teachers), options.teachers);
      } else {
        asked = Math.min(proxy.count, options.queries?.[k] ?? DEFAULT_SANITISED_QUERIES[String(target)] ?? 1000);
        spec = pateSpec(options.mechanism, options.teachers);
      }
    }
    // Queries beyond `asked` are never sent to the teachers. One party holds every vote here: the
    // central release (Confident-GNMax as Algorithm 1 of Papernot et al. 2018).
    const askedVotes = votes.subarray(0, asked * 10);
    const labels = spec === null ? plurality.slice(0, asked) : privacyMechanism(spec).releaseCentrally(askedVotes, 10, rng);
    const answered = Array.from(labels.keys()).filter((i) => labels[i] >= 0);
    const rdp = spec === null ? null : dataIndependentRdp(spec, asked, answered.length);
    const analysis =
      spec === null
        ? null
        : analyseRelease({
            votes: askedVotes,
            classes: 10,
            mechanism: spec,
            ...(spec.mechanism === 'confident-gnmax' ? { answered: Uint8Array.from(labels, (l) => (l >= 0 ? 1 : 0)) } : {}),
            delta: options.delta,
            teachers: options.teachers,
            sanitisation: { order: options.ssOrder, beta: options.ssBeta, sigma: options.ssSigma },
            rng: new SeededRng(options.seed).fork(`sanitise-${target}`),
          });
    const point: CurvePoint = {
      targetEpsilon: target === Infinity ? null : target,
      mechanism: spec === null ? 'noise-free plurality' : options.mechanism,
      sigma: spec === null ? null : spec.mechanism === 'gnmax' ? spec.sigma : spec.sigma2,
      threshold: spec?.mechanism === 'confident-gnmax' ? spec.threshold : null,
      sigma1: spec?.mechanism === 'confident-gnmax' ? spec.sigma1 : null,
      queriesAsked: asked,
      queriesAnswered: answered.length,
      // Measured with the proxy's true labels for this report only; the pipeline never reads them.
      labelAccuracy: answered.filter((i) => labels[i] === proxy.labels[i]).length / Math.max(1, answered.length),
      studentAccuracy: await studentAccuracyFrom(proxy, answered, answered.map((i) => labels[i]), test, options),
      epsilonDataIndependent: rdp ? epsilonFromRdpClassic(DEFAULT_ORDERS, rdp, options.delta).epsilon : null,
      epsilonDataIndependentBalle2020: rdp ? epsilonFromRdpBalle2020(DEFAULT_ORDERS, rdp, options.delta).epsilon : null,
      sanitised: analysis && {
        epsilon: analysis.sanitised.epsilon,
        expectedEpsilon: analysis.sanitised.expectedEpsilon,
        order: analysis.sanitised.order,
        beta: analysis.sanitised.beta,
        sigma: analysis.sanitised.sigma,
        smoothSensitivity: analysis.sanitised.smoothSensitivity,
        sanitisationEpsilonCost: analysis.sanitised.sanitisationEpsilonCost,
        method: analysis.sanitised.method,
        ...(analysis.sanitised.reason ? { reason: analysis.sanitised.reason } : {}),
        parametersFromPrivateData: analysis.sanitised.parametersFromPrivateData,
      },
      dataDependentUnsanitisedNotPublishable: analysis?.dataDependentUnsanitised.epsilon ?? null,
      accounting: spec === null ? 'none' : options.accounting,
    };
    points.push(point);
    log(
      `epsilon ${target === Infinity ? 'inf' : target}: answered ${point.queriesAnswered}/${asked}, label accuracy ${point.labelAccuracy.toFixed(4)}, ` +
        `student ${point.studentAccuracy.toFixed(4)}, epsilon: sanitised ${point.sanitised?.epsilon.toFixed(2) ?? '-'}, data-independent ${point.epsilonDataIndependent?.toFixed(2) ?? '-'}`,
    );
  }

  const noiseFree = points.find((p) => p.targetEpsilon === null)!.studentAccuracy;
  const result = {
    backend: backend.name,
    dataset: options.dataset,
    seed: options.seed,
    delta: options.delta,
    teachers: options.teachers,
    teacher: options.teacher,
    meanTeacherAccuracy,
    pluralityAccuracy,
    mechanism: options.mechanism,
    accounting: options.accounting,
    points,
    noiseFreeAccuracy: noiseFree,
  };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const rows = points.map((p) =>
    [
      (p.targetEpsilon ?? 'inf').toString().padStart(6),
      `${p.queriesAnswered}/${p.queriesAsked}`.padStart(10),
      p.labelAccuracy.toFixed(4).padStart(9),
      p.studentAccuracy.toFixed(4).padStart(7),
      `${((p.studentAccuracy / noiseFree) * 100).toFixed(1)} %`.padStart(13),
      (p.sanitised ? `${p.sanitised.epsilon.toFixed(2)}${p.sanitised.parametersFromPrivateData ? '*' : ''}` : '-').padStart(9),
      (p.epsilonDataIndependent?.toFixed(2) ?? '-').padStart(16),
    ].join(' | '),
  );
  process.stdout.write(
    [
      `${options.dataset}, ${options.teachers} ${options.teacher} teachers (mean accuracy ${meanTeacherAccuracy.toFixed(4)}), ${options.mechanism}, ` +
        `${options.accounting} accounting, delta ${options.delta}, seed ${options.seed}, backend ${backend.name}`,
      'target |   answered | label acc | student | of noise-free | sanitised | eps (data-indep)',
      ...rows,
      ...(points.some((p) => p.sanitised?.parametersFromPrivateData)
        ? ['* smooth-sensitivity parameters (order, beta, sigma) tuned on the votes, as PATE 2018\'s reference does; fix them with --ss-order, --ss-beta, --ss-sigma for a strictly publishable value']
        : []),
      '',
    ].join('\n'),
  );
}

/**
 * The student learns from the released labels and, at no privacy cost, from every public proxy
 * input: `semi-supervised` (default), a CNN trained FixMatch-style (consistency of confident
 * predictions under shifts, rotations, cutout and noise: libs/distill's trainSemiSupervisedStudent);
 * `self-training`, an MLP on the labels, then a second one on all proxy inputs with the first one's
 * soft predictions where no label was released.
 */
async function studentAccuracyFrom(proxy: Dataset, answered: number[], labels: number[], test: Dataset, options: CurveOptions): Promise<number> {
  if (answered.length === 0) return 0.1;
  if (options.student === 'semi-supervised') {
    const model = await trainSemiSupervisedStudent({ inputs: proxy, labelled: { indices: answered, labels }, seed: options.seed, epochs: options.studentEpochs });
    const accuracy = evaluateAccuracy(model, test, test.labels);
    model.dispose();
    return accuracy;
  }
  const epochs = options.studentEpochs ?? 40;
  const spec = zooModelSpec('mlp', [28, 28, 1], 10);
  const hard = createLoss({ name: 'response', temperature: 1, alpha: 1 });
  const first = buildModel(spec, options.seed + 1);
  await trainStudent(first, { inputs: subset(proxy, answered), hardLabels: labels }, { loss: hard, epochs, seed: options.seed, batchSize: 64 });
  let student = first;
  if (answered.length < proxy.count) {
    const soft = softPredictions(first, proxy, 1);
    answered.forEach((row, k) => soft.fill(0, row * 10, (row + 1) * 10).set([1], row * 10 + labels[k]));
    const second = buildModel(spec, options.seed + 2);
    const distil = createLoss({ name: 'response', temperature: 1 });
    await trainStudent(second, { inputs: proxy, softLabels: soft }, { loss: distil, epochs, seed: options.seed, batchSize: 64 });
    distil.dispose();
    first.dispose();
    student = second;
  }
  const accuracy = evaluateAccuracy(student, test, test.labels);
  student.dispose();
  hard.dispose();
  return accuracy;
}

function epsilonListArg(flag: string) {
  return (value: string): number[] => {
    const list = value.split(',').map((v) => Number(v.trim()));
    if (list.length === 0 || list.some((v) => !Number.isFinite(v) || v <= 0)) throw new InvalidArgumentError(`${flag} must be a comma-separated list of numbers > 0, got '${value}'`);
    return list;
  };
}

function countListArg(flag: string) {
  return (value: string): number[] => {
    const list = value.split(',').map((v) => Number(v.trim()));
    if (list.length === 0 || list.some((v) => !Number.isInteger(v) || v < 1)) throw new InvalidArgumentError(`${flag} must be a comma-separated list of integers >= 1, got '${value}'`);
    return list;
  };
}

new Command('privacy-curve')
  .description('Student test accuracy against epsilon for PATE-style noisy teacher votes on the embedded data (GNMax or Confident-GNMax).')
  .option('--dataset <name>', 'embedded:mnist | embedded:mnist-full', embeddedDatasetArg('--dataset'), 'mnist')
  .option('--seed <n>', 'seed of the split, the shards, the noise and the models', integerArg('--seed'), 0)
  .option('--teachers <n>', 'teachers (disjoint shards of the private pool)', integerArg('--teachers', 1, 60_000), 100)
  .option('--teacher <arch>', 'teacher architecture: cnn (conv 3x3x16, pool, conv 3x3x32, pool, dense 128) | mlp (784-256-128)', choiceArg('--teacher', ['cnn', 'mlp'] as const), 'cnn')
  .option('--teacher-epochs <n>', 'epochs of each teacher on its shard', integerArg('--teacher-epochs', 1), 40)
  .option('--teacher-training <how>', 'augmented (random shifts of up to 2 px, averaged weights) | plain', choiceArg('--teacher-training', ['augmented', 'plain'] as const), 'augmented')
  .option('--student <how>', 'semi-supervised (a CNN, FixMatch-style, on the labels and every proxy input) | self-training (an MLP on the labels, then on its own predictions)', choiceArg('--student', ['semi-supervised', 'self-training'] as const), 'semi-supervised')
  .option('--student-epochs <n>', 'student epochs (semi-supervised: passes over the proxy, default 30; self-training: default 40)', integerArg('--student-epochs', 1))
  .option('--delta <d>', 'delta of the (epsilon, delta) guarantee', positiveArg('--delta', 0.1), 1e-5)
  .option('--mechanism <m>', 'gnmax | confident-gnmax', choiceArg('--mechanism', ['gnmax', 'confident-gnmax'] as const), 'gnmax')
  .option('--accounting <basis>', 'data-independent (noise chosen per target) | sanitised (PATE noise, --queries per target, the data-dependent bound sanitised); both bounds are always printed', choiceArg('--accounting', ['data-independent', 'sanitised'] as const), 'data-independent')
  .option('--epsilons <list>', 'target epsilons (a no-noise row is always added)', epsilonListArg('--epsilons'), [0.5, 1, 2, 4, 8])
  .option('--queries <list>', 'sanitised accounting: queries asked at each target epsilon (default 100,250,640,1500,3000 for 0.5,1,2,4,8)', countListArg('--queries'))
  .option('--sigma-cap <f>', 'data-independent accounting: ask as many queries as keep the noise below this fraction of the teachers', positiveArg('--sigma-cap', 10), 0.25)
  .option('--workers <n>', 'processes training teachers at once (default: the cores)', integerArg('--workers', 1, 64), Math.max(1, availableParallelism()))
  .option('--save-votes <file>', 'write the teachers\' votes on the proxy to this file (JSON)')
  .option('--load-votes <file>', 'use votes saved by --save-votes instead of training teachers (checked against --dataset, --seed, --teachers, --teacher, --teacher-epochs)')
  .option('--ss-order <lambda>', 'sanitisation: the RDP order of the smooth-sensitivity release (default: tuned on the votes, as PATE 2018\'s reference)', positiveArg('--ss-order'))
  .option('--ss-beta <b>', 'sanitisation: beta of the smooth sensitivity (default: tuned)', positiveArg('--ss-beta'))
  .option('--ss-sigma <s>', 'sanitisation: noise multiplier of the GNSS release (default: tuned)', positiveArg('--ss-sigma'))
  .option('--json', 'print one JSON object', false)
  .action((opts: CurveOptions) => exitOnError('privacy-curve', () => main(opts)))
  .parse();
