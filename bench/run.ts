/**
 * `npm run bench [-- --json]`: throughput of the TensorFlow.js backend in use (initBackend honours
 * FEDKD_BACKEND): matMul GFLOP/s, and training and inference samples/s and GFLOP/s for the MLP
 * and the small CNN, on random data. Training FLOPs count as 3x forward FLOPs (forward, plus the
 * two matMuls/convs of the backward pass). With --json, stdout gets exactly one JSON object and
 * everything else goes to stderr.
 *
 * Each item warms up, then runs for a time budget (at least one step). A backend too slow to run
 * one step of the nominal batch within the budget (the cpu backend on the CNN) is measured at a
 * smaller batch, which the output reports, so the whole cpu run stays within a minute or so.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendInfo, CNN_SPEC, MLP_SPEC, ModelSpec, type MlpSpec, type CnnSpec, buildModel, forwardFlopsPerSample, initBackend } from '@fedkd/engine';

const TRAIN_BATCH = 128;
const INFERENCE_BATCH = 1000;
const MATMUL_SIZES = [512, 1024];
/** Train/inference GFLOP/s ratios the wasm backend should reach. */
const RATIO_TARGETS = { mlp: 0.5, cnn: 0.35 };

interface Budget {
  /** Time budget per training item, and per matMul / inference item. */
  trainMs: number;
  otherMs: number;
}

interface Timing {
  batch: number;
  steps: number;
  seconds: number;
  samplesPerSec: number;
  gflops: number;
}

interface MatMulResult {
  n: number;
  msPerOp: number;
  gflops: number;
  reps: number;
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

// ---------------------------------------------------------------------------------------------
// Timing

/** Runs `step` (already warmed up) until `budgetMs` has passed, at least once. */
function timeSteps(step: () => void, budgetMs: number): { steps: number; ms: number } {
  const start = performance.now();
  let steps = 0;
  let elapsed = 0;
  do {
    step();
    steps++;
    elapsed = performance.now() - start;
  } while (elapsed < budgetMs);
  return { steps, ms: elapsed };
}

/** Milliseconds of one call (after the call that compiles/allocates whatever it needs). */
function timeOnce(step: () => void): number {
  const start = performance.now();
  step();
  return performance.now() - start;
}

/**
 * The largest batch (a multiple of 8, at most `target`) for which one step is expected to fit in
 * the budget, judged from a probe step at batch 8 (which overestimates the per-sample cost, as it
 * carries a step's fixed overhead).
 */
function affordableBatch(target: number, budgetMs: number, probe: (batch: number) => void): number {
  const probeBatch = Math.min(8, target);
  probe(probeBatch);
  const msPerSample = timeOnce(() => probe(probeBatch)) / probeBatch;
  const fits = Math.floor(budgetMs / msPerSample / 8) * 8;
  return Math.max(probeBatch, Math.min(target, fits));
}

/** Fails loudly if a workload (which disposes its model, optimizer and data) leaks tensors. */
function checkNoLeak<T>(what: string, run: () => T): T {
  const before = tf.memory().numTensors;
  const result = run();
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`bench: ${what} leaked ${leaked} tensors`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Workloads

function benchMatMul(n: number, budgetMs: number): MatMulResult {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  // Same operands every time: the steady state of a kernel whose packed weights are cached.
  // (Not `tf.tidy(() => ....dataSync())`: tidy walks a returned typed array element by element.)
  const step = () => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  step();
  const { steps, ms } = timeSteps(step, budgetMs);
  tf.dispose([a, b]);
  const msPerOp = ms / steps;
  return { n, msPerOp, gflops: (2 * n ** 3) / (msPerOp * 1e6), reps: steps };
}

function randomBatch(spec: ModelSpec, batch: number, seed: number): { x: tf.Tensor; y: tf.Tensor } {
  return tf.tidy(() => {
    const x = tf.randomNormal([batch, ...spec.inputShape], 0, 1, 'float32', seed);
    const labels = tf.randomUniform([batch], 0, spec.classes, 'int32', seed + 1);
    return { x, y: tf.oneHot(labels, spec.classes).toFloat() };
  });
}

/** forward + softmax cross-entropy + backward + Adam update, as optimizer.minimize runs it. */
function benchTraining(spec: MlpSpec | CnnSpec, budgetMs: number): Timing {
  const model = buildModel(spec, 1);
  const optimizer = tf.train.adam(1e-3);
  const batches = new Map<number, { x: tf.Tensor; y: tf.Tensor }>();
  const step = (batch: number): void => {
    if (!batches.has(batch)) batches.set(batch, randomBatch(spec, batch, 7));
    const { x, y } = batches.get(batch)!;
    optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor), false);
  };
  const batch = affordableBatch(TRAIN_BATCH, budgetMs, step);
  step(batch);
  const { steps, ms } = timeSteps(() => step(batch), budgetMs);
  for (const { x, y } of batches.values()) tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return summarise(spec, batch, steps, ms, 3);
}

