/**
 * The wasm kernels of ./wasm-kernels against the cpu backend (the reference implementation).
 * Inputs are generated in JS and copied into each backend; outputs are read back as arrays.
 *
 * Tolerance: relative to the tensor's scale, max |wasm - cpu| <= 1e-4 * max |cpu|, since float32
 * sums of many terms round differently in the two backends (order and width of the accumulators)
 * and element-wise relative error is meaningless for outputs that cancel to near zero. MaxPoolGrad must route every gradient to the same
 * pixel as cpu, so it is compared at 1e-6.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './select-backend';

const TOLERANCE = 1e-4;

type Inputs = Record<string, { shape: number[]; values: Float32Array }>;

/** Deterministic N(0, 1)-ish floats (sum of uniforms), so failures reproduce. */
function randomArray(size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = next() + next() + next() - 1.5;
  return out;
}

function input(shape: number[], seed: number, transform?: (v: number) => number): Inputs[string] {
  const values = randomArray(shape.reduce((a, b) => a * b, 1), seed);
  return { shape, values: transform ? values.map(transform) : values };
}

/** Runs `f` on `backend` with fresh tensors made from `inputs`; returns the outputs as arrays. */
async function runOn(
  backend: string,
  inputs: Inputs,
  f: (t: Record<string, tf.Tensor>) => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, { shape, values }] of Object.entries(inputs)) tensors[name] = tf.tensor(values, shape);
  const out = tf.tidy(() => f(tensors));
  const outs = Array.isArray(out) ? out : [out];
  const arrays = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose([...outs, ...Object.values(tensors)]);
  return arrays;
}

/** Largest deviation of `actual` from `expected`, relative to max |expected|. */
function scaledError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let scale = 1e-6; // all-zero expectations must then match to 1e-10 absolute
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  }
  return Number.isNaN(worst) ? Infinity : worst / scale;
}

async function expectWasmMatchesCpu(
  inputs: Inputs,
  f: (t: Record<string, tf.Tensor>) => tf.Tensor | tf.Tensor[],
  tolerance = TOLERANCE,
): Promise<void> {
  const cpu = await runOn('cpu', inputs, f);
  const wasm = await runOn('wasm', inputs, f);
  wasm.forEach((w, i) => expect(scaledError(w, cpu[i])).toBeLessThanOrEqual(tolerance));
}

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
}

