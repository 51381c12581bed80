import { describe, expect, it } from 'vitest';
import { validateClientPredictions } from '../aggregation/validate-predictions';
import { applyAttack, ATTACK_NAMES, chooseAttackers, confidentWrong, flipLabels, parseAttackName, pushClass, scaledRows, uniformRows } from './attacks';

const C = 10;
/** Three honest rows: confident 3, confident 7, unsure between 0 and 1. */
function honestRows(): Float32Array {
  const rows = [
    [0.02, 0.02, 0.02, 0.8, 0.02, 0.02, 0.02, 0.04, 0.02, 0.02],
    [0.01, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01, 0.86, 0.02, 0.01],
    [0.4, 0.35, 0.05, 0.05, 0.03, 0.03, 0.03, 0.02, 0.02, 0.02],
  ];
  return new Float32Array(rows.flat());
}
const shape = { n: 3, classes: C };
const row = (p: Float32Array, i: number) => Array.from(p.subarray(i * C, (i + 1) * C));
const argmax = (values: number[]) => values.indexOf(Math.max(...values));

describe('attacks on soft predictions', () => {
  it('every attack keeps the shape and sends rows that sum to 1 (it passes the coordinator validation)', () => {
    for (const name of ATTACK_NAMES) {
      const out = applyAttack(name, honestRows(), shape, { seed: 1, round: 2 });
      expect(out).toHaveLength(3 * C);
      expect(() => validateClientPredictions([out], shape)).not.toThrow();
    }
  });

  it('flip moves each class\'s probability to the next class, so no row keeps its argmax', () => {
    const out = flipLabels(honestRows(), shape);
    expect(argmax(row(out, 0))).toBe(4);
    expect(argmax(row(out, 1))).toBe(8);
    expect(out[1 * C + 0]).toBeCloseTo(0.01, 6); // class 9's mass wraps to class 0
  });

  it('targeted swaps classes 7 and 1 only on the rows the teacher calls 7', () => {
    const honest = honestRows();
    const out = pushClass(honest, shape);
    expect(argmax(row(out, 1))).toBe(1);
    expect(out[1 * C + 1]).toBeCloseTo(0.86, 6);
    expect(row(out, 0)).toEqual(row(honest, 0));
    expect(row(out, 2)).toEqual(row(honest, 2));
    expect(() => pushClass(honest, shape, 3, 3)).toThrow(/source and target classes must differ/);
    expect(() => pushClass(honest, shape, 3, 10)).toThrow(/target class must be an integer in \[0, 10\)/);
  });

  it('uniform sends 1/C everywhere', () => {
    expect(Array.from(uniformRows(honestRows(), shape)).every((v) => Math.abs(v - 0.1) < 1e-7)).toBe(true);
  });

  it('confident-wrong puts all the mass on the least likely class', () => {
    const out = confidentWrong(honestRows(), shape);
    expect(row(out, 0)).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(argmax(row(out, 1))).toBe(0);
    expect(out[2 * C + 7]).toBe(1);
  });

  it('scaled is the flip made near one-hot', () => {
    const out = scaledRows(honestRows(), shape);
    expect(out[0 * C + 4]).toBeGreaterThan(0.999);
    expect(out[1 * C + 8]).toBeGreaterThan(0.999);
    expect(Math.max(...row(out, 2))).toBeGreaterThan(0.9);
  });

  it('collude gives every attacker the same one-hot matrix whatever its own predictions, a new one each round', () => {
    const a = applyAttack('collude', honestRows(), shape, { seed: 5, round: 1 });
    const b = applyAttack('collude', uniformRows(honestRows(), shape), shape, { seed: 5, round: 1 });
    const next = applyAttack('collude', honestRows(), { n: 3, classes: C }, { seed: 5, round: 2 });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(a.filter((v) => v === 1)).toHaveLength(3);
    const big = { n: 50, classes: C };
    const many = new Float32Array(50 * C).fill(0.1);
    expect(Array.from(applyAttack('collude', many, big, { seed: 5, round: 1 }))).not.toEqual(Array.from(applyAttack('collude', many, big, { seed: 5, round: 2 })));
    expect(next).toHaveLength(3 * C);
  });

  it('refuses a matrix that does not match its shape, naming both', () => {
    expect(() => flipLabels(new Float32Array(7), shape)).toThrow(/expected n x C = 3 x 10 = 30 values, got 7/);
  });

  it('chooses round(fraction x clients) attackers, the same for the same seed, sorted', () => {
    const chosen = chooseAttackers(20, 0.3, 0);
    expect(chosen).toHaveLength(6);
    expect(chooseAttackers(20, 0.3, 0)).toEqual(chosen);
    expect([...chosen].sort((x, y) => x - y)).toEqual(chosen);
    expect(chooseAttackers(20, 0.3, 1)).not.toEqual(chosen);
    expect(chooseAttackers(5, 0, 0)).toEqual([]);
    expect(() => chooseAttackers(5, 0.5, 0)).toThrow(/must be in \[0, 0.5\)/);
  });

  it('names the known attacks when given an unknown one', () => {
    expect(parseAttackName('sybil')).toBe('sybil');
    expect(() => parseAttackName('poison')).toThrow("unknown attack 'poison' (known: flip, targeted, uniform, confident-wrong, scaled, collude, sybil)");
  });
});