function benchInference(spec: MlpSpec | CnnSpec, budgetMs: number): Timing {
  const model = buildModel(spec, 1);
  const inputs = new Map<number, tf.Tensor>();
  const step = (batch: number): void => {
    if (!inputs.has(batch)) inputs.set(batch, tf.randomNormal([batch, ...spec.inputShape], 0, 1, 'float32', 3));
    const x = inputs.get(batch)!;
    const logits = model.apply(x, { training: false }) as tf.Tensor;
    logits.dataSync();
    logits.dispose();
  };
  const batch = affordableBatch(INFERENCE_BATCH, budgetMs, step);
  step(batch);
  const { steps, ms } = timeSteps(() => step(batch), budgetMs);
  tf.dispose([...inputs.values()]);
  model.dispose();
  return summarise(spec, batch, steps, ms, 1);
}

function summarise(spec: MlpSpec | CnnSpec, batch: number, steps: number, ms: number, flopsFactor: number): Timing {
  const samplesPerSec = (batch * steps) / (ms / 1000);
  const gflops = (flopsFactor * forwardFlopsPerSample(spec) * samplesPerSec) / 1e9;
  return { batch, steps, seconds: ms / 1000, samplesPerSec, gflops };
}

// ---------------------------------------------------------------------------------------------
// Report

interface Report {
  backend: BackendInfo['name'];
  simd?: boolean;
  fallbackReasons: string[];
  tfjsVersion: string;
  node: string;
  matmul: MatMulResult[];
  train: { mlp: Timing; cnn: Timing };
  inference: { mlp: Timing; cnn: Timing };
  ratios: { mlpTrainOverInference: number; cnnTrainOverInference: number };
  ratioTargets: typeof RATIO_TARGETS;
}

function formatText(r: Report): string {
  const f = (v: number, digits = 1) => v.toFixed(digits);
  const row = (name: string, t: Timing) =>
    `  ${name.padEnd(16)} batch ${String(t.batch).padStart(4)}  ${f(t.samplesPerSec, 0).padStart(7)} samples/s  ${f(t.gflops, 2).padStart(6)} GFLOP/s  (${t.steps} steps, ${f(t.seconds)} s)`;
  const simd = r.backend === 'wasm' ? (r.simd ? ' (SIMD)' : ' (no SIMD)') : '';
  return [
    `backend ${r.backend}${simd}, tfjs ${r.tfjsVersion}, node ${r.node}`,
    ...r.matmul.map((m) => `  ${`matmul ${m.n}`.padEnd(16)} ${f(m.msPerOp, 2).padStart(10)} ms/op  ${f(m.gflops, 2).padStart(25)} GFLOP/s`),
    row('MLP train', r.train.mlp),
    row('CNN train', r.train.cnn),
    row('MLP inference', r.inference.mlp),
    row('CNN inference', r.inference.cnn),
    `  MLP train/inference GFLOP/s ${f(r.ratios.mlpTrainOverInference, 2)} (wasm target >= ${r.ratioTargets.mlp})`,
    `  CNN train/inference GFLOP/s ${f(r.ratios.cnnTrainOverInference, 2)} (wasm target >= ${r.ratioTargets.cnn})`,
  ].join('\n');
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const info = await initBackend({ log });
  const budget: Budget = info.name === 'cpu' ? { trainMs: 2500, otherMs: 2000 } : { trainMs: 3000, otherMs: 2000 };

  const matmul = MATMUL_SIZES.map((n) => {
    log(`bench: matmul ${n}`);
    return checkNoLeak(`matmul ${n}`, () => benchMatMul(n, budget.otherMs));
  });
  const run = (what: string, f: () => Timing): Timing => {
    log(`bench: ${what}`);
    return checkNoLeak(what, f);
  };
  const train = {
    mlp: run('MLP training', () => benchTraining(MLP_SPEC, budget.trainMs)),
    cnn: run('CNN training', () => benchTraining(CNN_SPEC, budget.trainMs)),
  };
  const inference = {
    mlp: run('MLP inference', () => benchInference(MLP_SPEC, budget.otherMs)),
    cnn: run('CNN inference', () => benchInference(CNN_SPEC, budget.otherMs)),
  };
  const report: Report = {
    backend: info.name,
    ...(info.simd === undefined ? {} : { simd: info.simd }),
    fallbackReasons: info.fallbackReasons,
    tfjsVersion: tf.version.tfjs,
    node: process.version,
    matmul,
    train,
    inference,
    ratios: {
      mlpTrainOverInference: train.mlp.gflops / inference.mlp.gflops,
      cnnTrainOverInference: train.cnn.gflops / inference.cnn.gflops,
    },
    ratioTargets: RATIO_TARGETS,
  };
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : `${formatText(report)}\n`);
}

main().catch((error: unknown) => {
  log(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
