import { z } from 'zod';
import { redactedRedisUrl } from '../transport/redis-url';
import { ZOO_MODEL_NAMES } from '@fedkd/engine';
import {
  createAggregationRule,
  createLoss,
  GENERATOR_STEP_DEFAULTS,
  parseAggregationRuleSpec,
  STUDENT_GUIDED_DEFAULTS,
  type AggregationRuleSpec,
  type GeneratorStepOptions,
  type LossSpec,
  type StudentGuidedOptions,
} from '@fedkd/distill';
import { PROXY_GENERATORS, type EmbeddedDatasetName, type ProxyGeneratorName } from '@fedkd/data';
import { isPredictionEncoding, MAX_SENT_PROXY_BYTES, type PredictionEncoding, type PrivacySpec } from '@fedkd/protocol';
import { checkedString, embeddedDatasetField, fieldProblem, flagOf, optionMeta, parseOptions, type OptionMeta } from '@fedkd/command-line';
import { DATABASE_HELP } from '../persistence/with-database';

/** Everything the coordinator can be told, validated once at start-up: made from the flags (coordinatorFlagsSchema) by coordinatorConfigSchema. */
export interface CoordinatorConfig {
  host: string;
  port: number;
  databasePath: string;
  /** The task file every party loads (JSON or YAML); null: the embedded data set's task (mnist). */
  taskPath: string | null;
  /** The embedded data set whose public split and test split serve when no --proxy-data / --eval-data is given. */
  dataset: EmbeddedDatasetName;
  /** Unlabelled public inputs (a DatasetSource spec) the clients are asked about; null: the embedded public split. */
  proxyData: string | null;
  /** Labelled evaluation set (a DatasetSource spec) that never leaves the coordinator; null: the embedded test split when the proxy is embedded, else none (rounds report agreement). */
  evalData: string | null;
  /** CSV data: the column holding the label. */
  labelColumn: string;
  /** Seed of the embedded split (all parties derive the same public proxy and test split from it). */
  seed: number;
  /** Rounds to run automatically once `minClients` are connected; 0 = wait for POST /rounds. */
  rounds: number;
  minClients: number;
  /** Answers a round needs to train; null: --min-clients. */
  minAnswers: number | null;
  /** Fraction of connected clients invited to each round. */
  participation: number;
  roundDeadlineMs: number;
  /** Proxy inputs: the public split, or synthetic inputs every client regenerates (data-free mode). */
  proxy: 'public' | 'synthetic';
  generator: ProxyGeneratorName;
  /**
   * Inputs kept in the replay buffer (every round's answered inputs and aggregated answers, stored
   * with the coordinator's state): the student trains on the round's answers and all of it. 0: the
   * round's answers alone. null: 50,000 with the student-guided generator, else 0.
   */
  replaySize: number | null;
  /** The learned generator's black-box step each round. */
  generatorStep: GeneratorStepOptions;
  /** The student-guided generator: trained against the coordinator's students before each round. */
  studentGuided: StudentGuidedOptions;
  /** Student copies beside the published student whose disagreement the student-guided generator seeks (0: the student alone). */
  studentCopies: number;
  /** Write a PNG grid of each synthetic round's inputs per intended class here (null: none). */
  samplesDir: string | null;
  proxySize: number;
  /** Public proxy: a fresh seeded sample of `proxySize` inputs each round instead of the same ones. */
  proxyResample: boolean;
  temperature: number;
  encoding: PredictionEncoding;
  aggregation: AggregationRuleSpec;
  loss: LossSpec;
  /** The student: a zoo architecture sized to the task (`mlp`, `cnn`) or a user's TF.js LayersModel (`PATH/model.json`). */
  studentModel: string;
  /** A user's student: start from its own weights (`keep`) or from fresh ones (`fresh`). */
  studentInit: 'fresh' | 'keep';
  studentEpochs: number;
  studentBatchSize: number;
  studentLearningRate: number;
  /** Client epochs on private data per round, and FedMD digest epochs on the last student (0 = none). */
  localEpochs: number;
  digestEpochs: number;
  maxMessageBytes: number;
  /** The coordinator's Ed25519 secret key file (mode 0600): signs every published model. */
  keyPath: string;
  /** Serve HTTPS/WSS with this key and certificate (PEM files); both or neither. */
  tlsKeyPath: string | null;
  tlsCertPath: string | null;
  /** Browser origins allowed to open a socket; requests without an Origin header (non-browser clients) are always allowed. Empty: no browser origin. */
  allowedOrigins: string[];
  /** Per-socket message rate limit (token bucket). */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /** Largest difference between a client's handshake timestamp and the coordinator's clock. */
  handshakeMaxSkewMs: number;
  /** REST reads (GET /rounds, /clients, /models...) without a token; POST /rounds still needs an admin token. */
  publicRead: boolean;
  /** REST requests allowed per client address in any 60 s (429 with Retry-After beyond). */
  restRateLimitPerMinute: number;
  /**
   * Secure aggregation (Bonawitz et al.): the coordinator learns only the sum of the clients'
   * predictions. threshold null: a majority of each client's neighbours; degree null: complete graph,
   * else a k-regular neighbour graph (SecAgg+) for large rounds.
   */
  secureAggregation: { enabled: boolean; threshold: number | null; degree: number | null; unsafeThreshold?: boolean };
  /** Differential privacy: the mechanism private rounds use (null = soft predictions, no DP). */
  privacy: PrivacySpec | null;
  /** Rules that need every answer in memory (median, trimmed mean) refuse answers beyond this many per round. */
  maxHeldAnswers: number;
  /** Exit the process after the automatic rounds (for `fedkd simulate`). */
  exitAfterRounds: boolean;
  /** Largest WebSocket frame a connection may send before its hello is accepted (then --max-message-bytes applies). */
  preAuthMaxMessageBytes: number;
  /** Open connections from one remote address (authenticated or not). */
  maxConnectionsPerAddress: number;
  /** Connections that have not (yet) said a valid hello, from all addresses together. */
  maxUnauthenticatedConnections: number;
  /** How long a connection may stay without a valid hello before it is closed. */
  helloTimeoutMs: number;
  /** Close a round's collection as soon as this many valid answers are in (null: wait for every invitee or the deadline). */
  targetAnswers: number | null;
  /** With targetAnswers: invite ceil(targetAnswers x this) clients (at most all connected), so stragglers do not hold the round. */
  overSelection: number;
  /** The JSON log's level (standard output): this and more severe; debug adds a line per HTTP request. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Replicas: the socket.io adapter over Redis Streams at this URL (broadcasts reach every replica's sockets); null: one process, no Redis. */
  redisUrl: string | null;
  /**
   * Replicas on PostgreSQL: how long the leader's lease on the rounds lasts (renewed every third of
   * it); a replica takes over within about this long after the leader dies.
   */
  leaderLeaseMs: number;
}

