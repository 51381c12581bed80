/**
 * Where Gaussian noise comes from. `SeededRng` of `@fedkd/engine` satisfies this interface
 * structurally (reproducible experiments); `secureNormalRng()` is the source for real runs. The
 * mechanisms only need `normal`, so this library takes no runtime dependency on the engine (and
 * through it on TensorFlow.js).
 */
export interface NormalSource {
  /** One draw from N(mean, std^2). */
  normal(mean?: number, std?: number): number;
}

/** sigma must be finite and >= 0; sigma = 0 means no noise (and no privacy): for the epsilon = infinity baseline only. */
export function assertSigma(sigma: number, name = 'sigma'): void {
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma < 0) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${String(sigma)}`);
  }
}

export function assertClasses(classes: number): void {
  if (!Number.isSafeInteger(classes) || classes < 1) {
    throw new RangeError(`classes must be a positive integer, got ${String(classes)}`);
  }
}

/** A flat [n x classes] matrix: its length is a multiple of `classes`; returns n. */
export function rowCount(values: ArrayLike<number>, classes: number, what: string): number {
  assertClasses(classes);
  if (values.length % classes !== 0) {
    throw new RangeError(`${what}: length ${values.length} is not a multiple of ${classes} classes`);
  }
  return values.length / classes;
}

/**
 * A new Float64Array holding `values[k] + N(0, sigma^2)`, an independent draw per coordinate.
 * The input is left untouched.
 */
export function addGaussianNoise(values: ArrayLike<number>, sigma: number, rng: NormalSource): Float64Array {
  assertSigma(sigma);
  const out = new Float64Array(values.length);
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    if (!Number.isFinite(v)) throw new RangeError(`addGaussianNoise: value ${k} is ${v}; values must be finite`);
    out[k] = sigma === 0 ? v : v + rng.normal(0, sigma);
  }
  return out;
}
