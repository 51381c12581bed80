import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { addSchemaOptions, checkedString, embeddedDatasetField, OptionError, optionDefaults, optionsToArgv, parseOptions, withDefault, withoutDefault, type OptionsSchema } from './schema-options';

const schema = z.object({
  proxySize: z.coerce.number().int().min(1).max(100_000).default(2000).meta({ arg: 'n', description: 'proxy inputs per round' }),
  temperature: z.coerce.number().positive().default(3).meta({ arg: 'T', description: 'softmax temperature' }),
  participation: z.coerce.number().positive().max(1).default(1).meta({ arg: 'f', description: 'fraction invited' }),
  proxy: z.enum(['public', 'synthetic']).default('public').meta({ arg: 'kind', description: 'proxy inputs' }),
  name: z.string().optional().meta({ arg: 'name', env: 'CLIENT_NAME', description: 'client name' }),
  dataset: embeddedDatasetField().default('mnist').meta({ arg: 'name', description: 'embedded data set' }),
  rule: checkedString((v) => {
    if (v !== 'mean') throw new Error(`unknown rule '${v}'`);
  })
    .optional()
    .meta({ arg: 'rule', description: 'aggregation rule' }),
  secureAgg: z.boolean().default(false).meta({ description: 'secure aggregation' }),
  baselines: z.boolean().default(true).meta({ description: 'skip the references' }),
});

/** The command, parsed from `argv` (errors thrown, not exited on). */
function parsed<S extends OptionsSchema>(argv: string[], s: S = schema as unknown as S) {
  const command = addSchemaOptions(new Command('test'), s, { envPrefix: 'FEDKD_TEST_' }).exitOverride().configureOutput({ writeErr: () => {} });
  return { command, values: () => parseOptions(s, command.parse(argv, { from: 'user' }).opts()) };
}