/**
 * The default aggregation rule, the same for `fedkd coordinator` and `fedkd simulate`: reputation
 * (chosen from `npm run robustness-table`: it kept the student within reach of the attack-free one
 * against every attack there, and costs nothing measurable without attackers). Under secure
 * aggregation the coordinator sees only the sum, so there the default is the mean.
 */
export function defaultAggregationRule(secureAggregation: boolean): AggregationRuleSpec {
  return secureAggregation ? { name: 'mean' } : { name: 'reputation' };
}

/**
 * A flag's metadata (see addSchemaOptions), and where its value goes in CoordinatorConfig:
 * `config` is the field's path there (`studentGuided.steps`); by default the flag's own key;
 * false: not a field of its own (the command's, or read by toCoordinatorConfig with others).
 */
interface CoordinatorOptionMeta extends OptionMeta {
  description: string;
  config?: string | false;
}
const meta = (m: CoordinatorOptionMeta) => m;

const int = (min: number, max?: number) => (max === undefined ? z.coerce.number().int().min(min) : z.coerce.number().int().min(min).max(max));
const positive = (max?: number) => (max === undefined ? z.coerce.number().positive() : z.coerce.number().positive().max(max));
const nonNegative = () => z.coerce.number().min(0);

const encoding = z.string().refine((v) => isPredictionEncoding(v), { error: (issue) => `must be float32, float16, uint8 or top-k:K, got '${String(issue.input)}'` }) as unknown as z.ZodType<PredictionEncoding, string>;
const studentModel = z.string().refine((v) => (ZOO_MODEL_NAMES as readonly string[]).includes(v) || v.endsWith('.json'), {
  error: (issue) => `must be ${ZOO_MODEL_NAMES.join(', ')} or the path of a TF.js model.json, got '${String(issue.input)}'`,
});

