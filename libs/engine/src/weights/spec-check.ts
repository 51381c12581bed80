
/**
 * A structural check that a JSON value looks like a ModelSpec (kind and field types). The model
 * builder validates the semantics (e.g. class counts, odd kernels); this only keeps garbage out
 * of blob headers. Unknown extra fields are allowed so that the spec can grow optional fields.
 * Returns a description of the first problem, or null if the value is acceptable.
 */
export function describeSpecProblem(value: unknown): string | null {
  if (!isPlainObject(value)) return 'spec must be an object';
  const spec = value as Record<string, unknown>;
  if (spec.kind !== 'mlp' && spec.kind !== 'cnn' && spec.kind !== 'layers') return `spec.kind must be 'mlp', 'cnn' or 'layers'`;
  if (!isPositiveIntArray(spec.inputShape) || (spec.inputShape.length !== 3 && (spec.kind === 'cnn' || spec.inputShape.length !== 1))) {
    return spec.kind === 'cnn' ? 'spec.inputShape must be 3 positive integers' : 'spec.inputShape must be 3 positive integers or 1';
  }
  if (!isPositiveInt(spec.classes)) return 'spec.classes must be a positive integer';
  if (spec.kind === 'layers') return isPlainObject(spec.topology) ? null : 'spec.topology must be an object';
  if (!isPositiveIntArray(spec.hidden)) return 'spec.hidden must be an array of positive integers';
  if (spec.kind === 'cnn') {
    if (!isPositiveIntArray(spec.convFilters)) return 'spec.convFilters must be an array of positive integers';
    if (!isPositiveInt(spec.kernelSize)) return 'spec.kernelSize must be a positive integer';
  }
  return null;
}

/** A deep copy of a JSON value with object keys sorted, so equal specs serialise identically. */
export function canonicalJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => canonicalJson(v)) as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = canonicalJson(v);
    }
    return out as T;
  }
  return value;
}


export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

function isPositiveIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every(isPositiveInt);
}
