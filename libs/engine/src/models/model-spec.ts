/**
 * Architectures are plain, JSON-serialisable values so that a client and the coordinator can
 * agree on one by value (and a weight blob can carry the spec it belongs to).
 * Every model takes images [n, height, width, channels] and returns logits [n, classes]
 * (never probabilities: distillation applies its own temperature).
 */
export interface MlpSpec {
  kind: 'mlp';
  inputShape: [number, number, number];
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

export type ModelSpec = MlpSpec | CnnSpec;

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