/**
 * Every flag of `fedkd coordinator`, the one source of its name, environment variable (FEDKD_
 * and the flag's name), default, help text and checks. CoordinatorConfig is made from the
 * parsed flags by toCoordinatorConfig; its cross-field rules are coordinatorRules.
 */
export const coordinatorFlagsSchema = z.object({
  host: z.string().default('127.0.0.1').meta(meta({ arg: 'host', description: 'address to listen on' })),
  port: int(0, 65535).default(8080).meta(meta({ arg: 'n', description: 'HTTP and socket.io port (0 = any free port)' })),
  db: z.string().min(1).default('./fedkd.sqlite').meta(meta({ arg: 'location', description: DATABASE_HELP, config: 'databasePath' })),
  task: z.string().optional().meta(meta({ arg: 'file', description: "the task every party loads (JSON or YAML: name, input shape and scaling, class names); default: the --dataset's task", config: 'taskPath' })),
  dataset: embeddedDatasetField().default('mnist').meta(meta({ arg: 'name', description: 'embedded data set whose public and test splits serve when --proxy-data / --eval-data are not given: embedded:mnist | embedded:mnist-full' })),
  proxyData: z.string().optional().meta(meta({ arg: 'spec', description: 'unlabelled public inputs the clients are asked about: FORMAT:PATH (idx, npy, csv, image-folder) or a path (format inferred); clients fetch them from here' })),
  evalData: z.string().optional().meta(meta({ arg: 'spec', description: 'labelled evaluation set; never leaves the coordinator (without it, and with --proxy-data, rounds report agreement with the aggregated targets)' })),
  labelColumn: z.string().min(1).default('label').meta(meta({ arg: 'name', description: 'CSV data: the column holding the label' })),
  seed: int(0).default(0).meta(meta({ arg: 'n', description: 'seed of the embedded split and of the student' })),
  rounds: int(0).default(0).meta(meta({ arg: 'n', description: 'rounds to run once --min-clients are connected (0 = only on POST /rounds)' })),
  minClients: int(1).default(2).meta(meta({ arg: 'n', description: 'clients needed to open a round, and answers needed to train' })),
  minAnswers: int(1).optional().meta(meta({ arg: 'n', description: 'answers a round needs to train (default: --min-clients)' })),
  participation: positive(1).default(1).meta(meta({ arg: 'f', description: 'fraction of connected clients invited per round' })),
  roundDeadlineMs: int(100).default(120_000).meta(meta({ arg: 'ms', description: 'time clients have to answer a round' })),
  proxy: z.enum(['public', 'synthetic']).default('public').meta(meta({ arg: 'kind', description: 'proxy inputs: public (the embedded public split) | synthetic (regenerated by every client from a seed: data-free)' })),
  generator: z.enum(PROXY_GENERATORS).default('strokes').meta(meta({
    arg: 'name',
    description: 'synthetic proxy generator: strokes (random pen strokes) | noise (uniform) | learned (trained here, black-box, from the answers) | student-guided (trained here against the student; its inputs are sent)',
  })),
  generatorLr: positive().default(GENERATOR_STEP_DEFAULTS.learningRate).meta(meta({ arg: 'lr', description: 'learned generator: Adam step per round, in pixel logits', config: 'generatorStep.learningRate' })),
  generatorDisagreement: nonNegative().default(GENERATOR_STEP_DEFAULTS.disagreementWeight).meta(meta({ arg: 'w', description: 'learned generator: weight of student-ensemble disagreement in its reward (0 = confidence only)', config: 'generatorStep.disagreementWeight' })),
  guidedSteps: int(1, 100_000).default(STUDENT_GUIDED_DEFAULTS.steps).meta(meta({ arg: 'n', description: 'student-guided generator: optimisation steps against the students before each round', config: 'studentGuided.steps' })),
  guidedLr: positive().default(STUDENT_GUIDED_DEFAULTS.learningRate).meta(meta({ arg: 'lr', description: 'student-guided generator: Adam learning rate', config: 'studentGuided.learningRate' })),
  guidedEntropy: nonNegative().default(STUDENT_GUIDED_DEFAULTS.entropyWeight).meta(meta({ arg: 'w', description: "student-guided generator: weight of the entropy of the batch's mean prediction (class balance)", config: 'studentGuided.entropyWeight' })),
  guidedDisagreement: nonNegative().default(STUDENT_GUIDED_DEFAULTS.disagreementWeight).meta(meta({ arg: 'w', description: 'student-guided generator: weight of the disagreement between the student and its copies', config: 'studentGuided.disagreementWeight' })),
  guidedCopies: int(0, 8).default(0).meta(meta({ arg: 'k', description: 'student-guided generator: student copies trained beside the student, whose disagreement it seeks (0: none)', config: 'studentCopies' })),
  guidedCandidates: int(1, 32).default(STUDENT_GUIDED_DEFAULTS.candidates).meta(meta({ arg: 'f', description: "student-guided generator: make f times the round's inputs and ask about those the students are least sure of, class-balanced (1: all)", config: 'studentGuided.candidates' })),
  guidedLatent: int(1, 1024).default(STUDENT_GUIDED_DEFAULTS.latent).meta(meta({ arg: 'n', description: 'student-guided generator: latent dimensions', config: 'studentGuided.latent' })),
  guidedWidth: int(1, 256).default(STUDENT_GUIDED_DEFAULTS.width).meta(meta({ arg: 'n', description: 'student-guided generator: filters of its last hidden convolution (the first has twice as many)', config: 'studentGuided.width' })),
  replaySize: int(0, 1_000_000).optional().meta(meta({
    arg: 'n',
    description: "inputs kept in the replay buffer (every round's answered inputs and aggregated answers, stored in the database): the student trains on all of it each round; 0 = the round's answers alone (default: 50000 with --generator student-guided, else 0)",
  })),
  samplesDir: z.string().optional().meta(meta({ arg: 'dir', description: "write a PNG grid of each synthetic round's inputs (one row per intended class) to DIR/round-N.png" })),
  // studentGuided.reinitialise is its negation.
  guidedKeepGenerator: z.boolean().default(!STUDENT_GUIDED_DEFAULTS.reinitialise).meta(meta({ description: "student-guided generator: continue from the last round's generator instead of a fresh one each round (kept in memory only)", config: false })),
  proxySize: int(1, 100_000).default(2000).meta(meta({ arg: 'n', description: "proxy inputs asked per round (public: at most the public set's size)" })),
  proxyResample: z.boolean().default(false).meta(meta({ description: 'public proxy: ask about a fresh seeded sample of --proxy-size inputs each round (fewer bytes per round, more of the set over the run)' })),
  temperature: positive().default(3).meta(meta({ arg: 'T', description: 'softmax temperature of the soft predictions' })),
  encoding: encoding.default('float16').meta(meta({ arg: 'e', description: 'soft prediction encoding: float32 | float16 | uint8 | top-k:K (the K largest probabilities of each row, with their classes)' })),
  agg: checkedString(parseAggregationRuleSpec).optional().meta(meta({
    arg: 'rule',
    description: "reputation[:memory] (default; mean under --secure-agg) | mean | weighted | entropy-weighted | median | trimmed-mean[:beta] | selective[:maxEntropy] (clients weigh their answers by how well their data covers each input; works under --secure-agg); any rule's options also as name:option=value,... (selective:maxEntropy=0.9,minCoverage=0,selectorEpochs=20)",
    config: false,
  })),
  loss: z.enum(['response', 'relation']).default('response').meta(meta({ arg: 'name', description: 'student loss: response | relation', config: false })),
  studentModel: studentModel.default('mlp').meta(meta({ arg: 'model', description: `student: ${ZOO_MODEL_NAMES.join(' | ')} (zoo, sized to the task) or PATH/model.json (a TF.js LayersModel)` })),
  studentInit: z.enum(['fresh', 'keep']).default('fresh').meta(meta({ arg: 'init', description: 'a model.json student: fresh weights or keep its own' })),
  studentEpochs: int(1).default(40).meta(meta({ arg: 'n', description: 'student epochs per round' })),
  studentLr: positive().default(1e-3).meta(meta({ arg: 'lr', description: 'student learning rate (Adam)', config: 'studentLearningRate' })),
  localEpochs: int(0).default(2).meta(meta({ arg: 'n', description: 'client epochs on private data before each answer' })),
  digestEpochs: int(0).default(1).meta(meta({ arg: 'n', description: 'client epochs distilling from the last student first (0 = no digest)' })),
  maxMessageBytes: int(64 * 1024).default(8 * 1024 * 1024).meta(meta({ arg: 'n', description: 'largest socket.io message accepted' })),
  key: z
    .string()
    .refine((v) => v.length > 0, { error: "must name the coordinator's secret key file (create one with `fedkd keys init`)" })
    .default('./keys/coordinator.key')
    .meta(meta({ arg: 'file', description: 'coordinator Ed25519 secret key (fedkd keys init); signs published models', config: 'keyPath' })),
  tlsKey: z.string().optional().meta(meta({ arg: 'file', description: 'serve HTTPS/WSS with this PEM private key (with --tls-cert)', config: 'tlsKeyPath' })),
  tlsCert: z.string().optional().meta(meta({ arg: 'file', description: 'PEM certificate for --tls-key', config: 'tlsCertPath' })),
  allowedOrigins: z.string().default('').meta(meta({ arg: 'list', description: 'comma-separated browser origins allowed to connect (clients without an Origin header are always allowed)', config: false })),
  rateLimit: positive().default(20).meta(meta({ arg: 'n', description: 'messages per second per socket', config: 'rateLimitPerSecond' })),
  rateLimitBurst: int(1).default(40).meta(meta({ arg: 'n', description: 'burst of messages per socket' })),
  publicRead: z.boolean().default(false).meta(meta({ description: 'REST reads (rounds, clients, models) without a token; POST /rounds still needs an admin token' })),
  restRateLimit: int(1).default(1200).meta(meta({ arg: 'n', description: 'REST requests allowed per client address in any 60 s (then 429 with Retry-After)', config: 'restRateLimitPerMinute' })),
  secureAgg: z.boolean().default(false).meta(meta({ description: 'secure aggregation: the coordinator learns only the sum of the predictions (mean or weighted)', config: 'secureAggregation.enabled' })),
  secaggThreshold: int(2, 255).optional().meta(meta({ arg: 't', description: 'shares needed to unmask a client (default: a majority of its neighbours)', config: 'secureAggregation.threshold' })),
  secaggUnsafeThreshold: z.boolean().default(false).meta(meta({
    description: "UNSAFE: allow a --secagg-threshold of half the neighbours or fewer (an equivocating coordinator could then recover one client's input); clients must opt in with --secagg-accept-unsafe-threshold",
    config: 'secureAggregation.unsafeThreshold',
  })),
  secaggDegree: int(2, 255).optional().meta(meta({ arg: 'k', description: 'k-regular neighbour graph (SecAgg+) instead of the complete graph, for large rounds', config: 'secureAggregation.degree' })),
  dp: z.enum(['gnmax', 'confident-gnmax', 'gaussian']).optional().meta(meta({ arg: 'mechanism', description: 'differentially private rounds: gnmax | confident-gnmax | gaussian (off by default)', config: false })),
  dpSigma: positive().default(40).meta(meta({ arg: 's', description: 'noise per count (gnmax, gaussian) or of the answer (confident-gnmax: sigma2)', config: false })),
  dpSigma1: positive().default(60).meta(meta({ arg: 's', description: 'confident-gnmax: noise of the threshold check', config: false })),
  dpThreshold: positive().default(60).meta(meta({ arg: 't', description: 'confident-gnmax: noisy top count needed to answer a query', config: false })),
  dpClip: positive().default(1).meta(meta({ arg: 'c', description: "gaussian: L2 norm each teacher's probability row is clipped to", config: false })),
  dpDelta: positive(0.5).default(1e-5).meta(meta({ arg: 'd', description: 'delta of the reported (epsilon, delta)', config: false })),
  createKey: z.boolean().default(false).meta(meta({ description: 'create the key pair at --key if it does not exist yet', config: false })),
  publicKeyOut: z.string().optional().meta(meta({ arg: 'file', description: "write the coordinator's public key there at start-up (for clients to pin)", config: false })),
  maxHeldAnswers: int(1).default(1000).meta(meta({ arg: 'n', description: 'median and trimmed-mean keep every answer of a round in memory (n x classes x 4 bytes each): at most this many' })),
  preAuthMaxMessageBytes: int(1024).default(8 * 1024).meta(meta({ arg: 'n', description: 'largest WebSocket frame a connection may send before its hello is accepted (the hello fits; --max-message-bytes applies after)' })),
  maxConnectionsPerAddress: int(1).default(32).meta(meta({ arg: 'n', description: 'open socket connections from one remote address; more are refused' })),
  maxUnauthenticatedConnections: int(1).default(256).meta(meta({ arg: 'n', description: 'connections without a valid hello yet, from all addresses together; more are refused' })),
  helloTimeoutMs: int(100, 600_000).default(30_000).meta(meta({ arg: 'ms', description: 'a connection without a valid hello after this long is closed' })),
  targetAnswers: int(1).optional().meta(meta({ arg: 'n', description: 'close a round as soon as this many valid answers are in (late ones are refused with ROUND_CLOSED); invites --over-selection times as many' })),
  overSelection: z.coerce.number().min(1).max(10).default(1.3).meta(meta({ arg: 'f', description: 'with --target-answers: invite ceil(target x f) of the connected clients' })),
  exitAfterRounds: z.boolean().default(false).meta(meta({ description: 'stop once the --rounds are done' })),
  redisUrl: checkedString((url) => {
    if (!/^rediss?:\/\/./.test(url)) throw new Error(`must be a redis:// or rediss:// URL, got '${redactedRedisUrl(url)}'`);
  })
    .optional()
    .meta(meta({ arg: 'url', description: "replicas: socket.io's Redis Streams adapter at this URL, so that broadcasts (the dashboard's events) reach the sockets of every replica (default: none, one process)" })),
  leaderLeaseMs: int(300, 600_000)
    .default(5_000)
    .meta(meta({ arg: 'ms', description: 'with a postgres:// --db: one replica leads rounds under a lease this long in the database, renewed every third of it; another takes over within about this long after the leader dies' })),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info').meta(meta({ arg: 'level', description: 'lowest level of the JSON log lines written to standard output: fatal | error | warn | info | debug (with one line per HTTP request) | trace' })),
});

