/** Typed arrays one after another in a new array of the same kind. */
export function concatArrays<T extends Float32Array | Int32Array>(parts: readonly T[], make: (length: number) => T): T {
  const all = make(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return all;
}

export const concatFloat32 = (parts: readonly Float32Array[]): Float32Array => concatArrays(parts, (n) => new Float32Array(n));
