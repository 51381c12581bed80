/**
 * Architectures are plain, JSON-serialisable values so that a client and the coordinator can
 * agree on one by value (and a weight blob can carry the spec it belongs to).
 * Every model takes inputs [n, ...inputShape] (images `[H, W, C]`, channels last, or feature
 * vectors `[F]`) and returns logits [n, classes] (never probabilities: distillation applies its
 * own temperature).
 */
export interface MlpSpec {
  kind: 'mlp';
  /** `[H, W, C]` (flattened first) or `[F]`. */
  inputShape: number[];
  hidden: number[];
  classes: number;
}

export interface CnnSpec {
  kind: 'cnn';
  inputShape: [number, number, number];
  /** Each block: conv kxk 'same' + relu, then 2x2 max pool. */
  convFilters: number[];
  kernelSize: number;
  /** Dense layers between the last pool and the logits (may be empty). */
  hidden: number[];
  classes: number;
}

/**
 * A user's own architecture: the Keras/TF.js layers topology of a `model.json` (its
 * `modelTopology`), with any final softmax already removed so that it outputs logits.
 */
export interface LayersSpec {
  kind: 'layers';
  inputShape: number[];
  classes: number;
  topology: Record<string, unknown>;
}

export type ModelSpec = MlpSpec | CnnSpec | LayersSpec;

/** The architectures fedkd builds itself (`--model`, `--student`), by name. */
export type ZooModelName = 'mlp' | 'cnn';
export const ZOO_MODEL_NAMES: readonly ZooModelName[] = ['mlp', 'cnn'];

export const MNIST_INPUT_SHAPE: [number, number, number] = [28, 28, 1];

/** The MLP of the benchmark and the demo: 784-256-128-10. */
export const MLP_SPEC: MlpSpec = { kind: 'mlp', inputShape: MNIST_INPUT_SHAPE, hidden: [256, 128], classes: 10 };

/** The small CNN: conv 3x3x16, pool, conv 3x3x32, pool, dense 10. */
export const CNN_SPEC: CnnSpec = {
  kind: 'cnn',
  inputShape: MNIST_INPUT_SHAPE,
  convFilters: [16, 32],
  kernelSize: 3,
  hidden: [],
  classes: 10,
};

/**
 * The model zoo, sized to a task: `mlp` takes any input (images are flattened) with hidden layers
 * 256-128 (for feature vectors of fewer than 64 features: 64-32); `cnn` takes `[H, W, C]` images
 * of any size, with conv blocks (3x3, then 2x2 pooling) of 16, 32, 64, 64, ... filters until the
 * feature map is at most 7 pixels on its shorter side (two blocks for 28x28; at least one).
 * For 28x28x1 and 10 classes these are MLP_SPEC and CNN_SPEC.
 */
export function zooModelSpec(name: ZooModelName, inputShape: readonly number[], classes: number): MlpSpec | CnnSpec {
  if (name === 'mlp') {
    const values = inputShape.reduce((a, b) => a * b, 1);
    const hidden = inputShape.length === 1 && values < 64 ? [64, 32] : [256, 128];
    return { kind: 'mlp', inputShape: [...inputShape], hidden, classes };
  }
  if (name === 'cnn') {
    if (inputShape.length !== 3) {
      throw new RangeError(`the cnn architecture needs image inputs [H, W, C], but the task's inputs are [${inputShape.join(', ')}]: use mlp`);
    }
    const convFilters: number[] = [];
    let side = Math.min(inputShape[0], inputShape[1]);
    do {
      convFilters.push(Math.min(64, 16 * 2 ** convFilters.length));
      side = Math.floor(side / 2);
    } while (side > 7 && side >= 2);
    return { kind: 'cnn', inputShape: [inputShape[0], inputShape[1], inputShape[2]], convFilters, kernelSize: 3, hidden: [], classes };
  }
  throw new RangeError(`unknown architecture '${String(name)}' (known: ${ZOO_MODEL_NAMES.join(', ')})`);
}

/**
 * What a client tells the coordinator about its teacher (`hello`): a zoo spec as it is; for a
 * user's own architecture only its shapes and size, never its topology.
 */
export interface LayersSummary {
  kind: 'layers';
  inputShape: number[];
  classes: number;
  parameters: number;
}
export type ArchitectureDescription = MlpSpec | CnnSpec | LayersSummary;

export function describeArchitecture(spec: ModelSpec, parameters: number): ArchitectureDescription {
  if (spec.kind !== 'layers') return spec;
  return { kind: 'layers', inputShape: [...spec.inputShape], classes: spec.classes, parameters };
}