/** The coordinator's flags, parsed. */
export type CoordinatorFlags = z.output<typeof coordinatorFlagsSchema>;
type FlagKey = keyof CoordinatorFlags;

/** Each flag that is a CoordinatorConfig field of its own, with that field's path. */
const CONFIG_PATHS: readonly [FlagKey, string[]][] = Object.entries(coordinatorFlagsSchema.shape).flatMap(([key, field]) => {
  const path = (optionMeta(field) as CoordinatorOptionMeta).config;
  return path === false ? [] : [[key as FlagKey, (path ?? key).split('.')] as [FlagKey, string[]]];
});

/** The structured config from the parsed flags: each flag at its path, and the fields made of several flags. */
function toCoordinatorConfig(flags: CoordinatorFlags): CoordinatorConfig {
  const config: Record<string, unknown> = {
    // Not flags: fixed here.
    studentBatchSize: 128,
    handshakeMaxSkewMs: 60_000,
    generatorStep: { ...GENERATOR_STEP_DEFAULTS },
    studentGuided: { ...STUDENT_GUIDED_DEFAULTS, reinitialise: !flags.guidedKeepGenerator },
    secureAggregation: {},
    aggregation: flags.agg ? parseAggregationRuleSpec(flags.agg) : defaultAggregationRule(flags.secureAgg),
    loss: flags.loss === 'relation' ? { name: 'relation', representation: 'logits', beta: 1, temperature: flags.temperature } : { name: 'response', temperature: flags.temperature },
    privacy: privacySpecFrom(flags),
    allowedOrigins: flags.allowedOrigins.split(',').map((o) => o.trim()).filter(Boolean),
  };
  for (const [key, path] of CONFIG_PATHS) {
    const parent = path.slice(0, -1).reduce((at, name) => at[name] as Record<string, unknown>, config);
    parent[path[path.length - 1]] = flags[key] ?? null;
  }
  return config as unknown as CoordinatorConfig;
}

