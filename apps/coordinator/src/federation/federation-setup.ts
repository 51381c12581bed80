import {
  checkModelShapes,
  encodeWeights,
  getModelWeights,
  layersSpecOf,
  loadLayersModelFiles,
  toLogitsModel,
  zooModelSpec,
  type InputSet,
  type ModelSpec,
  type ZooModelName,
} from '@fedkd/engine';
import {
  loadEmbeddedPart,
  loadTaskFile,
  MNIST_TASK,
  proxyInputsSha256,
  readData,
  taskSha256,
  type PublicSetRef,
  type Task,
} from '@fedkd/data';
import { predictionEncodingProblem } from '@fedkd/protocol';
import type { CoordinatorConfig } from '../config/coordinator-config';

/** Injection token of the FederationSetup. */
export const FEDERATION = Symbol('fedkd.coordinator.federation');

/**
 * What the coordinator serves, loaded once at start-up before it listens: the task, the public
 * inputs the clients are asked about, the evaluation set (never sent anywhere) and the student.
 */
export interface FederationSetup {
  task: Task;
  taskSha256: string;
  /** Where the task came from (a file, or the embedded data set). */
  taskSource: string;
  /** The public proxy set (null for a synthetic proxy): its reference on the wire and its inputs. */
  publicSet: { ref: PublicSetRef; inputs: InputSet; source: string } | null;
  /** Labelled evaluation set; null: rounds report only the agreement with the aggregated targets. */
  evaluation: { inputs: InputSet; labels: Uint8Array; source: string } | null;
  student: {
    spec: ModelSpec;
    /** `--student-init keep`: the user's model.json weights as a weight blob, the first round's start. */
    initialBlob: Uint8Array | null;
    source: string;
  };
}

/** Loads and checks everything a federation needs; a problem throws one line naming the flag or file. */
export async function prepareFederation(config: CoordinatorConfig, log: (line: string) => void = () => undefined): Promise<FederationSetup> {
  const task = config.taskPath ? loadTaskFile(config.taskPath) : MNIST_TASK;
  const taskSource = config.taskPath ?? `embedded:${config.dataset}`;
  const publicSet = config.proxy === 'public' ? await loadPublicSet(config, task) : null;
  if (publicSet && config.proxySize > publicSet.inputs.count) {
    throw new Error(`--proxy-size ${config.proxySize} is more than the ${publicSet.inputs.count} inputs of the public set ${publicSet.source}`);
  }
  if (config.proxy === 'synthetic' && task.input.shape.join('x') !== '28x28x1') {
    throw new Error(`--proxy synthetic generates 28x28x1 images, but the task ${task.name} takes [${task.input.shape.join(', ')}]`);
  }
  if (config.proxy === 'synthetic' && config.generator === 'learned' && task.classes.length !== 10) {
    throw new Error(`--generator learned has one template per class for 10 classes, but the task ${task.name} has ${task.classes.length}`);
  }
  // K of top-k:K is checked against the task's classes, known only now.
  const encodingProblem = predictionEncodingProblem(config.encoding, task.classes.length);
  if (encodingProblem) throw new Error(`--encoding ${encodingProblem} (task ${task.name})`);
  const evaluation = await loadEvaluation(config, task);
  const student = await loadStudent(config, task);
  log(
    `task ${task.name} (${taskSha256(task).slice(0, 12)}…, inputs [${task.input.shape.join(', ')}], ${task.classes.length} classes) from ${taskSource}; ` +
      `proxy ${publicSet ? `${publicSet.inputs.count} inputs from ${publicSet.source}` : `synthetic (${config.generator})`}; ` +
      `evaluation ${evaluation ? `${evaluation.inputs.count} labelled inputs from ${evaluation.source}` : 'none (rounds report agreement)'}; student ${student.source}`,
  );
  return { task, taskSha256: taskSha256(task), taskSource, publicSet, evaluation, student };
}

/** The public inputs: the user's unlabelled set (`--proxy-data`) or the embedded data set's public split. */
async function loadPublicSet(config: CoordinatorConfig, task: Task): Promise<FederationSetup['publicSet']> {
  if (config.proxyData) {
    const loaded = await readData(config.proxyData, { task, labelled: false, labelColumn: config.labelColumn });
    const inputs = loaded.inputs;
    const sha256 = proxyInputsSha256(inputs);
    return { ref: { source: 'coordinator', sha256, count: inputs.count, inputShape: [...inputs.inputShape] }, inputs, source: config.proxyData };
  }
  requireEmbeddedTask(task, config, '--proxy-data');
  const inputs = loadEmbeddedPart(config.dataset, 'proxy', config.seed, task);
  return { ref: { source: 'embedded', dataset: config.dataset, splitSeed: config.seed }, inputs, source: `embedded:${config.dataset} (public split, seed ${config.seed})` };
}

async function loadEvaluation(config: CoordinatorConfig, task: Task): Promise<FederationSetup['evaluation']> {
  if (config.evalData) {
    const loaded = await readData(config.evalData, { task, labelled: true, labelColumn: config.labelColumn });
    return { inputs: loaded.inputs, labels: loaded.labels!, source: config.evalData };
  }
  // Without --eval-data the embedded test split serves, unless the user brought their own proxy (then their task's data is elsewhere).
  if (config.proxyData || !sameShape(task.input.shape, MNIST_TASK.input.shape) || task.classes.length !== MNIST_TASK.classes.length) return null;
  const test = loadEmbeddedPart(config.dataset, 'test', config.seed, task);
  return { inputs: test, labels: test.labels, source: `embedded:${config.dataset} (test split, seed ${config.seed})` };
}

async function loadStudent(config: CoordinatorConfig, task: Task): Promise<FederationSetup['student']> {
  const expected = { inputShape: task.input.shape, classes: task.classes.length };
  if (!config.studentModel.endsWith('.json')) {
    const spec = zooModelSpec(config.studentModel as ZooModelName, task.input.shape, task.classes.length);
    return { spec, initialBlob: null, source: `${config.studentModel} (zoo, sized to the task)` };
  }
  const loaded = await loadLayersModelFiles(config.studentModel);
  const { model, removedSoftmax } = toLogitsModel(loaded);
  if (model !== loaded) loaded.dispose();
  try {
    checkModelShapes(model, expected, `student ${config.studentModel}`);
    const spec = layersSpecOf(model);
    const initialBlob = config.studentInit === 'keep' ? encodeWeights(spec, getModelWeights(model)) : null;
    const source = `${config.studentModel} (${model.countParams()} parameters${removedSoftmax ? ', final softmax removed for logits' : ''}, ${config.studentInit} weights)`;
    return { spec, initialBlob, source };
  } finally {
    model.dispose();
  }
}

function requireEmbeddedTask(task: Task, config: CoordinatorConfig, flag: string): void {
  if (sameShape(task.input.shape, MNIST_TASK.input.shape) && task.classes.length === MNIST_TASK.classes.length) return;
  throw new Error(
    `the task ${task.name} takes [${task.input.shape.join(', ')}] with ${task.classes.length} classes, but embedded:${config.dataset} holds 28x28x1 digits of 10 classes: give ${flag}`,
  );
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
