import { SeededRng } from '@fedkd/engine';
import type { PredictionShape } from '../aggregation/aggregation-rule';

/**
 * Poisoned answers: what an enrolled, correctly signing client can send instead of its teacher's
 * honest soft predictions. Each attack is a pure function of the attacker's honest [n x C]
 * predictions (row-major, rows summing to 1) and the round's context, returning a new matrix whose
 * rows also sum to 1 (so it passes every validation a coordinator can run). `fedkd simulate
 * --attack` and `npm run robustness-table` both apply these very functions.
 */
export const ATTACK_NAMES = ['flip', 'targeted', 'uniform', 'confident-wrong', 'scaled', 'collude', 'sybil'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

/** What an attacker knows besides its own predictions: the run's seed and the round (both public). */
export interface AttackContext {
  seed: number;
  round: number;
}

/** targeted: the class whose rows are pushed, and where to. */
export const TARGETED_SOURCE_CLASS = 7;
export const TARGETED_TARGET_CLASS = 1;
/** scaled: the sharpening temperature applied to the permuted rows (p^(1/T), renormalised). */
export const SCALED_TEMPERATURE = 0.05;

/**
 * flip: labels permuted, class c's probability moved to class (c + 1) mod C (a derangement: no
 * class keeps its own mass), so the answer is exactly as confident as the teacher, and wrong.
 */
export function flipLabels(predictions: Float32Array, shape: PredictionShape): Float32Array {
  const { n, classes } = checkedShape(predictions, shape);
  const out = new Float32Array(predictions.length);
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    for (let c = 0; c < classes; c++) out[row + ((c + 1) % classes)] = predictions[row + c];
  }
  return out;
}

/**
 * targeted: on every row whose argmax is `source`, the probabilities of `source` and `target`
 * are swapped (the teacher's "7" becomes an equally confident "1"); other rows are unchanged.
 */
export function pushClass(predictions: Float32Array, shape: PredictionShape, source = TARGETED_SOURCE_CLASS, target = TARGETED_TARGET_CLASS): Float32Array {
  const { n, classes } = checkedShape(predictions, shape);
  for (const [name, c] of [['source', source], ['target', target]] as const) {
    if (!Number.isInteger(c) || c < 0 || c >= classes) throw new RangeError(`targeted attack: ${name} class must be an integer in [0, ${classes}), got ${c}`);
  }
  if (source === target) throw new RangeError(`targeted attack: source and target classes must differ, both are ${source}`);
  const out = Float32Array.from(predictions);
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    if (argmaxAt(predictions, row, classes) !== source) continue;
    out[row + source] = predictions[row + target];
    out[row + target] = predictions[row + source];
  }
  return out;
}

/** uniform: every row 1 / C (an answer that carries no information and dilutes the others). */
export function uniformRows(predictions: Float32Array, shape: PredictionShape): Float32Array {
  const { classes } = checkedShape(predictions, shape);
  return new Float32Array(predictions.length).fill(1 / classes);
}

/** confident-wrong: all the mass on the class the teacher finds least likely (the lowest index on ties). */
export function confidentWrong(predictions: Float32Array, shape: PredictionShape): Float32Array {
  const { n, classes } = checkedShape(predictions, shape);
  const out = new Float32Array(predictions.length);
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    let least = 0;
    for (let c = 1; c < classes; c++) if (predictions[row + c] < predictions[row + least]) least = c;
    out[row + least] = 1;
  }
  return out;
}

/**
 * scaled: the flipped rows sharpened to extremes (p^(1/T) renormalised, T = SCALED_TEMPERATURE),
 * near one-hot: a wrong answer made as confident as possible, which is what buys influence from a
 * rule that weights answers by their confidence (entropy-weighted).
 */
