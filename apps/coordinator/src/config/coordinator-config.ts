import { ZOO_MODEL_NAMES } from '@fedkd/engine';
import { createAggregationRule, createLoss, GENERATOR_STEP_DEFAULTS, STUDENT_GUIDED_DEFAULTS, type AggregationRuleSpec, type GeneratorStepOptions, type LossSpec, type StudentGuidedOptions } from '@fedkd/distill';
import { EMBEDDED_DATASETS, type EmbeddedDatasetName, type ProxyGeneratorName } from '@fedkd/data';
import { isPredictionEncoding, MAX_SENT_PROXY_BYTES, type PredictionEncoding, type PrivacySpec } from '@fedkd/protocol';

/** Everything the coordinator can be told, validated once at start-up. */
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

export const COORDINATOR_DEFAULTS: CoordinatorConfig = {
  host: '127.0.0.1',
  port: 8080,
  databasePath: './fedkd.sqlite',
  taskPath: null,
  dataset: 'mnist',
  proxyData: null,
  evalData: null,
  labelColumn: 'label',
  seed: 0,
  rounds: 0,
  minClients: 2,
  minAnswers: null,
  participation: 1,
  roundDeadlineMs: 120_000,
  proxy: 'public',
  generator: 'strokes',
  generatorStep: GENERATOR_STEP_DEFAULTS,
  studentGuided: STUDENT_GUIDED_DEFAULTS,
  studentCopies: 0,
  samplesDir: null,
  replaySize: null,
  proxySize: 2000,
  proxyResample: false,
  temperature: 3,
  encoding: 'float16',
  aggregation: { name: 'reputation' },
  loss: { name: 'response', temperature: 3 },
  studentModel: 'mlp',
  studentInit: 'fresh',
  studentEpochs: 40,
  studentBatchSize: 128,
  studentLearningRate: 1e-3,
  localEpochs: 2,
  digestEpochs: 1,
  maxMessageBytes: 8 * 1024 * 1024,
  keyPath: './keys/coordinator.key',
  tlsKeyPath: null,
  tlsCertPath: null,
  allowedOrigins: [],
  rateLimitPerSecond: 20,
  rateLimitBurst: 40,
  handshakeMaxSkewMs: 60_000,
  publicRead: false,
  restRateLimitPerMinute: 1200,
  secureAggregation: { enabled: false, threshold: null, degree: null },
  privacy: null,
  maxHeldAnswers: 1000,
  exitAfterRounds: false,
  preAuthMaxMessageBytes: 8 * 1024,
  maxConnectionsPerAddress: 32,
  maxUnauthenticatedConnections: 256,
  helloTimeoutMs: 30_000,
  targetAnswers: null,
  overSelection: 1.3,
  logLevel: 'info',
};

export class ConfigError extends Error {}