const CONV_CASES: ConvCase[] = [
  { x: [2, 7, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 7, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [3, 9, 7, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'same' },
  { x: [3, 9, 7, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'valid' },
  { x: [2, 11, 10, 3], filter: [5, 4, 3, 2], strides: [2, 3], pad: 'same' },
  { x: [2, 10, 11, 1], filter: [2, 2, 1, 6], strides: 2, pad: 'valid' },
  { x: [4, 8, 8, 4], filter: [1, 1, 4, 3], strides: 2, pad: 'same' },
  { x: [2, 7, 7, 3], filter: [1, 1, 3, 2], strides: 2, pad: 'same' },
  { x: [2, 6, 5, 2], filter: [3, 3, 2, 3], strides: 1, pad: 1 },
  { x: [2, 6, 5, 2], filter: [3, 2, 2, 3], strides: 1, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { x: [2, 9, 8, 2], filter: [3, 3, 2, 3], strides: 2, pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
  // Padding wider than the filter: the input gradient falls back to the stock kernel.
  { x: [1, 5, 6, 2], filter: [3, 3, 2, 2], strides: 1, pad: [[0, 0], [3, 3], [2, 4], [0, 0]] },
  // The small CNN's layers, with a smaller batch.
  { x: [4, 28, 28, 1], filter: [3, 3, 1, 16], strides: 1, pad: 'same' },
  { x: [4, 14, 14, 16], filter: [3, 3, 16, 32], strides: 1, pad: 'same' },
];

function describeConv(c: ConvCase): string {
  return `x ${c.x} filter ${c.filter} strides ${c.strides} pad ${JSON.stringify(c.pad)}`;
}

beforeAll(async () => {
  await initBackend({ preferred: 'wasm', log: () => undefined });
});

afterAll(async () => {
  await tf.setBackend('wasm');
});

describe('wasm Conv2DBackpropFilter and Conv2DBackpropInput', () => {
  for (const c of CONV_CASES) {
    it(`match cpu for ${describeConv(c)}`, async () => {
      const outShape = tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad).shape);
      const inputs = { x: input(c.x, 1), filter: input(c.filter, 2), dy: input(outShape, 3) };
      await expectWasmMatchesCpu(inputs, ({ x, filter, dy }) => [
        tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
          strides: c.strides,
          pad: c.pad,
          dataFormat: 'NHWC',
          filterShape: c.filter,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
        tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, {
          strides: c.strides,
          pad: c.pad,
          dataFormat: 'NHWC',
          inputShape: c.x,
        } as unknown as tf.NamedAttrMap) as tf.Tensor,
      ]);
    });
  }

  it('give the same conv2d gradients as cpu through tf.grads (fused bias + relu)', async () => {
    const inputs = { x: input([3, 9, 9, 2], 4), w: input([3, 3, 2, 4], 5), b: input([4], 6) };
    await expectWasmMatchesCpu(inputs, ({ x, w, b }) =>
      tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.fused
          .conv2d({ x: xx as tf.Tensor4D, filter: ww as tf.Tensor4D, strides: 2, pad: 'same', bias: bb, activation: 'relu' })
          .square()
          .sum(),
      )([x, w, b]),
    );
  });
});

describe('wasm MaxPoolGrad', () => {
  const cases: Array<{ x: [number, number, number, number]; size: number; strides: number; pad: 'same' | 'valid' }> = [
    { x: [2, 8, 8, 3], size: 2, strides: 2, pad: 'valid' },
    { x: [2, 7, 9, 3], size: 2, strides: 2, pad: 'same' },
    { x: [2, 7, 9, 3], size: 2, strides: 2, pad: 'valid' },
    { x: [2, 9, 7, 4], size: 3, strides: 2, pad: 'same' },
    { x: [1, 8, 8, 2], size: 3, strides: 1, pad: 'same' },
    { x: [2, 7, 7, 5], size: 3, strides: 2, pad: 'valid' },
  ];
  for (const c of cases) {
    it(`routes gradients like cpu, ties included, for x ${c.x} pool ${c.size} stride ${c.strides} ${c.pad}`, async () => {
      // Rounded relu outputs: many zeros and repeated values, so windows often tie.
      const inputs = { x: input(c.x, 7, (v) => Math.max(0, Math.round(v * 2))) };
      // Distinct output gradients, so a gradient routed to the wrong pixel shows.
      const pool = (xx: tf.Tensor) => {
        const y = tf.maxPool(xx as tf.Tensor4D, c.size, c.strides, c.pad);
        return y.mul(tf.range(1, 1 + y.size).reshape(y.shape)).sum();
      };
      await expectWasmMatchesCpu(
        inputs,
        ({ x }) => tf.grad(pool)(x),
        1e-6,
      );
    });
  }
});

describe('wasm BatchMatMul and _FusedMatMul', () => {
  const shapes: Array<{ a: number[]; b: number[] }> = [
    { a: [7, 5], b: [5, 3] },
    { a: [2, 7, 5], b: [2, 5, 3] },
    { a: [2, 7, 5], b: [1, 5, 3] },
    { a: [33, 65], b: [65, 17] },
  ];
  const flip = (shape: number[]) => [...shape.slice(0, -2), shape[shape.length - 1], shape[shape.length - 2]];
  for (const { a: aShape, b: bShape } of shapes) {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const name = `a ${aShape} b ${bShape} transposeA ${transposeA} transposeB ${transposeB}`;
        const inputs = {
          a: input(transposeA ? flip(aShape) : aShape, 8),
          b: input(transposeB ? flip(bShape) : bShape, 9),
          bias: input([bShape[bShape.length - 1]], 10),
        };
        it(`matMul matches cpu: ${name}`, async () => {
          await expectWasmMatchesCpu(inputs, ({ a, b }) => tf.matMul(a, b, transposeA, transposeB));
        });
        it(`fused matMul with bias + relu matches cpu: ${name}`, async () => {
          await expectWasmMatchesCpu(inputs, ({ a, b, bias }) =>
            tf.fused.matMul({ a, b, transposeA, transposeB, bias, activation: 'relu' }),
          );
        });
      }
    }
  }
  for (const activation of ['linear', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const) {
    it(`batched fused matMul with bias + ${activation} matches cpu`, async () => {
      const inputs = { a: input([3, 4, 6], 12), b: input([3, 6, 5], 13), bias: input([5], 14), alpha: input([5], 15) };
      await expectWasmMatchesCpu(inputs, ({ a, b, bias, alpha }) =>
        tf.fused.matMul({ a, b, bias, activation, preluActivationWeights: alpha, leakyreluAlpha: 0.3 }),
      );
    });
  }
});

