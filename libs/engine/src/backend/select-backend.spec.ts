/**
 * initBackend: forced choices fail with messages that say what to do, the automatic choice falls
 * back from tfjs-node (not installable here) to wasm, and a second call changes nothing.
 * The tests share one process (and so one TensorFlow.js engine) and run in order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_ENV_VAR, initBackend } from './select-backend';

const savedEnv = process.env[BACKEND_ENV_VAR];

function setEnv(value: string | undefined): void {
  if (value === undefined) delete process.env[BACKEND_ENV_VAR];
  else process.env[BACKEND_ENV_VAR] = value;
}

afterEach(() => setEnv(savedEnv));

let nodeInstalled = false;
try {
  require.resolve('@tensorflow/tfjs-node');
  nodeInstalled = true;
} catch {
  nodeInstalled = false;
}

describe('initBackend', () => {
  it('rejects an invalid FEDKD_BACKEND value, naming the variable and the allowed values', async () => {
    setEnv('gpu');
    await expect(initBackend({ log: () => undefined })).rejects.toThrow(
      "FEDKD_BACKEND must be one of node, wasm, cpu; got 'gpu'",
    );
  });

  it('rejects an invalid preferred backend', async () => {
    await expect(initBackend({ preferred: 'webgl' as never, log: () => undefined })).rejects.toThrow(
      "preferred must be one of node, wasm, cpu; got 'webgl'",
    );
  });

  it.skipIf(nodeInstalled)('explains why FEDKD_BACKEND=node cannot work here', async () => {
    setEnv('node');
    await expect(initBackend({ log: () => undefined })).rejects.toThrow(
      'FEDKD_BACKEND=node but @tensorflow/tfjs-node is not installed (it cannot install without internet access); use wasm or cpu',
    );
  });

  it.skipIf(nodeInstalled)('explains a forced node backend from options too', async () => {
    await expect(initBackend({ preferred: 'node', log: () => undefined })).rejects.toThrow(
      "preferred backend 'node' but @tensorflow/tfjs-node is not installed",
    );
  });

  it.skipIf(nodeInstalled)('chooses wasm with SIMD when tfjs-node is missing, and logs one line', async () => {
    setEnv(undefined);
    const lines: string[] = [];
    const info = await initBackend({ log: (line) => lines.push(line) });
    expect(info).toEqual({
      name: 'wasm',
      simd: true,
      fallbackReasons: ['node: @tensorflow/tfjs-node is not installed (it cannot install without internet access)'],
    });
    expect(tf.getBackend()).toBe('wasm');
    expect(lines).toEqual(['fedkd: TensorFlow.js backend wasm (SIMD)']);
    // The wasm kernel fixes are in place: Conv2DBackpropFilter exists only through them.
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBeDefined();
  });

  it('returns the same info on later calls without logging again, and restores the backend', async () => {
    const lines: string[] = [];
    const first = await initBackend({ log: (line) => lines.push(line) });
    await tf.setBackend('cpu');
    const second = await initBackend({ log: (line) => lines.push(line) });
    expect(second).toBe(first);
    expect(lines).toEqual([]);
    expect(tf.getBackend()).toBe(first.name === 'node' ? 'tensorflow' : first.name);
  });

  it('refuses to switch to a different forced backend once initialised', async () => {
    const info = await initBackend();
    const other = info.name === 'cpu' ? 'wasm' : 'cpu';
    setEnv(other);
    await expect(initBackend()).rejects.toThrow(
      `FEDKD_BACKEND=${other}, but the TensorFlow.js backend is already initialised as ${info.name}`,
    );
  });

  it('silences the cpu backend hint about installing tfjs-node', async () => {
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (...args: unknown[]) => warnings.push(args.join(' '));
    try {
      await tf.setBackend('cpu');
      tf.tidy(() => tf.ones([2]).add(1).dataSync());
    } finally {
      console.warn = warn;
      await initBackend();
    }
    expect(warnings.filter((w) => w.includes('tfjs-node'))).toEqual([]);
  });
});
