/**
 * Helpers for wasm kernels that are compositions of other wasm kernels.
 *
 * A kernelFunc runs inside the engine with the tape off and must return TensorInfos whose data the
 * backend owns, so compositions call the other kernels' kernelFuncs directly on TensorInfos (no
 * engine, no Tensor objects) and free every intermediate with backend.disposeData.
 */
import * as tf from '@tensorflow/tfjs';

export const WASM = 'wasm';

type Attrs = tf.NamedAttrMap;
/** What a kernelFunc receives as `backend` (typed `{}` by tfjs-core). */
export type KernelBackendArg = Parameters<tf.KernelFunc>[0]['backend'];

/** The kernel currently registered for wasm (throws if the backend lacks it). */
export function wasmKernel(kernelName: string): tf.KernelConfig {
  const kernel = tf.getKernel(kernelName, WASM);
  if (kernel == null) {
    throw new Error(`fedkd: wasm kernel ${kernelName} is not registered`);
  }
  return kernel;
}

/** Runs a registered wasm kernel on TensorInfos; the caller owns (and must dispose) the result. */
export function runWasm(
  kernelName: string,
  backend: KernelBackendArg,
  inputs: tf.NamedTensorInfoMap,
  attrs: object = {},
): tf.TensorInfo {
  return wasmKernel(kernelName).kernelFunc({ inputs, backend, attrs: attrs as Attrs }) as tf.TensorInfo;
}

/** Frees intermediates (reshapes share data by reference count, so each one is released once). */
export function release(backend: KernelBackendArg, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) {
    (backend as tf.KernelBackend).disposeData(info.dataId);
  }
}

/**
 * Replaces the wasm kernel `kernelName` with `makeKernelFunc(original)`. The original's setupFunc
 * is kept on the new config: if the backend is initialised later, the engine runs it then, and the
 * original kernelFunc (which we call for the cases we leave alone) needs it.
 */
export function replaceWasmKernel(
  kernelName: string,
  makeKernelFunc: (original: tf.KernelFunc) => tf.KernelFunc,
): void {
  const original = wasmKernel(kernelName);
  tf.unregisterKernel(kernelName, WASM);
  tf.registerKernel({
    kernelName,
    backendName: WASM,
    setupFunc: original.setupFunc,
    disposeFunc: original.disposeFunc,
    kernelFunc: makeKernelFunc(original.kernelFunc),
  });
}

/** Registers a kernel that stock wasm does not have at all. */
export function addWasmKernel(kernelName: string, kernelFunc: tf.KernelFunc): void {
  if (tf.getKernel(kernelName, WASM) != null) {
    tf.unregisterKernel(kernelName, WASM);
  }
  tf.registerKernel({ kernelName, backendName: WASM, kernelFunc });
}

/** Permutation that swaps the last two axes of a rank-`rank` tensor. */
export function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}