/** Checks ranges and cross-field rules; throws one ConfigError naming the option. */
export function validateCoordinatorConfig(config: CoordinatorConfig): CoordinatorConfig {
  const fail = (option: string, why: string): never => {
    throw new ConfigError(`${option}: ${why}`);
  };
  const int = (option: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(v) || v < min || v > max) fail(option, `must be an integer in [${min}, ${max}], got ${v}`);
  };
  int('port', config.port, 0, 65535);
  int('seed', config.seed, 0);
  int('rounds', config.rounds, 0);
  int('min-clients', config.minClients, 1);
  if (config.minAnswers !== null) int('min-answers', config.minAnswers, 1);
  int('round-deadline-ms', config.roundDeadlineMs, 100);
  // The public set's size is known once it is loaded (prepareFederation checks it then).
  int('proxy-size', config.proxySize, 1, 100_000);
  if (!EMBEDDED_DATASETS.includes(config.dataset)) fail('dataset', `must be one of ${EMBEDDED_DATASETS.map((d) => `embedded:${d}`).join(', ')}, got ${config.dataset}`);
  if (config.proxy === 'synthetic' && config.proxyData !== null) fail('proxy-data', 'is for --proxy public; a synthetic proxy is regenerated from a seed');
  if (!config.labelColumn) fail('label-column', 'must not be empty');
  const zoo = (ZOO_MODEL_NAMES as readonly string[]).includes(config.studentModel);
  if (!zoo && !config.studentModel.endsWith('.json')) fail('student-model', `must be ${ZOO_MODEL_NAMES.join(', ')} or the path of a TF.js model.json, got '${config.studentModel}'`);
  if (!['fresh', 'keep'].includes(config.studentInit)) fail('student-init', `must be fresh or keep, got ${config.studentInit}`);
  if (zoo && config.studentInit === 'keep') fail('student-init', `keep starts from a model.json's own weights: --student-model ${config.studentModel} has none`);
  if (config.proxy === 'synthetic' && config.generator === 'learned' && config.proxySize % 2 !== 0) {
    fail('proxy-size', `the learned generator asks about inputs in pairs: must be even, got ${config.proxySize}`);
  }
  if (!(config.generatorStep.learningRate > 0)) fail('generator-lr', `must be > 0, got ${config.generatorStep.learningRate}`);
  if (!(config.generatorStep.disagreementWeight >= 0)) fail('generator-disagreement', `must be >= 0, got ${config.generatorStep.disagreementWeight}`);
  int('student-epochs', config.studentEpochs, 1);
  if (config.replaySize !== null) int('replay-size', config.replaySize, 0, 1_000_000);
  const guided = config.studentGuided;
  int('guided-steps', guided.steps, 1, 100_000);
  int('guided-latent', guided.latent, 1, 1024);
  int('guided-width', guided.width, 1, 256);
  int('guided-batch-size', guided.batchSize, 2, 4096);
  int('guided-copies', config.studentCopies, 0, 8);
  int('guided-candidates', guided.candidates, 1, 32);
  if (!(guided.learningRate > 0)) fail('guided-lr', `must be > 0, got ${guided.learningRate}`);
  if (!(guided.entropyWeight >= 0)) fail('guided-entropy', `must be >= 0, got ${guided.entropyWeight}`);
  if (!(guided.disagreementWeight >= 0)) fail('guided-disagreement', `must be >= 0, got ${guided.disagreementWeight}`);
  if (config.proxy === 'synthetic' && config.generator === 'student-guided') {
    // The question carries the inputs themselves (uint8 pixels): it must fit one message.
    const bytes = config.proxySize * 28 * 28;
    if (bytes > MAX_SENT_PROXY_BYTES) fail('proxy-size', `the student-guided generator sends its inputs: ${config.proxySize} inputs of 28x28 are ${bytes} bytes, over the ${MAX_SENT_PROXY_BYTES}-byte limit of a round's question (at most ${Math.floor(MAX_SENT_PROXY_BYTES / 784)})`);
  }
  int('student-batch-size', config.studentBatchSize, 1);
  int('local-epochs', config.localEpochs, 0);
  int('digest-epochs', config.digestEpochs, 0);
  int('max-message-bytes', config.maxMessageBytes, 64 * 1024);
  if (!(config.participation > 0 && config.participation <= 1)) fail('participation', `must be in (0, 1], got ${config.participation}`);
  if (!(config.temperature > 0)) fail('temperature', `must be > 0, got ${config.temperature}`);
  if (!(config.studentLearningRate > 0)) fail('student-lr', `must be > 0, got ${config.studentLearningRate}`);
  if (!isPredictionEncoding(config.encoding)) fail('encoding', `must be float32, float16, uint8 or top-k:K, got ${config.encoding}`);
  if (config.secureAggregation.enabled && config.encoding.startsWith('top-k')) fail('encoding', 'top-k answers are sparse, but secure aggregation masks dense vectors: use float32, float16 or uint8');
  if (!config.databasePath) fail('db', 'must not be empty');
  if (!config.keyPath) fail('key', 'must name the coordinator\'s secret key file (create one with `fedkd keys init`)');
  if ((config.tlsKeyPath === null) !== (config.tlsCertPath === null)) fail('tls-key/tls-cert', 'give both or neither');
  if (!(config.rateLimitPerSecond > 0)) fail('rate-limit', `must be > 0, got ${config.rateLimitPerSecond}`);
  int('rate-limit-burst', config.rateLimitBurst, 1);
  int('handshake-max-skew-ms', config.handshakeMaxSkewMs, 1000);
  int('rest-rate-limit', config.restRateLimitPerMinute, 1);
  int('max-held-answers', config.maxHeldAnswers, 1);
  int('pre-auth-max-message-bytes', config.preAuthMaxMessageBytes, 1024, config.maxMessageBytes);
  int('max-connections-per-address', config.maxConnectionsPerAddress, 1);
  int('max-unauthenticated-connections', config.maxUnauthenticatedConnections, 1);
  int('hello-timeout-ms', config.helloTimeoutMs, 100, 600_000);
  if (!(config.overSelection >= 1 && config.overSelection <= 10)) fail('over-selection', `must be in [1, 10], got ${config.overSelection}`);
  if (config.targetAnswers !== null) {
    const needed = config.minAnswers ?? config.minClients;
    int('target-answers', config.targetAnswers, needed);
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
    if (secure.threshold !== null) int('secagg-threshold', secure.threshold, 2, 255);
    if (secure.degree !== null) int('secagg-degree', secure.degree, Math.max(2, secure.threshold ?? 2), 255);
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
  return config;
}

/** The replay buffer's capacity in inputs: --replay-size, or by default 50,000 for the student-guided generator and 0 otherwise. */
export function replayCapacity(config: Pick<CoordinatorConfig, 'replaySize' | 'proxy' | 'generator'>): number {
  if (config.replaySize !== null) return config.replaySize;
  return config.proxy === 'synthetic' && config.generator === 'student-guided' ? 50_000 : 0;
}
