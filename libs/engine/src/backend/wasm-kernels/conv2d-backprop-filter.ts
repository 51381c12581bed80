/**
 * Conv2DBackpropFilter for wasm, which stock 4.22 lacks (CNN training fails without it).
 *
 * dW[i, j, c, o] = sum over n, y, x of xPadded[n, y*s + i, x*s + j, c] * dy[n, y, x, o]. With the
 * batch axis moved into the channel position this is one forward Conv2D (XNNPACK): input
 * x as [c, h, w, n], "filter" dy as [y, x, n, o], stride 1, dilation s, the forward padding, giving
 * [c, kh, kw, o], then a transpose to [kh, kw, c, o]: 14 ms for each layer of the small CNN at
 * batch 128, most of it XNNPACK packing the large "filter". One large conv beats im2col over
 * slices, as wasm's Slice is slow (about 13 ns per element). Rows or columns of x that no filter window
 * touches (valid padding with a stride that does not divide) are cut by trimming the bottom/right
 * padding first, and by slicing the small result if that is not enough.
 */
import * as tf from '@tensorflow/tfjs';
import { addWasmKernel, release, runWasm } from './kernel-utils';

const conv2dBackpropFilter: tf.KernelFunc = (args) => {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const x = inputs.x as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  if (attrs.dataFormat === 'NCHW') {
    throw new Error('fedkd: wasm Conv2DBackpropFilter supports dataFormat NHWC only');
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { inHeight, inWidth, outHeight, outWidth, inChannels, outChannels, padInfo } = info;
  // Padded rows/columns beyond the last window are not part of any product.
  const unusedH = inHeight + padInfo.top + padInfo.bottom - ((outHeight - 1) * sh + kh);
  const unusedW = inWidth + padInfo.left + padInfo.right - ((outWidth - 1) * sw + kw);
  const bottom = Math.max(0, padInfo.bottom - unusedH);
  const right = Math.max(0, padInfo.right - unusedW);
  const extraH = unusedH - (padInfo.bottom - bottom);
  const extraW = unusedW - (padInfo.right - right);

  const owned: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo): tf.TensorInfo => (owned.push(t), t);
  try {
    const xT = keep(runWasm(tf.Transpose, backend, { x }, { perm: [3, 1, 2, 0] }));
    const dyT = keep(runWasm(tf.Transpose, backend, { x: dy }, { perm: [1, 2, 0, 3] }));
    let corr = keep(
      runWasm(
        tf.Conv2D,
        backend,
        { x: xT, filter: dyT },
        {
          strides: [1, 1],
          dilations: [sh, sw],
          pad: [[0, 0], [padInfo.top, bottom], [padInfo.left, right], [0, 0]],
          dataFormat: 'NHWC',
        },
      ),
    );
    if (extraH > 0 || extraW > 0) {
      corr = keep(
        runWasm(tf.Slice, backend, { x: corr }, { begin: [0, 0, 0, 0], size: [inChannels, kh, kw, outChannels] }),
      );
    }
    return runWasm(tf.Transpose, backend, { x: corr }, { perm: [1, 2, 0, 3] });
  } finally {
    release(backend, ...owned);
  }
};

export function registerConv2DBackpropFilter(): void {
  addWasmKernel(tf.Conv2DBackpropFilter, conv2dBackpropFilter);
}