describe('options from a zod schema', () => {
  afterEach(() => {
    delete process.env.FEDKD_TEST_PROXY_SIZE;
    delete process.env.FEDKD_TEST_CLIENT_NAME;
  });

  it('names each flag after its field, and shows its help text, environment variable and default in --help', () => {
    const help = parsed([]).command.helpInformation().replace(/\s+/g, ' ');
    expect(help).toContain('--proxy-size <n> proxy inputs per round (default: 2000, env: FEDKD_TEST_PROXY_SIZE)');
    expect(help).toContain('--proxy <kind> proxy inputs (default: "public", env: FEDKD_TEST_PROXY)');
    expect(help).toContain('--name <name> client name (env: FEDKD_TEST_CLIENT_NAME)');
    expect(help).toContain('--secure-agg secure aggregation (default: false, env: FEDKD_TEST_SECURE_AGG)');
    expect(help).toContain('--no-baselines skip the references (env: FEDKD_TEST_BASELINES)');
  });

  it('fills in the schema\'s defaults and coerces the command line\'s strings', () => {
    expect(parsed([]).values()).toEqual({ proxySize: 2000, temperature: 3, participation: 1, proxy: 'public', dataset: 'mnist', secureAgg: false, baselines: true });
    expect(parsed(['--proxy-size', '300', '--temperature', '0.5', '--dataset', 'embedded:mnist-full', '--secure-agg', '--no-baselines', '--rule', 'mean']).values()).toMatchObject({
      proxySize: 300,
      temperature: 0.5,
      dataset: 'mnist-full',
      secureAgg: true,
      baselines: false,
      rule: 'mean',
    });
    expect(optionDefaults(schema)).toEqual(schema.parse({}));
  });

  it('reads a flag from its environment variable; the command line wins', () => {
    process.env.FEDKD_TEST_PROXY_SIZE = '123';
    process.env.FEDKD_TEST_CLIENT_NAME = 'edge-7';
    expect(parsed([]).values()).toMatchObject({ proxySize: 123, name: 'edge-7' });
    expect(parsed(['--proxy-size', '9']).values().proxySize).toBe(9);
  });

  it.each([
    [['--proxy-size', 'abc'], "--proxy-size must be an integer in [1, 100000], got 'abc'"],
    [['--proxy-size', '2.5'], "--proxy-size must be an integer in [1, 100000], got '2.5'"],
    [['--proxy-size', '0'], "--proxy-size must be an integer in [1, 100000], got '0'"],
    [['--temperature', '0'], "--temperature must be a number > 0, got '0'"],
    [['--participation', '1.5'], "--participation must be in (0, 1], got '1.5'"],
    [['--proxy', 'private'], "--proxy must be one of public, synthetic, got 'private'"],
    [['--dataset', 'cifar'], "--dataset: must be one of embedded:mnist, embedded:mnist-full, got 'cifar'"],
    [['--rule', 'median'], "--rule: unknown rule 'median'"],
  ])('refuses %j with one line naming the flag', (argv, message) => {
    expect(() => parsed(argv).values()).toThrow(message);
  });

  it('refuses a bad environment variable the same way, naming the variable', () => {
    process.env.FEDKD_TEST_PROXY_SIZE = 'many';
    expect(() => parsed([]).values()).toThrow("option '--proxy-size <n>' value 'many' from env 'FEDKD_TEST_PROXY_SIZE' is invalid. --proxy-size must be an integer in [1, 100000], got 'many'");
  });

  it('refuses bad values given in code with an OptionError naming the flag, and a refinement by the path it names', () => {
    expect(() => parseOptions(schema, { proxySize: 'x' })).toThrow(new OptionError("--proxy-size must be an integer in [1, 100000], got 'x'"));
    const refined = schema.superRefine((v, ctx) => {
      if (v.secureAgg && v.rule !== 'mean') ctx.addIssue({ code: 'custom', path: ['secure-agg'], message: 'needs --rule mean' });
    });
    expect(() => parseOptions(refined, { secureAgg: true })).toThrow(new OptionError('--secure-agg: needs --rule mean'));
  });

  it('says a required flag that was not given is required', () => {
    const required = z.object({ name: z.string().min(1).meta({ arg: 'name', description: 'enrolled name' }) });
    expect(() => parseOptions(required, {})).toThrow(new OptionError('--name is required'));
    expect(() => parseOptions(required, { name: '' })).toThrow(new OptionError("--name must not be empty, got ''"));
  });

  it('turns values back into the arguments that give them, leaving out defaults and keys that are not flags', () => {
    expect(optionsToArgv(schema, { ...schema.parse({}), other: 1 })).toEqual([]);
    const values = schema.parse({ proxySize: 300, proxy: 'synthetic', name: 'edge-1', dataset: 'mnist-full', rule: 'mean', secureAgg: true, baselines: false });
    const argv = optionsToArgv(schema, values);
    expect(argv).toEqual(['--proxy-size', '300', '--proxy', 'synthetic', '--name', 'edge-1', '--dataset', 'mnist-full', '--rule', 'mean', '--secure-agg', '--no-baselines']);
    expect(parsed(argv).values()).toEqual(values);
  });

  it('takes a field under another default, or none, keeping its flag, help and checks', () => {
    const other = z.object({ proxySize: withDefault(schema.shape.proxySize, 500), temperature: withoutDefault(schema.shape.temperature) });
    const help = parsed([], other).command.helpInformation().replace(/\s+/g, ' ');
    expect(help).toContain('--proxy-size <n> proxy inputs per round (default: 500, env: FEDKD_TEST_PROXY_SIZE)');
    expect(help).toContain('--temperature <T> softmax temperature (env: FEDKD_TEST_TEMPERATURE)');
    expect(parsed([], other).values()).toEqual({ proxySize: 500 });
    expect(() => parsed(['--proxy-size', '0'], other).values()).toThrow("--proxy-size must be an integer in [1, 100000], got '0'");
  });
});
