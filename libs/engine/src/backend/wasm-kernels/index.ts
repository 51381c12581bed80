/**
 * Fixes for the TensorFlow.js 4.22 wasm backend that training needs:
 * - missing: Conv2DBackpropFilter (CNN training fails without it);
 * - slow: Conv2DBackpropInput, transposed BatchMatMul/_FusedMatMul, MaxPoolGrad, the bias-gradient Sum;
 * - wrong: _FusedMatMul with a transpose flag and an activation, or with a bias and batch > 1;
 *   MaxPoolGrad's tie-breaking (it differs from the cpu backend's).
 * Call after @tensorflow/tfjs-backend-wasm is loaded (its stock kernels get wrapped), before or
 * after the backend is initialised. initBackend does this when it picks wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { registerConv2DBackpropFilter } from './conv2d-backprop-filter';
import { registerConv2DBackpropInput } from './conv2d-backprop-input';
import { registerMatMulExplicitTranspose } from './mat-mul-explicit-transpose';
import { registerMaxPoolGrad } from './max-pool-grad';
import { registerSumLeadingAxes } from './sum-leading-axes';
import { WASM } from './kernel-utils';

let registered = false;

export function registerWasmKernels(): void {
  if (registered) return;
  if (tf.getKernel(tf.BatchMatMul, WASM) == null) {
    throw new Error('fedkd: load @tensorflow/tfjs-backend-wasm before registerWasmKernels()');
  }
  registerMatMulExplicitTranspose();
  registerConv2DBackpropInput();
  registerConv2DBackpropFilter();
  registerMaxPoolGrad();
  registerSumLeadingAxes();
  registered = true;
}