function privacySpecFrom(flags: CoordinatorFlags): PrivacySpec | null {
  const delta = flags.dpDelta;
  if (flags.dp === 'gnmax') return { mechanism: 'gnmax', sigma: flags.dpSigma, delta };
  if (flags.dp === 'confident-gnmax') return { mechanism: 'confident-gnmax', threshold: flags.dpThreshold, sigma1: flags.dpSigma1, sigma2: flags.dpSigma, delta };
  if (flags.dp === 'gaussian') return { mechanism: 'gaussian', clipNorm: flags.dpClip, sigma: flags.dpSigma, delta };
  return null;
}

/**
 * The coordinator's flags to its config in one parse: each flag checked, the config built, then
 * the cross-field rules (coordinatorRules); a failure is one line naming the flag
 * (parseOptions(coordinatorConfigSchema, flags)).
 */
export const coordinatorConfigSchema = coordinatorFlagsSchema.transform(toCoordinatorConfig).superRefine((config, ctx) => {
  try {
    coordinatorRules(config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const at = error.message.indexOf(': ');
    ctx.addIssue({ code: 'custom', path: [error.message.slice(0, at)], message: error.message.slice(at + 2) });
  }
});

/** The config from raw flag values (strings as on the command line, or values; defaults filled in), without the cross-field rules (validateCoordinatorConfig runs them). */
export function coordinatorConfigFrom(flags: Record<string, unknown>): CoordinatorConfig {
  return toCoordinatorConfig(parseOptions(coordinatorFlagsSchema, flags));
}

/** Every default: the flags' defaults made into a config. */
export const COORDINATOR_DEFAULTS: CoordinatorConfig = toCoordinatorConfig(coordinatorFlagsSchema.parse({}));

/** A config the coordinator refuses; its message is `option: why` (the option as its flag's name, `secure-agg`). */
export class ConfigError extends Error {}

const fail = (option: string, why: string): never => {
  throw new ConfigError(`${option}: ${why}`);
};

const checkInt = (option: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
  if (!Number.isInteger(v) || v < min || v > max) fail(option, `must be an integer in [${min}, ${max}], got ${v}`);
};

/**
 * Checks a config (built from flags or in code): each field that is a flag against that flag's
 * schema, then the cross-field rules; throws one ConfigError naming the option.
 */
export function validateCoordinatorConfig(config: CoordinatorConfig): CoordinatorConfig {
  const shape = coordinatorFlagsSchema.shape as Record<FlagKey, z.ZodType>;
  for (const [key, path] of CONFIG_PATHS) {
    const value = path.reduce<unknown>((at, name) => (at as Record<string, unknown> | undefined)?.[name], config);
    const problem = fieldProblem(shape[key], value ?? undefined);
    if (problem) fail(flagOf(key).slice(2), problem.problem);
  }
  coordinatorRules(config);
  return config;
}

/** The rules between fields, and on the fields that are not flags of their own; throws a ConfigError naming the option. */
function coordinatorRules(config: CoordinatorConfig): void {
  const zoo = (ZOO_MODEL_NAMES as readonly string[]).includes(config.studentModel);
  if (config.proxy === 'synthetic' && config.proxyData !== null) fail('proxy-data', 'is for --proxy public; a synthetic proxy is regenerated from a seed');
  if (zoo && config.studentInit === 'keep') fail('student-init', `keep starts from a model.json's own weights: --student-model ${config.studentModel} has none`);
  if (config.proxy === 'synthetic' && config.generator === 'learned' && config.proxySize % 2 !== 0) {
    fail('proxy-size', `the learned generator asks about inputs in pairs: must be even, got ${config.proxySize}`);
  }
  checkInt('guided-batch-size', config.studentGuided.batchSize, 2, 4096);
  if (config.proxy === 'synthetic' && config.generator === 'student-guided') {
    // The question carries the inputs themselves (uint8 pixels): it must fit one message.
    const bytes = config.proxySize * 28 * 28;
    if (bytes > MAX_SENT_PROXY_BYTES) fail('proxy-size', `the student-guided generator sends its inputs: ${config.proxySize} inputs of 28x28 are ${bytes} bytes, over the ${MAX_SENT_PROXY_BYTES}-byte limit of a round's question (at most ${Math.floor(MAX_SENT_PROXY_BYTES / 784)})`);
  }
  checkInt('student-batch-size', config.studentBatchSize, 1);
  if (config.secureAggregation.enabled && config.encoding.startsWith('top-k')) fail('encoding', 'top-k answers are sparse, but secure aggregation masks dense vectors: use float32, float16 or uint8');
  if ((config.tlsKeyPath === null) !== (config.tlsCertPath === null)) fail('tls-key/tls-cert', 'give both or neither');
  checkInt('handshake-max-skew-ms', config.handshakeMaxSkewMs, 1000);
  checkInt('pre-auth-max-message-bytes', config.preAuthMaxMessageBytes, coordinatorFlagsSchema.shape.preAuthMaxMessageBytes.removeDefault().minValue!, config.maxMessageBytes);
  if (config.targetAnswers !== null) {
    const needed = config.minAnswers ?? config.minClients;
    checkInt('target-answers', config.targetAnswers, needed);
    if (config.secureAggregation.enabled) {
      fail('target-answers', 'cannot close a secure-aggregation round early: its survivors must finish the unmasking steps together (leave --target-answers unset with --secure-agg)');
    }
  }
  let rule: ReturnType<typeof createAggregationRule> | null = null;
  try {
    rule = createAggregationRule(config.aggregation);
  } catch (error) {
    fail('agg', (error as Error).message);
  }
  if (config.privacy) {
    const dp = config.privacy;
    if (!(dp.delta > 0 && dp.delta < 1)) fail('dp-delta', `must be in (0, 1), got ${dp.delta}`);
    const sigmas = dp.mechanism === 'confident-gnmax' ? [dp.sigma1, dp.sigma2, dp.threshold] : dp.mechanism === 'gaussian' ? [dp.sigma, dp.clipNorm] : [dp.sigma];
    if (!sigmas.every((v) => v > 0 && Number.isFinite(v))) fail('dp', `${dp.mechanism} needs positive parameters, got ${JSON.stringify(dp)}`);
  }
  const secure = config.secureAggregation;
  if (secure.enabled) {
    if (rule!.needsIndividualPredictions) {
      fail('secure-agg', `aggregation rule ${rule!.name} needs each client's predictions, but secure aggregation reveals only their sum: use --agg mean, weighted or selective`);
    }
    if (config.minClients < 3) fail('secure-agg', `needs --min-clients of at least 3 (each client's masks are shared with at least 2 others), got ${config.minClients}`);
    if (config.minAnswers !== null && config.minAnswers < 3) fail('min-answers', `secure aggregation needs at least 3 answers a round, got ${config.minAnswers}`);
    if (secure.degree !== null) checkInt('secagg-degree', secure.degree, Math.max(2, secure.threshold ?? 2), 255);
    // A threshold of half the neighbours or fewer lets a coordinator that equivocates recover one client's input (clients refuse it).
    if (!secure.unsafeThreshold && secure.threshold !== null && secure.degree !== null && secure.threshold <= secure.degree / 2) {
      fail('secagg-threshold', `must be a strict majority of the ${secure.degree} neighbours (at least ${Math.floor(secure.degree / 2) + 1}), got ${secure.threshold}: clients refuse smaller thresholds (--secagg-unsafe-threshold allows it, UNSAFE)`);
    }
  }
  try {
    createLoss(config.loss).dispose();
  } catch (error) {
    fail('loss', (error as Error).message);
  }
}

/** The replay buffer's capacity in inputs: --replay-size, or by default 50,000 for the student-guided generator and 0 otherwise. */
export function replayCapacity(config: Pick<CoordinatorConfig, 'replaySize' | 'proxy' | 'generator'>): number {
  if (config.replaySize !== null) return config.replaySize;
  return config.proxy === 'synthetic' && config.generator === 'student-guided' ? 50_000 : 0;
}