describe('wasm Sum over leading axes', () => {
  const cases: Array<{ shape: number[]; axis: number | number[] | null; keepDims: boolean }> = [
    { shape: [6, 5, 7, 9], axis: [0, 1, 2], keepDims: false },
    { shape: [6, 5, 7, 9], axis: [2, 0, 1], keepDims: true },
    { shape: [128, 300], axis: 0, keepDims: false },
    { shape: [1, 4, 3], axis: [0, 1], keepDims: false },
    { shape: [6, 5, 7], axis: [1], keepDims: false },
    { shape: [6, 5, 7], axis: null, keepDims: false },
  ];
  for (const c of cases) {
    it(`matches cpu for shape ${c.shape} axis ${JSON.stringify(c.axis)} keepDims ${c.keepDims}`, async () => {
      await expectWasmMatchesCpu({ x: input(c.shape, 11) }, ({ x }) => tf.sum(x, c.axis ?? undefined, c.keepDims));
    });
  }
});

describe('wasm kernels free what they allocate', () => {
  it('leave no tensors and no backend data behind', async () => {
    await tf.setBackend('wasm');
    // With IS_TEST the engine checks every kernel call for leaked backend data ids.
    const wasIsTest = tf.env().getBool('IS_TEST');
    tf.env().set('IS_TEST', true);
    try {
      const x = tf.randomNormal([2, 9, 9, 3]);
      const w = tf.randomNormal([3, 3, 3, 4]);
      const a = tf.randomNormal([6, 5]);
      const b = tf.randomNormal([5, 4]);
      const bias = tf.randomNormal([4]);
      const tensorsBefore = tf.memory().numTensors;
      const dataBefore = tf.engine().backend.numDataIds();
      tf.tidy(() => {
        for (const strides of [1, 2]) {
          const convPool = (xx: tf.Tensor, ww: tf.Tensor) =>
            tf.maxPool(tf.relu(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, strides, 'same')), 2, 2, 'same').sum();
          tf.grads(convPool)([x, w]);
        }
        tf.grads((aa: tf.Tensor, bb: tf.Tensor) => tf.matMul(aa, bb, true, true).sum())([a.transpose(), b.transpose()]);
        tf.fused.matMul({ a, b: b.transpose(), transposeB: true, bias, activation: 'relu' });
        tf.sum(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid'), [0, 1, 2]);
      });
      expect(tf.memory().numTensors).toBe(tensorsBefore);
      // Intermediates inside the kernels are backend data the engine does not see as tensors.
      expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
      tf.dispose([x, w, a, b, bias]);
    } finally {
      tf.env().set('IS_TEST', wasIsTest);
    }
  });
});
