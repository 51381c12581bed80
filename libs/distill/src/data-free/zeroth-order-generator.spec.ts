import { describe, expect, it } from 'vitest';
import { generateLearnedImages, initialLearnedGenerator } from '@fedkd/data';
import { decodeOptimiserState, encodeOptimiserState, GENERATOR_STEP_DEFAULTS, zerothOrderGeneratorStep } from './zeroth-order-generator';

const CLASSES = 10;

/**
 * A black box with a known answer: the probability of each input's intended class grows with the
 * ink in the top half of the image. The step sees only these answers, never this function.
 */
function topHalfOracle(images: Float32Array, count: number, intended: (row: number) => number): Float32Array {
  const answers = new Float32Array(count * CLASSES);
  for (let row = 0; row < count; row++) {
    let ink = 0;
    for (let p = 0; p < 392; p++) ink += images[row * 784 + p];
    const confidence = 1 / (1 + Math.exp(-(ink / 392 - 0.5) * 8));
    for (let c = 0; c < CLASSES; c++) answers[row * CLASSES + c] = c === intended(row) ? confidence : (1 - confidence) / (CLASSES - 1);
  }
  return answers;
}

const meanTopHalf = (templates: Float32Array, y: number) => templates.subarray(y * 784, y * 784 + 392).reduce((a, b) => a + b, 0) / 392;
const meanBottomHalf = (templates: Float32Array, y: number) => templates.subarray(y * 784 + 392, (y + 1) * 784).reduce((a, b) => a + b, 0) / 392;

describe('zeroth-order generator step', () => {
  it('climbs a black-box reward from answers alone: templates gain ink where the answers reward it, and nowhere else', () => {
    let generator = initialLearnedGenerator(4);
    let state = null;
    const start = generator.templates;
    const options = { ...GENERATOR_STEP_DEFAULTS, disagreementWeight: 0, learningRate: 0.3 };
    for (let round = 0; round < 5; round++) {
      const generation = generateLearnedImages(generator, round, 400);
      const answers = topHalfOracle(generation.values, 400, (row) => (row >> 1) % CLASSES);
      const step = zerothOrderGeneratorStep(generator, state, generation, answers, null, options);
      expect(step.report.pairsUsed).toBe(200);
      generator = step.generator;
      state = step.state;
    }
    for (let y = 0; y < CLASSES; y++) {
      expect(meanTopHalf(generator.templates, y) - meanTopHalf(start, y)).toBeGreaterThan(0.8);
      expect(Math.abs(meanBottomHalf(generator.templates, y) - meanBottomHalf(start, y))).toBeLessThan(0.5);
    }
    expect(state!.step).toBe(5);
  });

  it('reports how the ensemble answered and skips pairs with an unanswered input', () => {
    const generator = initialLearnedGenerator(1);
    const answers = new Float32Array(20 * CLASSES);
    // Every input answered as class 3, except input 0 (pair 0) which was not answered at all.
    for (let row = 1; row < 20; row++) answers[row * CLASSES + 3] = 1;
    const step = zerothOrderGeneratorStep(generator, null, generateLearnedImages(generator, 2, 20), answers, null);
    expect(step.report.pairsUsed).toBe(9);
    expect(step.report.answeredClasses[3]).toBe(19);
    // Only pair 3 (inputs 6 and 7) was generated for class 3.
    expect(step.report.intendedClassAgreement).toBeCloseTo(2 / 19, 6);
    expect(step.generator.templates.every((v) => Math.abs(v) <= GENERATOR_STEP_DEFAULTS.templateBound)).toBe(true);
  });

  it('refuses answers or student predictions of the wrong size', () => {
    const generator = initialLearnedGenerator(1);
    const generation = generateLearnedImages(generator, 1, 20);
    expect(() => zerothOrderGeneratorStep(generator, null, generation, new Float32Array(190), null)).toThrow(/19 rows for 20 inputs/);
    expect(() => zerothOrderGeneratorStep(generator, null, generation, new Float32Array(200), new Float32Array(10))).toThrow(/student/);
  });

  it('stores and restores its optimiser state exactly, and refuses a truncated one', () => {
    const state = { step: 3, m: Float32Array.from([1, -2, 3.5]), v: Float32Array.from([0.25, 4, 9]) };
    const back = decodeOptimiserState(encodeOptimiserState(state));
    expect(back.step).toBe(3);
    expect(Array.from(back.m)).toEqual([1, -2, 3.5]);
    expect(Array.from(back.v)).toEqual([0.25, 4, 9]);
    expect(() => decodeOptimiserState(encodeOptimiserState(state).subarray(0, 12))).toThrow(/bytes for 3 parameters/);
  });
});
