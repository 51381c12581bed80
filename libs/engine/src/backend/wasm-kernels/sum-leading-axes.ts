/**
 * Sum over every axis but the last (the bias gradient of dense and conv layers) as average pooling.
 *
 * Stock wasm Sum first transposes the reduced axes to the end: about 2 ms for a [128, 28, 28, 16]
 * gradient. XNNPACK's average pooling streams the data in place (0.3 ms). Two stages (within each
 * leading index, then across them) keep float32 rounding well below the stock kernel's; the mean
 * is scaled back to a sum. A matMul with a row of ones would be as fast on a cached operand, but
 * XNNPACK packs the big operand afresh for every new tensor, which costs more than it saves.
 * Other sums go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { KernelBackendArg, release, replaceWasmKernel, runWasm } from './kernel-utils';

/** Means over axis 1 of [outer, inner, 1, channels] -> [outer, 1, 1, channels]. */
function meanOverRows(backend: KernelBackendArg, x: tf.TensorInfo, inner: number): tf.TensorInfo {
  return runWasm(tf.AvgPool, backend, { x }, { filterSize: [inner, 1], strides: [1, 1], pad: 'valid' });
}

function sumViaAvgPool(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend } = args;
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const x = inputs.x as tf.TensorInfo;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = rank >= 2 && axes.length === rank - 1 && axes.every((a, i) => a === i);
    const size = tf.util.sizeFromShape(x.shape);
    if (!leading || x.dtype !== 'float32' || size === 0) {
      return original(args);
    }
    const channels = x.shape[rank - 1];
    const outer = x.shape[0];
    const rows = size / channels;
    const inner = rows / outer;
    const owned: tf.TensorInfo[] = [];
    const keep = (t: tf.TensorInfo): tf.TensorInfo => (owned.push(t), t);
    try {
      let means = keep(runWasm(tf.Reshape, backend, { x }, { shape: [outer, inner, 1, channels] }));
      if (inner > 1) {
        means = keep(meanOverRows(backend, means, inner));
      }
      means = keep(runWasm(tf.Reshape, backend, { x: means }, { shape: [1, outer, 1, channels] }));
      means = keep(meanOverRows(backend, means, outer));
      const count = keep(runWasm(tf.Fill, backend, {}, { shape: [], value: rows, dtype: 'float32' }));
      const total = keep(runWasm(tf.Multiply, backend, { a: means, b: count }));
      const outShape = keepDims ? x.shape.map((d, i) => (i < rank - 1 ? 1 : d)) : [channels];
      return runWasm(tf.Reshape, backend, { x: total }, { shape: outShape });
    } finally {
      release(backend, ...owned);
    }
  };
}

export function registerSumLeadingAxes(): void {
  replaceWasmKernel(tf.Sum, sumViaAvgPool);
}
