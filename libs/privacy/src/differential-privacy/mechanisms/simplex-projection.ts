import { rowCount } from './normal-source';

/**
 * Euclidean projection of each row of a flat [n x classes] matrix onto the probability simplex
 * { x : x >= 0, sum x = 1 } (the sort-based algorithm of Held, Wolfe and Crowder 1974; see also
 * Duchi et al. 2008): x = max(v - theta, 0) with theta chosen so that x sums to 1.
 *
 * Post-processing of a differentially private release, so it costs no privacy. Used to turn
 * noised probability vectors into rows the protocol's validator accepts (finite, >= 0, summing to
 * 1). Returns a new Float64Array; converting it to Float32Array keeps each row's sum within about
 * classes * 6e-8 of 1.
 */
export function projectRowsToSimplex(values: ArrayLike<number>, classes: number): Float64Array {
  const n = rowCount(values, classes, 'projectRowsToSimplex: values');
  const out = new Float64Array(values.length);
  const sorted = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    const base = i * classes;
    for (let c = 0; c < classes; c++) {
      const v = values[base + c];
      if (!Number.isFinite(v)) throw new RangeError(`projectRowsToSimplex: row ${i}, class ${c} is ${v}; values must be finite`);
      sorted[c] = v;
    }
    sorted.sort();
    // Descending scan: rho is the largest j with u_j - (sum_{l<=j} u_l - 1) / j > 0.
    let cumulative = 0;
    let theta = 0;
    for (let j = 1; j <= classes; j++) {
      const u = sorted[classes - j];
      cumulative += u;
      const candidate = (cumulative - 1) / j;
      if (u - candidate > 0) theta = candidate;
    }
    for (let c = 0; c < classes; c++) out[base + c] = Math.max(values[base + c] - theta, 0);
  }
  return out;
}
