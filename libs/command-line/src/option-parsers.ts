import { InvalidArgumentError, Option, type Command } from 'commander';

/** Commander argument parsers that reject bad values with one line naming the flag. */
export function integerArg(flag: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be an integer in [${min}, ${max}], got '${value}'`);
    return n;
  };
}

export function positiveArg(flag: string, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > max) {
      throw new InvalidArgumentError(`${flag} must be a number ${max === Infinity ? '> 0' : `in (0, ${max}]`}, got '${value}'`);
    }
    return n;
  };
}

export function nonNegativeArg(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a number >= 0, got '${value}'`);
    return n;
  };
}

export function choiceArg<T extends string>(flag: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`${flag} must be one of ${choices.join(', ')}, got '${value}'`);
    return value as T;
  };
}

/** Runs an async command body; a failure prints one clear line and exits non-zero. */
export function exitOnError(command: string, body: () => Promise<void>): Promise<void> {
  return body().catch((error: unknown) => {
    process.stderr.write(`${command}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}

/** Adds `flags` to `command`, readable from environment variable `env` too (shown in --help). */
export function envOption(
  command: Command,
  flags: string,
  description: string,
  env: string,
  parse?: (value: string) => unknown,
  fallback?: unknown,
): void {
  const option = new Option(flags, description).env(env);
  if (parse) option.argParser(parse as (value: string, previous: unknown) => unknown);
  if (fallback !== undefined) option.default(fallback);
  command.addOption(option);
}

/** A value checked by `check` (which throws with a reason), kept as the text given: e.g. `--agg trimmed-mean:0.2`. */
export function checkedArg(flag: string, check: (value: string) => unknown) {
  return (value: string): string => {
    try {
      check(value);
    } catch (error) {
      throw new InvalidArgumentError(`${flag}: ${(error as Error).message}`);
    }
    return value;
  };
}

/** `embedded:NAME` (or just NAME) of an embedded data set, as its name. */
export function embeddedDatasetArg(flag: string) {
  const names = ['mnist', 'mnist-full'];
  return (value: string): string => {
    const name = value.startsWith('embedded:') ? value.slice('embedded:'.length) : value;
    if (!names.includes(name)) throw new InvalidArgumentError(`${flag} must be one of ${names.map((n) => `embedded:${n}`).join(', ')}, got '${value}'`);
    return name;
  };
}
