/**
 * BatchMatMul and _FusedMatMul for wasm with transposes done by an explicit Transpose.
 *
 * Stock wasm takes XNNPACK's fast path only when neither operand is transposed; with transposeA or
 * transposeB it runs a naive loop 10-25x slower, and every dense layer's backward pass asks for a
 * transpose. Its _FusedMatMul with a transpose flag also skips the activation (wrong values).
 * Transposing first and calling the stock kernel without flags is both fast and correct.
 *
 * Stock _FusedMatMul also adds the bias to the wrong columns when the batch (leading) dimension is
 * above 1; such calls (tf.fused.matMul on rank-3 inputs; dense layers reshape to rank 2 and are
 * not affected) run as matMul, then Add and the activation's own kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { KernelBackendArg, release, replaceWasmKernel, runWasm, swapLastTwo } from './kernel-utils';

interface MatMulFlags {
  transposeA?: boolean;
  transposeB?: boolean;
}

/** Calls `original` with both operands untransposed (transposing them here when flagged). */
function withExplicitTranspose(original: tf.KernelFunc): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { transposeA, transposeB } = attrs as MatMulFlags;
    if (!transposeA && !transposeB) {
      return original({ inputs, backend, attrs });
    }
    const owned: tf.TensorInfo[] = [];
    const plain = (x: tf.TensorInfo, transpose: boolean | undefined): tf.TensorInfo => {
      if (!transpose) return x;
      const t = runWasm(tf.Transpose, backend, { x }, { perm: swapLastTwo(x.shape.length) });
      owned.push(t);
      return t;
    };
    try {
      return original({
        inputs: { ...inputs, a: plain(inputs.a as tf.TensorInfo, transposeA), b: plain(inputs.b as tf.TensorInfo, transposeB) },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      });
    } finally {
      release(backend, ...owned);
    }
  };
}

/** The fused activation as its own kernel (the set stock wasm _FusedMatMul accepts). */
function activate(
  backend: KernelBackendArg,
  x: tf.TensorInfo,
  attrs: tf._FusedMatMulAttrs,
  preluWeights: tf.TensorInfo | undefined,
): tf.TensorInfo {
  switch (attrs.activation) {
    case 'relu':
      return runWasm(tf.Relu, backend, { x });
    case 'relu6':
      return runWasm(tf.Relu6, backend, { x });
    case 'elu':
      return runWasm(tf.Elu, backend, { x });
    case 'sigmoid':
      return runWasm(tf.Sigmoid, backend, { x });
    case 'leakyrelu':
      return runWasm(tf.LeakyRelu, backend, { x }, { alpha: attrs.leakyreluAlpha ?? 0.2 });
    case 'prelu':
      return runWasm(tf.Prelu, backend, { x, alpha: preluWeights as tf.TensorInfo });
    default:
      throw new Error(`fedkd: wasm _FusedMatMul does not support activation '${attrs.activation}'`);
  }
}

/** Batched _FusedMatMul with a bias: matMul, Add, activation (inputs already untransposed). */
function batchedWithBias(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as unknown as tf._FusedMatMulAttrs;
    const a = inputs.a as tf.TensorInfo;
    const b = inputs.b as tf.TensorInfo;
    const batch = Math.max(a.shape[0], b.shape[0]);
    if (inputs.bias == null || a.shape.length < 3 || batch <= 1) {
      return original(args);
    }
    const owned: tf.TensorInfo[] = [];
    const keep = (t: tf.TensorInfo): tf.TensorInfo => (owned.push(t), t);
    try {
      const product = keep(runWasm(tf.BatchMatMul, backend, { a, b }, { transposeA: false, transposeB: false }));
      const biased = runWasm(tf.Add, backend, { a: product, b: inputs.bias });
      if (attrs.activation === 'linear' || attrs.activation == null) return biased;
      keep(biased);
      return activate(backend, biased, attrs, inputs.preluActivationWeights);
    } finally {
      release(backend, ...owned);
    }
  };
}

export function registerMatMulExplicitTranspose(): void {
  replaceWasmKernel(tf.BatchMatMul, withExplicitTranspose);
  replaceWasmKernel(tf._FusedMatMul, (original) => withExplicitTranspose(batchedWithBias(original)));
}
