import { coarseIndex, type LearnedGeneration, type LearnedGenerator } from '@fedkd/data';

/** Adam's moments over the generator's templates, carried from round to round. */
export interface GeneratorOptimiserState {
  step: number;
  m: Float32Array;
  v: Float32Array;
}

export interface GeneratorStepOptions {
  /** Adam step in logits per round (Adam normalises the scale of the estimate away). */
  learningRate: number;
  /** Weight of the student-ensemble disagreement (DFME) beside the ensemble's confidence in the intended class. */
  disagreementWeight: number;
  /** Templates are kept within ±this (logits): a saturated pixel no longer answers to the perturbation, so its gradient estimate dies. */
  templateBound: number;
}

export const GENERATOR_STEP_DEFAULTS: GeneratorStepOptions = { learningRate: 1, disagreementWeight: 1, templateBound: 3 };

/** How the round's queries looked to the ensemble: the numbers an operator watches the generator by. */
export interface GeneratorStepReport {
  pairsUsed: number;
  /** Share of the answered inputs the ensemble put in the class they were generated for. */
  intendedClassAgreement: number;
  /** Mean of the ensemble's top probability (at the round's temperature). */
  meanConfidence: number;
  /** How many answered inputs the ensemble put in each class. */
  answeredClasses: number[];
  /** Mean reward: log p_ensemble(intended class) + w * KL(ensemble || student). */
  meanReward: number;
}

/**
 * One black-box update of the learned generator from a round's answers. The teachers' gradients
 * are not available, so each antithetic pair (x+, x-) = sigmoid(centre ± sigma e) gives a
 * zeroth-order estimate of the reward's gradient along e (central differences, as in DFME), and
 * the estimate of a template is the mean over the pairs generated for its class:
 *
 *   g_y = mean over pairs i of class y of (R(x+_i) - R(x-_i)) / (2 sigma) * e_i
 *
 * R(x) = log p_E(y | x) + w * KL(p_E(x) || p_S(x)): the ensemble should label the input
 * confidently as its intended class (one class per template keeps the classes balanced, the
 * collapse DAFL's information-entropy term prevents), and the student should still be wrong about
 * it (the adversarial term of DFAD/DFME). Only the ensemble's aggregated answers are used; no
 * query beyond the round's own inputs is made.
 *
 * `round` is the generation the round asked about (generateLearnedImages of `generator`, with its
 * pairs' classes and perturbations). `ensemble` and `student` are [count x classes] probabilities
 * on its inputs; an all-zero
 * ensemble row means the input was not answered (confident-GNMax) and its pair is skipped.
 * `student` null (no student yet) counts as uniform.
 */
