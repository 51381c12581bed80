import { Command, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';

/**
 * A command's options as one zod object schema: each field is a flag. The flag is the field's key
 * in kebab case (`proxySize` -> `--proxy-size`; a boolean whose default is true is `--no-KEY`), its
 * environment variable the command's prefix and the flag in upper snake case
 * (`FEDKD_PROXY_SIZE`) unless `env` names another suffix, its help text the field's description
 * and its default the field's own `.default()`. The field's checks are the flag's validation:
 * a failure is one line naming the flag.
 *
 *   proxySize: z.coerce.number().int().min(1).max(100_000).default(2000).meta({ arg: 'n', description: 'proxy inputs asked per round' })
 *
 * `.meta()` goes last (after `.default()` / `.optional()`), on the field itself.
 */
export interface OptionMeta {
  description?: string;
  /** The value's placeholder in --help (`n` -> `--proxy-size <n>`); booleans take none. */
  arg?: string;
  /** The environment variable after the command's prefix, when it is not the flag's name (`CLIENT_NAME` for --name). */
  env?: string;
  [key: string]: unknown;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OptionsSchema = z.ZodObject<any>;
type Field = z.ZodType;

/** The metadata a field carries (its own and its parents'). */
export function optionMeta(field: Field): OptionMeta {
  return (z.globalRegistry.get(field) ?? {}) as OptionMeta;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `--proxy-size` for the field `proxySize` (or an option name already in kebab case). */
export function flagOf(key: string): string {
  return `--${kebab(key)}`;
}

/** The object schema at the start of `schema` (through `.transform()`, `.pipe()`, refinements). */
export function objectOf(schema: z.ZodType): OptionsSchema {
  let s = schema as z.ZodType;
  while (s._zod.def.type === 'pipe') s = (s._zod.def as unknown as { in: z.ZodType }).in;
  if (!(s instanceof z.ZodObject)) throw new Error('an options schema must be a zod object (or start with one)');
  return s as OptionsSchema;
}

/** The schema that checks a field's value, under its default, optional and nullable wrappers and before any transform. */
function core(field: Field): Field {
  let s = field;
  for (;;) {
    const def = s._zod.def as unknown as { type: string; innerType?: Field; in?: Field };
    if ((def.type === 'default' || def.type === 'prefault' || def.type === 'optional' || def.type === 'nullable') && def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else return s;
  }
}

const isBoolean = (field: Field) => core(field) instanceof z.ZodBoolean;

/** The field's default (undefined when it has none). */
export function defaultOf(field: Field): unknown {
  const result = field.safeParse(undefined);
  return result.success ? result.data : undefined;
}

/** The defaults of every field of `schema` that has one. */
export function optionDefaults<S extends OptionsSchema>(schema: S): Partial<z.output<S>> {
  const defaults: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema.shape as Record<string, Field>)) {
    const value = defaultOf(field);
    if (value !== undefined) defaults[key] = value;
  }
  return defaults as Partial<z.output<S>>;
}

const interval = (lo: number | null, loIn: boolean, hi: number | null, hiIn: boolean) =>
  `${loIn ? '[' : '('}${lo}, ${hi}${hiIn ? ']' : ')'}`;

/** What a field accepts, in words, from its checks: `must be an integer in [1, 100000]`, `must be one of a, b`. */
export function optionDomain(field: Field): string {
  const s = core(field);
  if (s instanceof z.ZodNumber) {
    let lo: number | null = null;
    let hi: number | null = null;
    let loIn = true;
    let hiIn = true;
    let int = false;
    for (const check of s._zod.def.checks ?? []) {
      const def = check._zod.def as unknown as { check: string; value?: number; inclusive?: boolean; format?: string };
      if (def.check === 'number_format' && (def.format === 'safeint' || def.format === 'int32')) int = true;
      if (def.check === 'greater_than' && (lo === null || def.value! >= lo)) [lo, loIn] = [def.value!, def.inclusive!];
      if (def.check === 'less_than' && (hi === null || def.value! <= hi)) [hi, hiIn] = [def.value!, def.inclusive!];
    }
    if (int) return `must be an integer in [${lo ?? Number.MIN_SAFE_INTEGER}, ${hi ?? Number.MAX_SAFE_INTEGER}]`;
    if (lo !== null && hi !== null) return `must be in ${interval(lo, loIn, hi, hiIn)}`;
    if (lo !== null) return `must be a number ${loIn ? '>=' : '>'} ${lo}`;
    if (hi !== null) return `must be a number ${hiIn ? '<=' : '<'} ${hi}`;
    return 'must be a number';
  }
  if (s instanceof z.ZodEnum) return `must be one of ${s.options.join(', ')}`;
  if (s instanceof z.ZodBoolean) return 'must be true or false';
  if (s instanceof z.ZodString) return (s.minLength ?? 0) > 0 ? 'must not be empty' : 'must be text';
  return 'is not valid';
}

const shown = (value: unknown) => (typeof value === 'string' ? `'${value}'` : String(value));

/**
 * Why `value` does not fit `field`, as `must be an integer in [1, 100000], got 'abc'` (from the
 * field's checks) or a refinement's own message; null when it fits. `custom` tells the two apart.
 */
export function fieldProblem(field: Field, value: unknown): { problem: string; custom: boolean } | null {
  const result = field.safeParse(value);
  if (result.success) return null;
  const custom = result.error.issues.find((i) => i.code === 'custom');
  return custom ? { problem: custom.message, custom: true } : { problem: `${optionDomain(field)}, got ${shown(value)}`, custom: false };
}

/** One line naming the flag: `--proxy-size must be an integer in [1, 100000], got 'abc'`, or `--agg: <the parser's reason>`. */
function problemLine(key: string, problem: { problem: string; custom: boolean }): string {
  return problem.custom ? `${flagOf(key)}: ${problem.problem}` : `${flagOf(key)} ${problem.problem}`;
}

/** A bad option value (or combination): its message is one line naming the flag. */
export class OptionError extends Error {}

/**
 * Adds every field of `schema` to `command` as an option: env variable `${envPrefix}NAME`, help
 * text and default (shown in --help) from the schema, and each value checked against its field
 * as commander reads it (from the command line or the environment), failing with one line naming
 * the flag. Read the values with parseOptions(schema, command.opts()).
 */
export function addSchemaOptions(command: Command, schema: OptionsSchema, { envPrefix = 'FEDKD_' }: { envPrefix?: string } = {}): Command {
  for (const [key, field] of Object.entries(schema.shape as Record<string, Field>)) {
    const meta = optionMeta(field);
    const fallback = defaultOf(field);
    const negated = isBoolean(field) && fallback === true;
    const name = negated ? `--no-${kebab(key)}` : flagOf(key);
    const flags = isBoolean(field) ? name : `${name} <${meta.arg ?? 'value'}>`;
    const option = new Option(flags, meta.description ?? '').env(`${envPrefix}${meta.env ?? kebab(key).replace(/-/g, '_').toUpperCase()}`);
    if (option.attributeName() !== key) throw new Error(`option ${flags} would be read as ${option.attributeName()}, not ${key}`);
    if (fallback !== undefined && !negated) option.default(fallback);
    if (!isBoolean(field)) {
      option.argParser((value: string) => {
        const problem = fieldProblem(field, value);
        if (problem) throw new InvalidArgumentError(problemLine(key, problem));
        return value;
      });
    }
    command.addOption(option);
  }
  return command;
}

/**
 * The options' values through `schema` (defaults filled in, strings coerced, transforms and
 * cross-field refinements run); the first problem is thrown as one OptionError line naming the
 * flag. A refinement names the flag by the issue's path: `ctx.addIssue({ code: 'custom', path:
 * ['secure-agg'], message })` -> `--secure-agg: message`.
 */
export function parseOptions<S extends z.ZodType>(schema: S, raw: Record<string, unknown>): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = issue.path[0];
  if (typeof key !== 'string') throw new OptionError(issue.message);
  const field = (objectOf(schema).shape as Record<string, Field>)[key];
  if (field && raw[key] === undefined && issue.code !== 'custom') throw new OptionError(problemLine(key, { problem: 'is required', custom: false }));
  if (field && issue.code !== 'custom') throw new OptionError(problemLine(key, { problem: `${optionDomain(field)}, got ${shown(raw[key])}`, custom: false }));
  throw new OptionError(problemLine(key, { problem: issue.message, custom: true }));
}

/**
 * `values` as command-line arguments of `schema`'s options: `--flag value` for each field of the
 * schema whose value is set and differs from its default (`--flag` / `--no-flag` for booleans);
 * keys that are not fields are left out. parseOptions of these arguments gives the values back.
 */
export function optionsToArgv(schema: OptionsSchema, values: Record<string, unknown>): string[] {
  const argv: string[] = [];
  for (const [key, field] of Object.entries(schema.shape as Record<string, Field>)) {
    const value = values[key];
    const fallback = defaultOf(field);
    if (value === undefined || value === null || Object.is(value, fallback)) continue;
    if (isBoolean(field)) argv.push(value ? flagOf(key) : `--no-${kebab(key)}`);
    else argv.push(flagOf(key), String(value));
  }
  return argv;
}

/** A string checked by `check` (which throws with its reason), kept as given: `--agg trimmed-mean:0.2`. */
export function checkedString(check: (value: string) => unknown) {
  return z.string().superRefine((value, ctx) => {
    try {
      check(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
    }
  });
}

/** A string as `parse` reads it (parse throws with its reason): `--attack flip`. */
export function parsedString<T>(parse: (value: string) => T) {
  return z.string().transform((value, ctx) => {
    try {
      return parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
}

/** `embedded:NAME` (or just NAME) of an embedded data set, as its name. */
export function embeddedDatasetField() {
  const names = ['mnist', 'mnist-full'] as const;
  return z.string().transform((value, ctx) => {
    const name = value.startsWith('embedded:') ? value.slice('embedded:'.length) : value;
    if (!(names as readonly string[]).includes(name)) {
      ctx.addIssue({ code: 'custom', message: `must be one of ${names.map((n) => `embedded:${n}`).join(', ')}, got '${value}'` });
      return z.NEVER;
    }
    return name as (typeof names)[number];
  });
}

/** The same field under another default, keeping its flag metadata. */
export function withDefault<T extends z.ZodType>(field: z.ZodDefault<T>, value: z.util.NoUndefined<z.output<T>>): z.ZodDefault<T> {
  return field.removeDefault().default(value).meta(optionMeta(field));
}

/** The same field without its default (optional: a default computed from other options, say), keeping its flag metadata. */
export function withoutDefault<T extends z.ZodType>(field: z.ZodDefault<T>): z.ZodOptional<T> {
  return field.removeDefault().optional().meta(optionMeta(field));
}
