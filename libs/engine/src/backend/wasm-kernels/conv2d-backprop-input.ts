/**
 * Conv2DBackpropInput for wasm as one forward Conv2D (XNNPACK).
 *
 * Stock wasm runs a plain loop (about 90 ms per step for the small CNN). The input gradient is the
 * "full" correlation of the output gradient with the spatially flipped filter whose in/out channels
 * are swapped. For stride s > 1 the output gradient first gets s-1 zeros after every element
 * (reshape to [n, h, 1, w, 1, c], pad, reshape back), which turns the strided case into stride 1.
 * Cases this formulation cannot express (NCHW, or explicit padding wider than the filter) go to the
 * stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { release, replaceWasmKernel, runWasm } from './kernel-utils';

function fastBackpropInput(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend } = args;
    const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const dy = inputs.dy as tf.TensorInfo;
    const filter = inputs.filter as tf.TensorInfo;
    if (attrs.dataFormat === 'NCHW' || dy.dtype !== 'float32') {
      return original(args);
    }
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape,
      filter.shape as [number, number, number, number],
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      'channelsLast',
    );
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
    const { batchSize, outHeight, outWidth, outChannels, inHeight, inWidth, padInfo } = info;
    // After zero insertion dy spans outHeight * sh rows (the last sh - 1 of them zeros).
    const upHeight = outHeight * sh;
    const upWidth = outWidth * sw;
    const pads = {
      top: kh - 1 - padInfo.top,
      left: kw - 1 - padInfo.left,
      bottom: inHeight + padInfo.top - upHeight,
      right: inWidth + padInfo.left - upWidth,
    };
    if (pads.top < 0 || pads.left < 0 || pads.bottom < 0 || pads.right < 0) {
      return original(args);
    }

    const owned: tf.TensorInfo[] = [];
    const keep = (t: tf.TensorInfo): tf.TensorInfo => (owned.push(t), t);
    try {
      let dyUp = dy;
      if (sh > 1 || sw > 1) {
        const spread = keep(
          runWasm(tf.Reshape, backend, { x: dy }, { shape: [batchSize, outHeight, 1, outWidth, 1, outChannels] }),
        );
        const zeros = [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]];
        const padded = keep(runWasm(tf.PadV2, backend, { x: spread }, { paddings: zeros, constantValue: 0 }));
        dyUp = keep(
          runWasm(tf.Reshape, backend, { x: padded }, { shape: [batchSize, upHeight, upWidth, outChannels] }),
        );
      }
      const flipped = keep(runWasm(tf.Reverse, backend, { x: filter }, { dims: [0, 1] }));
      const swapped = keep(runWasm(tf.Transpose, backend, { x: flipped }, { perm: [0, 1, 3, 2] }));
      return runWasm(
        tf.Conv2D,
        backend,
        { x: dyUp, filter: swapped },
        {
          strides: [1, 1],
          dilations: [1, 1],
          pad: [[0, 0], [pads.top, pads.bottom], [pads.left, pads.right], [0, 0]],
          dataFormat: 'NHWC',
        },
      );
    } finally {
      release(backend, ...owned);
    }
  };
}

export function registerConv2DBackpropInput(): void {
  replaceWasmKernel(tf.Conv2DBackpropInput, fastBackpropInput);
}
