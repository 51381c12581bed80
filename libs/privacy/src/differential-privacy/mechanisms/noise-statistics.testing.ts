/** Sample mean and (unbiased) variance. */
export function meanAndVariance(values: ArrayLike<number>): { mean: number; variance: number } {
  const n = values.length;
  let mean = 0;
  for (let k = 0; k < n; k++) mean += values[k];
  mean /= n;
  let squares = 0;
  for (let k = 0; k < n; k++) squares += (values[k] - mean) ** 2;
  return { mean, variance: squares / (n - 1) };
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, absolute error < 1.5e-7). */
export function standardNormalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}
