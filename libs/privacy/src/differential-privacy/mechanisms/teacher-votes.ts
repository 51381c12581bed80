import { assertClasses } from './normal-source';

/**
 * Vote counts of an ensemble of teachers, as in PATE: each teacher votes for the argmax of its
 * probability vector on each query, and `votes[i * classes + c]` is how many teachers voted c on
 * query i.
 *
 * `predictions[t]` is teacher t's flat [n x classes] matrix of probabilities (or logits: only the
 * argmax matters). Ties inside one teacher's row go to the lowest class index. The privacy unit
 * of PATE is one private example, which influences exactly one teacher: it can move one vote per
 * query from one class to another, so each query's vote vector has L2 sensitivity sqrt(2).
 *
 * These counts are the unnoised aggregate: they must never be logged, stored or sent; only a
 * noised release (gnmax, confidentGnmax, or the counts plus a distributed noise share under
 * secure aggregation) leaves the client.
 */
export function teacherVotes(predictions: readonly ArrayLike<number>[], n: number, classes: number): Float64Array {
  assertClasses(classes);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`teacherVotes: n must be a non-negative integer, got ${String(n)}`);
  const votes = new Float64Array(n * classes);
  predictions.forEach((p, t) => {
    if (p.length !== n * classes) {
      throw new RangeError(`teacherVotes: teacher ${t} has ${p.length} values; expected n x classes = ${n} x ${classes} = ${n * classes}`);
    }
    for (let i = 0; i < n; i++) {
      const base = i * classes;
      let best = 0;
      let bestValue = -Infinity;
      for (let c = 0; c < classes; c++) {
        const v = p[base + c];
        if (Number.isNaN(v)) throw new RangeError(`teacherVotes: teacher ${t}, row ${i}, class ${c} is NaN`);
        if (v > bestValue) {
          bestValue = v;
          best = c;
        }
      }
      votes[base + best] += 1;
    }
  });
  return votes;
}