export function scaledRows(predictions: Float32Array, shape: PredictionShape, temperature = SCALED_TEMPERATURE): Float32Array {
  const { n, classes } = checkedShape(predictions, shape);
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new RangeError(`scaled attack: temperature must be positive and finite, got ${temperature}`);
  const flipped = flipLabels(predictions, shape);
  const out = new Float32Array(predictions.length);
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    // In log space, shifted by the row's largest log, so that nothing under- or overflows.
    let largest = -Infinity;
    for (let c = 0; c < classes; c++) largest = Math.max(largest, Math.log(flipped[row + c]));
    let sum = 0;
    const values = new Float64Array(classes);
    for (let c = 0; c < classes; c++) {
      values[c] = flipped[row + c] > 0 ? Math.exp((Math.log(flipped[row + c]) - largest) / temperature) : 0;
      sum += values[c];
    }
    for (let c = 0; c < classes; c++) out[row + c] = values[c] / sum;
  }
  return out;
}

/**
 * collude: every attacker sends the same matrix, one-hot on a class drawn per row from a seed the
 * attackers share (the run's seed and the round), whatever their own teachers say: identical
 * wrong answers (right only by chance, 1 in C) that coordinate-wise rules see as a block.
 */
export function colludingRows(predictions: Float32Array, shape: PredictionShape, context: AttackContext): Float32Array {
  const { n, classes } = checkedShape(predictions, shape);
  const rng = new SeededRng(context.seed).fork(`collude-${context.round}`);
  const out = new Float32Array(predictions.length);
  for (let i = 0; i < n; i++) out[i * classes + rng.int(classes)] = 1;
  return out;
}

/**
 * The attacker's answer. `sybil` is one attacker holding several identities: each identity sends
 * the attacker's own flipped predictions, so the crafted matrix is the same under every identity
 * (callers give every sybil identity the same attacker's predictions).
 */
export function applyAttack(name: AttackName, predictions: Float32Array, shape: PredictionShape, context: AttackContext): Float32Array {
  switch (name) {
    case 'flip':
    case 'sybil':
      return flipLabels(predictions, shape);
    case 'targeted':
      return pushClass(predictions, shape);
    case 'uniform':
      return uniformRows(predictions, shape);
    case 'confident-wrong':
      return confidentWrong(predictions, shape);
    case 'scaled':
      return scaledRows(predictions, shape);
    case 'collude':
      return colludingRows(predictions, shape, context);
  }
}

/** 'flip' -> 'flip'; anything else -> RangeError listing the known attacks. */
export function parseAttackName(text: string): AttackName {
  if (!(ATTACK_NAMES as readonly string[]).includes(text)) throw new RangeError(`unknown attack '${text}' (known: ${ATTACK_NAMES.join(', ')})`);
  return text as AttackName;
}

/**
 * Which of `clients` clients attack: round(fraction x clients) of them, chosen by a permutation
 * seeded by `seed` (deterministic, and not simply the first indices), returned ascending. With
 * `sybil` they are the identities of one attacker, `attackerIndices[0]`, whose teacher drives them all.
 */
export function chooseAttackers(clients: number, fraction: number, seed: number): number[] {
  if (!Number.isInteger(clients) || clients < 1) throw new RangeError(`attackers: clients must be a positive integer, got ${clients}`);
  if (!(fraction >= 0 && fraction < 0.5)) {
    throw new RangeError(`attackers: the fraction must be in [0, 0.5) (a majority of attackers is the federation), got ${fraction}`);
  }
  const count = Math.round(fraction * clients);
  return new SeededRng(seed)
    .fork('attackers')
    .permutation(clients)
    .slice(0, count)
    .sort((a, b) => a - b);
}

function checkedShape(predictions: Float32Array, shape: PredictionShape): PredictionShape {
  const { n, classes } = shape;
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(classes) || classes < 2) {
    throw new RangeError(`attack: shape must have a positive integer n and at least 2 classes, got n=${n}, classes=${classes}`);
  }
  if (predictions.length !== n * classes) throw new RangeError(`attack: expected n x C = ${n} x ${classes} = ${n * classes} values, got ${predictions.length}`);
  return { n, classes };
}

function argmaxAt(values: Float32Array, offset: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (values[offset + c] > values[offset + best]) best = c;
  return best;
}