export function zerothOrderGeneratorStep(
  generator: LearnedGenerator,
  state: GeneratorOptimiserState | null,
  round: Pick<LearnedGeneration, 'count' | 'pairClasses' | 'perturbations'>,
  ensemble: Float32Array,
  student: Float32Array | null,
  options: GeneratorStepOptions = GENERATOR_STEP_DEFAULTS,
): { generator: LearnedGenerator; state: GeneratorOptimiserState; report: GeneratorStepReport } {
  const { classes, side, sigma, resolution } = generator;
  const pixels = side * side;
  if (ensemble.length !== round.count * classes) throw new RangeError(`ensemble answers hold ${ensemble.length / classes} rows for ${round.count} inputs`);
  if (student && student.length !== ensemble.length) throw new RangeError(`student predictions hold ${student.length / classes} rows for ${round.count} inputs`);
  const { pairClasses, perturbations } = round;
  const coarse = coarseIndex(side, resolution);
  const cells = resolution * resolution;

  const reward = (row: number, intended: number): number => {
    const p = ensemble.subarray(row * classes, (row + 1) * classes);
    let kl = 0;
    for (let c = 0; c < classes; c++) {
      const q = student ? student[row * classes + c] : 1 / classes;
      kl += p[c] * Math.log((p[c] + 1e-8) / (q + 1e-8));
    }
    return Math.log(p[intended] + 1e-8) + options.disagreementWeight * kl;
  };
  const answered = (row: number) => ensemble.subarray(row * classes, (row + 1) * classes).some((v) => v > 0);

  // Coarse-field gradient per class, upsampled once at the end.
  const coarseGradient = new Float64Array(classes * cells);
  const pairsPerClass = new Float64Array(classes);
  const answeredClasses = new Array<number>(classes).fill(0);
  let agreement = 0;
  let confidence = 0;
  let rewardSum = 0;
  let used = 0;
  for (let i = 0; i < pairClasses.length; i++) {
    const y = pairClasses[i];
    for (const row of [2 * i, 2 * i + 1]) {
      if (!answered(row)) continue;
      const p = ensemble.subarray(row * classes, (row + 1) * classes);
      const top = p.indexOf(Math.max(...p));
      answeredClasses[top]++;
      if (top === y) agreement++;
      confidence += p[top];
    }
    if (!answered(2 * i) || !answered(2 * i + 1)) continue;
    const plus = reward(2 * i, y);
    const minus = reward(2 * i + 1, y);
    rewardSum += plus + minus;
    used++;
    const slope = (plus - minus) / (2 * sigma);
    for (let k = 0; k < cells; k++) coarseGradient[y * cells + k] += slope * perturbations[i * cells + k];
    pairsPerClass[y]++;
  }

  // Adam ascent on the templates (gradient: the coarse estimate, spread over the pixels of each cell).
  const step = (state?.step ?? 0) + 1;
  const m = state ? Float32Array.from(state.m) : new Float32Array(generator.templates.length);
  const v = state ? Float32Array.from(state.v) : new Float32Array(generator.templates.length);
  if (m.length !== generator.templates.length || v.length !== generator.templates.length) throw new RangeError('optimiser state does not fit the generator');
  const templates = Float32Array.from(generator.templates);
  const [beta1, beta2] = [0.9, 0.999];
  for (let y = 0; y < classes; y++) {
    if (pairsPerClass[y] === 0) continue;
    for (let p = 0; p < pixels; p++) {
      const at = y * pixels + p;
      const g = coarseGradient[y * cells + coarse[p]] / pairsPerClass[y];
      m[at] = beta1 * m[at] + (1 - beta1) * g;
      v[at] = beta2 * v[at] + (1 - beta2) * g * g;
      const moved = templates[at] + (options.learningRate * (m[at] / (1 - beta1 ** step))) / (Math.sqrt(v[at] / (1 - beta2 ** step)) + 1e-8);
      templates[at] = Math.max(-options.templateBound, Math.min(options.templateBound, moved));
    }
  }
  const answeredInputs = answeredClasses.reduce((a, b) => a + b, 0);
  return {
    generator: { ...generator, templates },
    state: { step, m, v },
    report: {
      pairsUsed: used,
      intendedClassAgreement: answeredInputs ? agreement / answeredInputs : 0,
      meanConfidence: answeredInputs ? confidence / answeredInputs : 0,
      answeredClasses,
      meanReward: used ? rewardSum / (2 * used) : 0,
    },
  };
}

/** Optimiser state as bytes for storage: u32 step, u32 length, then m and v as float32. */
export function encodeOptimiserState(state: GeneratorOptimiserState): Uint8Array {
  const bytes = new Uint8Array(8 + 8 * state.m.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, state.step, true);
  view.setUint32(4, state.m.length, true);
  new Float32Array(bytes.buffer, 8, state.m.length).set(state.m);
  new Float32Array(bytes.buffer, 8 + 4 * state.m.length, state.v.length).set(state.v);
  return bytes;
}

export function decodeOptimiserState(bytes: Uint8Array): GeneratorOptimiserState {
  const copy = bytes.slice();
  if (copy.length < 8) throw new RangeError('generator optimiser state: truncated');
  const view = new DataView(copy.buffer);
  const length = view.getUint32(4, true);
  if (copy.length !== 8 + 8 * length) throw new RangeError(`generator optimiser state: ${copy.length} bytes for ${length} parameters`);
  return { step: view.getUint32(0, true), m: new Float32Array(copy.buffer, 8, length), v: new Float32Array(copy.buffer, 8 + 4 * length, length) };
}
