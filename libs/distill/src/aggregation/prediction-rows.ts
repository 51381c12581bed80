/** Row arithmetic shared by the aggregation rules (row-major [n x C] Float32Arrays). */

/**
 * Divides `row` (C values) by its sum and writes it at out[offset..offset+C). When the sum is 0
 * (a robust rule discarded every non-zero value of a row) it writes `fallback` instead, itself
 * normalised. Accumulation is float64, so output rows sum to 1 up to float32 rounding.
 */
export function writeNormalisedRow(out: Float32Array, offset: number, row: Float64Array, fallback?: () => Float64Array): void {
  let sum = 0;
  for (let c = 0; c < row.length; c++) sum += row[c];
  if (!(sum > 0)) {
    if (!fallback) throw new Error('writeNormalisedRow: row sums to 0 and no fallback was given');
    return writeNormalisedRow(out, offset, fallback());
  }
  for (let c = 0; c < row.length; c++) out[offset + c] = row[c] / sum;
}

/** The plain mean over clients of row i, in float64. */
export function meanRow(predictions: readonly Float32Array[], i: number, classes: number): Float64Array {
  const row = new Float64Array(classes);
  for (const p of predictions) for (let c = 0; c < classes; c++) row[c] += p[i * classes + c];
  for (let c = 0; c < classes; c++) row[c] /= predictions.length;
  return row;
}

/**
 * Applies `combine` to the k clients' values of every coordinate (i, c), passing them sorted
 * ascending, then normalises each row to sum 1. A row whose combined values are all 0 (possible
 * when clients disagree completely: three clients, one-hot on three different classes, have median
 * 0 everywhere) falls back to the plain mean of that row: it is a valid distribution and keeps the
 * information that the clients disagree, where a uniform row would also spread mass onto classes
 * no client proposed.
 */
export function combineCoordinatewise(
  predictions: readonly Float32Array[],
  n: number,
  classes: number,
  combine: (sorted: Float64Array) => number,
): Float32Array {
  const out = new Float32Array(n * classes);
  const values = new Float64Array(predictions.length);
  const row = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < classes; c++) {
      predictions.forEach((p, k) => {
        values[k] = p[i * classes + c];
      });
      values.sort();
      row[c] = combine(values);
    }
    writeNormalisedRow(out, i * classes, row, () => meanRow(predictions, i, classes));
  }
  return out;
}
