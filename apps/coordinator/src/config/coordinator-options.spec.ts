import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { GENERATOR_STEP_DEFAULTS, STUDENT_GUIDED_DEFAULTS } from '@fedkd/distill';
import { OptionError, parseOptions } from '@fedkd/command-line';
import { addCoordinatorOptions } from '../coordinator-command';
import { ConfigError, COORDINATOR_DEFAULTS, coordinatorConfigFrom, coordinatorConfigSchema, coordinatorFlagsSchema, validateCoordinatorConfig, type CoordinatorConfig } from './coordinator-config';

const command = () => addCoordinatorOptions(new Command('coordinator')).exitOverride().configureOutput({ writeErr: () => {} });
/** The config `fedkd coordinator ARGS` starts with (flags, then cross-field rules). */
const configOf = (args: string[]) => parseOptions(coordinatorConfigSchema, command().parse(args, { from: 'user' }).opts());
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

describe('the coordinator\'s flags, from one schema', () => {
  afterEach(() => {
    delete process.env.FEDKD_PROXY_SIZE;
    delete process.env.FEDKD_SECURE_AGG;
    delete process.env.FEDKD_MIN_CLIENTS;
  });

  it('lists every field of the schema in --help, with its environment variable', () => {
    const help = command().helpInformation();
    const keys = Object.keys(coordinatorFlagsSchema.shape);
    expect(keys.length).toBeGreaterThan(60);
    for (const key of keys) {
      expect(help).toContain(`--${kebab(key)}`);
      expect(help.replace(/\s+/g, ' ')).toContain(`env: FEDKD_${kebab(key).replace(/-/g, '_').toUpperCase()})`);
    }
    expect(help.replace(/\s+/g, ' ')).toContain('--proxy-size <n> proxy inputs asked per round (public: at most the public set\'s size) (default: 2000, env: FEDKD_PROXY_SIZE)');
  });

  it('has the schema\'s defaults, the same as before the schema', () => {
    expect(COORDINATOR_DEFAULTS).toEqual(coordinatorConfigFrom({}));
    expect(configOf([])).toEqual(COORDINATOR_DEFAULTS);
    expect(COORDINATOR_DEFAULTS).toEqual({
      host: '127.0.0.1', port: 8080, databasePath: './fedkd.sqlite', taskPath: null, dataset: 'mnist', proxyData: null, evalData: null, labelColumn: 'label',
      seed: 0, rounds: 0, minClients: 2, minAnswers: null, participation: 1, roundDeadlineMs: 120_000, proxy: 'public', generator: 'strokes',
      generatorStep: GENERATOR_STEP_DEFAULTS, studentGuided: STUDENT_GUIDED_DEFAULTS, studentCopies: 0, samplesDir: null, replaySize: null,
      proxySize: 2000, proxyResample: false, temperature: 3, encoding: 'float16', aggregation: { name: 'reputation' }, loss: { name: 'response', temperature: 3 },
      studentModel: 'mlp', studentInit: 'fresh', studentEpochs: 40, studentBatchSize: 128, studentLearningRate: 1e-3, localEpochs: 2, digestEpochs: 1,
      maxMessageBytes: 8 * 1024 * 1024, keyPath: './keys/coordinator.key', tlsKeyPath: null, tlsCertPath: null, allowedOrigins: [], rateLimitPerSecond: 20,
      rateLimitBurst: 40, handshakeMaxSkewMs: 60_000, publicRead: false, restRateLimitPerMinute: 1200,
      secureAggregation: { enabled: false, threshold: null, degree: null, unsafeThreshold: false }, privacy: null, maxHeldAnswers: 1000, exitAfterRounds: false,
      preAuthMaxMessageBytes: 8 * 1024, maxConnectionsPerAddress: 32, maxUnauthenticatedConnections: 256, helloTimeoutMs: 30_000, targetAnswers: null, overSelection: 1.3, logLevel: 'info', redisUrl: null, leaderLeaseMs: 5_000,
    } satisfies CoordinatorConfig);
  });

  it('builds the structured config from the flags', () => {
    const config = configOf([
      '--db', 'x.sqlite', '--guided-steps', '7', '--guided-keep-generator', '--loss', 'relation', '--temperature', '2', '--dp', 'confident-gnmax', '--dp-threshold', '9',
      '--allowed-origins', 'https://a.example, https://b.example', '--secure-agg', '--min-clients', '3', '--secagg-degree', '4', '--secagg-threshold', '3', '--encoding', 'uint8',
    ]);
    expect(config).toMatchObject({
      databasePath: 'x.sqlite',
      studentGuided: { ...STUDENT_GUIDED_DEFAULTS, steps: 7, reinitialise: false },
      loss: { name: 'relation', representation: 'logits', beta: 1, temperature: 2 },
      privacy: { mechanism: 'confident-gnmax', threshold: 9, sigma1: 60, sigma2: 40, delta: 1e-5 },
      allowedOrigins: ['https://a.example', 'https://b.example'],
      secureAggregation: { enabled: true, threshold: 3, degree: 4, unsafeThreshold: false },
      aggregation: { name: 'mean' },
    });
  });

  it('reads a flag from its environment variable', () => {
    process.env.FEDKD_PROXY_SIZE = '300';
    process.env.FEDKD_SECURE_AGG = 'true';
    process.env.FEDKD_MIN_CLIENTS = '3';
    expect(configOf([])).toMatchObject({ proxySize: 300, minClients: 3, secureAggregation: { enabled: true }, aggregation: { name: 'mean' } });
  });

  it.each([
    [['--proxy-size', 'abc'], "--proxy-size must be an integer in [1, 100000], got 'abc'"],
    [['--port', '70000'], "--port must be an integer in [0, 65535], got '70000'"],
    [['--participation', '0'], "--participation must be in (0, 1], got '0'"],
    [['--guided-copies', '9'], "--guided-copies must be an integer in [0, 8], got '9'"],
    [['--over-selection', '0.5'], "--over-selection must be in [1, 10], got '0.5'"],
    [['--student-model', 'resnet'], "--student-model: must be mlp, cnn or the path of a TF.js model.json, got 'resnet'"],
    [['--agg', 'majority'], "--agg: unknown aggregation rule 'majority'"],
    [['--dp', 'laplace'], "--dp must be one of gnmax, confident-gnmax, gaussian, got 'laplace'"],
    [['--redis-url', 'http://ops:pw@cache:6379'], "--redis-url: must be a redis:// or rediss:// URL, got 'http://ops:***@cache:6379/'"],
  ])('refuses %j with one line naming the flag', (args, message) => {
    expect(() => configOf(args)).toThrow(message);
  });

  it.each([
    [['--secure-agg', '--min-clients', '3', '--agg', 'median'], "--secure-agg: aggregation rule median needs each client's predictions, but secure aggregation reveals only their sum"],
    [['--secure-agg'], '--secure-agg: needs --min-clients of at least 3'],
    [['--tls-key', 'k.pem'], '--tls-key/tls-cert: give both or neither'],
    [['--min-answers', '3', '--target-answers', '2'], '--target-answers: must be an integer in [3, '],
    [['--max-message-bytes', '65536', '--pre-auth-max-message-bytes', '65537'], '--pre-auth-max-message-bytes: must be an integer in [1024, 65536], got 65537'],
    [['--proxy', 'synthetic', '--generator', 'learned', '--proxy-size', '301'], '--proxy-size: the learned generator asks about inputs in pairs: must be even, got 301'],
  ])('refuses the combination %j, naming the flag', (args, message) => {
    expect(() => configOf(args)).toThrow(OptionError);
    expect(() => configOf(args)).toThrow(message);
  });

  it('checks a config built in code against the same schema, naming the flag', () => {
    const check = (overrides: Partial<CoordinatorConfig>) => () => validateCoordinatorConfig({ ...COORDINATOR_DEFAULTS, ...overrides });
    expect(check({ port: 70_000 })).toThrow(new ConfigError('port: must be an integer in [0, 65535], got 70000'));
    expect(check({ studentGuided: { ...STUDENT_GUIDED_DEFAULTS, steps: 0 } })).toThrow('guided-steps: must be an integer in [1, 100000], got 0');
    expect(check({ studentLearningRate: 0 })).toThrow('student-lr: must be a number > 0, got 0');
    expect(check({ keyPath: '' })).toThrow("key: must name the coordinator's secret key file");
    expect(check({ dataset: 'cifar' as never })).toThrow('dataset: must be one of embedded:mnist, embedded:mnist-full');
    expect(check({ tlsKeyPath: 'k.pem' })).toThrow('tls-key/tls-cert: give both or neither');
  });
});
