import fc from 'fast-check';

/**
 * Test support for the property-based ("fuzz") tests of every decoder and validator: arbitrary
 * untrusted values, mutations of valid inputs (bytes and JSON-like records), and a check that a
 * function fails only in its documented, typed way.
 */

/** Runs per property: enough to hit each mutation kind many times, a few seconds per file in all. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 200);

/**
 * The suite runs every property from one fixed seed, so that a run is reproducible and independent
 * of the clock; `FUZZ_SEED=<n>` explores other inputs (`FUZZ_SEED=random`: a new seed each run,
 * printed by fast-check with any counterexample).
 */
export const FUZZ_SEED = process.env.FUZZ_SEED === 'random' ? undefined : Number(process.env.FUZZ_SEED ?? 20261201);
fc.configureGlobal({ seed: FUZZ_SEED });

/**
 * Object keys: arbitrary strings, and names that trip code which prints or copies untrusted
 * objects (`{"toString": 1}` makes String(value) and template literals throw; `__proto__` arrives
 * from JSON.parse as an own property).
 */
export const fuzzKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 10 }) },
  { weight: 1, arbitrary: fc.constantFrom('toString', 'valueOf', '__proto__', 'constructor', 'toJSON', 'then', 'round', 'kind', 'length') },
);

/** Any JavaScript value a peer or a file could produce, binary and odd prototypes included. */
export const anyValue: fc.Arbitrary<unknown> = fc.anything({
  key: fuzzKey,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  maxDepth: 3,
});

/** 32-bit words that declare absurd sizes when read as a length or a dimension. */
export const HUGE_WORDS: readonly number[] = [0xffffffff, 0x80000000, 0x7fffffff, 0x40000000, 0x10000000];

type ByteMutation =
  | { kind: 'flip'; at: number[]; xor: number[] }
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; tail: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'huge-word'; at: number; word: number; littleEndian: boolean }
  | { kind: 'overwrite'; at: number; bytes: Uint8Array };

const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
    xor: fc.array(fc.integer({ min: 1, max: 255 }), { minLength: 8, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), tail: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({
    kind: fc.constant('huge-word' as const),
    at: fc.nat(),
    word: fc.constantFrom(...HUGE_WORDS),
    littleEndian: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
);

function applyByteMutation(valid: Uint8Array, m: ByteMutation): Uint8Array {
  const n = valid.length;
  switch (m.kind) {
    case 'flip': {
      const out = new Uint8Array(valid);
      if (n > 0) m.at.forEach((a, i) => (out[a % n] ^= m.xor[i]));
      return out;
    }
    case 'truncate':
      return valid.slice(0, n === 0 ? 0 : m.at % n);
    case 'extend': {
      const out = new Uint8Array(n + m.tail.length);
      out.set(valid);
      out.set(m.tail, n);
      return out;
    }
    case 'delete': {
      const at = n === 0 ? 0 : m.at % n;
      const out = new Uint8Array(n - Math.min(m.count, n - at));
      out.set(valid.subarray(0, at));
      out.set(valid.subarray(at + m.count), at);
      return out;
    }
    case 'huge-word': {
      const out = new Uint8Array(valid);
      if (n < 4) return out;
      new DataView(out.buffer).setUint32(m.at % (n - 3), m.word, m.littleEndian);
      return out;
    }
    case 'overwrite': {
      const out = new Uint8Array(valid);
      const at = n === 0 ? 0 : m.at % n;
      out.set(m.bytes.subarray(0, Math.max(0, n - at)), at);
      return out;
    }
  }
}

/** Valid bytes with 1-3 mutations: bit flips, truncation, extension, deletion, huge 32-bit words, overwrites. */
export function mutatedBytes(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.array(byteMutation, { minLength: 1, maxLength: 3 }).map((ms) => ms.reduce(applyByteMutation, valid));
}

/** A path into a JSON-like value: object keys and array indices. */
type Path = (string | number)[];

function pathsOf(value: unknown, prefix: Path = [], depth = 0): Path[] {
  if (depth > 6 || typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return [];
  const keys: (string | number)[] = Array.isArray(value) ? value.map((_, i) => i).slice(0, 8) : Object.keys(value);
  return keys.flatMap((k) => [[...prefix, k], ...pathsOf((value as Record<string | number, unknown>)[k], [...prefix, k], depth + 1)]);
}

function cloneShallowAlong(value: unknown, path: Path): unknown {
  const copy = Array.isArray(value) ? [...value] : { ...(value as object) };
  if (path.length > 1) {
    const head = path[0] as keyof typeof copy;
    (copy as Record<string | number, unknown>)[head as string] = cloneShallowAlong(copy[head], path.slice(1));
  }
  return copy;
}

function setAt(root: unknown, path: Path, replacement: { remove: boolean; value: unknown }): unknown {
  if (path.length === 0) return replacement.value;
  const out = cloneShallowAlong(root, path);
  let parent = out as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (replacement.remove && !Array.isArray(parent)) delete parent[last];
  else parent[last] = replacement.value;
  return out;
}

/**
 * A valid message or document with 1-3 fields (at any depth) replaced by arbitrary values of any
 * type (`values`: any value by default; `fc.jsonValue()` for documents that come as JSON), or removed,
 * or an unknown field added. Binary fields are kept by reference where untouched.
 */
export function mutatedRecord<T>(valid: T, values: fc.Arbitrary<unknown> = anyValue): fc.Arbitrary<unknown> {
  const paths = pathsOf(valid);
  const one = fc.oneof(
    fc.record({ path: fc.constantFrom(...(paths.length ? paths : [[]])), remove: fc.boolean(), value: values }),
    fc.record({ path: fc.string({ minLength: 1, maxLength: 12 }).map((k) => [k] as Path), remove: fc.constant(false), value: values }),
  );
  return fc.array(one, { minLength: 1, maxLength: 3 }).map((edits) =>
    edits.reduce<unknown>((acc, e) => (typeof acc === 'object' && acc !== null ? setAt(acc, e.path, e) : acc), valid),
  );
}

/**
 * Calls `fn`; returns 'ok' if it returned, 'typed' if it threw an error `isTyped` accepts, and
 * rethrows anything else (a TypeError or RangeError from a decoder is a bug: the property fails
 * and fast-check shrinks the input that caused it).
 */
export function outcome(fn: () => unknown, isTyped: (error: unknown) => boolean): 'ok' | 'typed' {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (isTyped(error)) return 'typed';
    throw error;
  }
}

/** The async form of `outcome`. */
export async function outcomeAsync(fn: () => Promise<unknown>, isTyped: (error: unknown) => boolean): Promise<'ok' | 'typed'> {
  try {
    await fn();
    return 'ok';
  } catch (error) {
    if (isTyped(error)) return 'typed';
    throw error;
  }
}

/** A little-endian uint32 written into a copy of `bytes` at `offset`. */
export function withUint32(bytes: Uint8Array, offset: number, value: number, littleEndian = true): Uint8Array {
  const out = new Uint8Array(bytes);
  new DataView(out.buffer).setUint32(offset, value, littleEndian);
  return out;
}

/** Growth of `process.memoryUsage().arrayBuffers` (bytes) across `fn`, which must not allocate what a header declares. */
export function arrayBufferGrowth(fn: () => unknown): number {
  const before = process.memoryUsage().arrayBuffers;
  fn();
  return process.memoryUsage().arrayBuffers - before;
}
