import { rowCount } from './normal-source';

/**
 * The Gaussian mechanism on the sum of clipped probability vectors.
 *
 * Each teacher's row (one proxy query) is scaled down to L2 norm <= clipNorm; the client sums its
 * teachers' clipped rows and adds N(0, sigma^2) per coordinate (or, under secure aggregation,
 * a share of that noise: see `distributedNoiseShare`).
 *
 * Sensitivity, per query row: adding or removing one teacher moves the sum by at most clipNorm.
 * Under PATE's relation (one private example changes one teacher, which stays in the ensemble)
 * the row changes from p to p'; since clipped probability vectors are non-negative,
 * ||p - p'||^2 = ||p||^2 + ||p'||^2 - 2 p.p' <= 2 clipNorm^2, so the sensitivity is
 * sqrt(2) * clipNorm (see `clippedSumL2Sensitivity`). With sigma = noiseMultiplier * clipNorm,
 * the accountant's Gaussian noise multiplier is sigma / sensitivity: noiseMultiplier under
 * add/remove, noiseMultiplier / sqrt(2) under replace-one. This mirrors GNMax, whose
 * lambda / sigma^2 bound is the Gaussian mechanism at sensitivity sqrt(2).
 *
 * One private example can change every one of the n rows its teacher answers, so a release of n
 * rows is n Gaussian mechanisms composed: charge n queries.
 */

export type NeighbouringRelation = 'replace-one' | 'add-remove';

/** L2 sensitivity of one row of the clipped sum under the given relation (probability rows, so non-negative). */
export function clippedSumL2Sensitivity(clipNorm: number, relation: NeighbouringRelation = 'replace-one'): number {
  assertClipNorm(clipNorm);
  // A probability vector has L2 norm <= 1, so clipping above 1 changes nothing.
  const effective = Math.min(clipNorm, 1);
  return relation === 'replace-one' ? Math.SQRT2 * effective : effective;
}

/**
 * Per-row L2 clipping: each row of the flat [n x classes] matrix with norm above clipNorm is
 * scaled to norm clipNorm; rows at or below it are copied unchanged. Returns a new Float64Array.
 */
export function clipRowsL2(predictions: ArrayLike<number>, classes: number, clipNorm: number): Float64Array {
  assertClipNorm(clipNorm);
  const n = rowCount(predictions, classes, 'clipRowsL2: predictions');
  const out = new Float64Array(predictions.length);
  for (let i = 0; i < n; i++) {
    const base = i * classes;
    let squares = 0;
    for (let c = 0; c < classes; c++) {
      const v = predictions[base + c];
      if (!Number.isFinite(v)) throw new RangeError(`clipRowsL2: row ${i}, class ${c} is ${v}; values must be finite`);
      squares += v * v;
    }
    const norm = Math.sqrt(squares);
    if (norm <= clipNorm) {
      for (let c = 0; c < classes; c++) out[base + c] = predictions[base + c];
      continue;
    }
    // Rounding can leave a scaled row a few ulps above clipNorm: shrink until its computed norm is not.
    let scale = clipNorm / norm;
    for (;;) {
      let scaledSquares = 0;
      for (let c = 0; c < classes; c++) {
        const v = predictions[base + c] * scale;
        out[base + c] = v;
        scaledSquares += v * v;
      }
      if (Math.sqrt(scaledSquares) <= clipNorm) break;
      scale *= 1 - 4 * Number.EPSILON;
    }
  }
  return out;
}

/** Sum over teachers of their clipped rows: a flat [n x classes] Float64Array. Unnoised: never log, store or send it. */
export function clippedSum(predictions: readonly ArrayLike<number>[], n: number, classes: number, clipNorm: number): Float64Array {
  const sum = new Float64Array(n * classes);
  predictions.forEach((p, t) => {
    if (p.length !== n * classes) {
      throw new RangeError(`clippedSum: teacher ${t} has ${p.length} values; expected n x classes = ${n * classes}`);
    }
    const clipped = clipRowsL2(p, classes, clipNorm);
    for (let k = 0; k < sum.length; k++) sum[k] += clipped[k];
  });
  return sum;
}

function assertClipNorm(clipNorm: number): void {
  if (typeof clipNorm !== 'number' || !Number.isFinite(clipNorm) || clipNorm <= 0) {
    throw new RangeError(`clipNorm must be a finite number > 0, got ${String(clipNorm)}`);
  }
}
