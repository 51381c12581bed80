import { SeededRng, type ArchitectureDescription } from '@fedkd/engine';
import { encodeLearnedGenerator, initialLearnedGenerator, materialiseProxy, proxyInputsSha256, type ProxyGeneratorName, type ProxySourceSpec, type PublicSetRef } from '@fedkd/data';
import { createAggregationRule, SelectiveRule, splitCoverageWeightedSum, type AggregationRule, type AggregationRuleSpec, type ClientAgreement, type RowSelection } from '@fedkd/distill';
import { coverageBytes, proxyInputCount, type PredictionEncoding, type PrivacySpec, type ProxySpec, type RoundOpen, type SelectionRequest } from '@fedkd/protocol';
import { privacyMechanism } from '@fedkd/privacy';

export interface ConnectedClient {
  clientId: string;
  name: string;
  architecture: ArchitectureDescription;
  sampleCount: number | null;
}

/**
 * A round's aggregation, fed answer by answer as they arrive (in any order: the result does not
 * depend on it) and read once the round has collected.
 */
export interface RoundAggregation {
  /** `coverage`: the client's coverage weights, in rounds that asked for them (selection). */
  add(clientId: string, answer: Float32Array, coverage?: Float32Array): void;
  /** Answers added so far. */
  readonly count: number;
  /** [n x classes] answer matrices it holds (0 for rules that keep running sums). */
  readonly heldMatrices: number;
  result(): Float32Array;
  /**
   * A reputation rule's evidence, once result() ran: each answering client's agreement with the
   * consensus, its updated reputation and its weight (flagged: 0). Absent for the other rules.
   */
  agreements?(): readonly ClientAgreement[];
  /** A selecting rule's account of the rows it kept and dropped, once result() ran. */
  selection?(): RowSelection;
}

/** A round's training target ([n x classes], all-zero rows: no target), and what a selecting rule kept. */
export interface RoundTarget {
  targets: Float32Array;
  selection?: RowSelection;
}

/** What a round asks, minus its deadline (set when it is sent). */
export type RoundRequest = Omit<RoundOpen, 'deadline'>;

export interface RoundPlan {
  participants: ConnectedClient[];
  request: RoundRequest;
  /** Under secure aggregation: each participant's multiplier of its predictions before masking. */
  secureWeights: Map<string, number>;
}

/**
 * The Strategy seam (DESIGN.md, after Flower): configure a round from the connected clients and
 * the last model; aggregate its replies into a training target. Pure: no sockets, no storage.
 */
export interface Strategy {
  /**
   * `recentFailures`: per client id, how many of its recent invitations ended dropped or
   * rejected; such clients are sampled less often (see sampleParticipants).
   */
  configureRound(round: number, clients: readonly ConnectedClient[], latestStudentVersion: number | null, recentFailures?: ReadonlyMap<string, number>): RoundPlan;
  /** How many of `connected` clients a round invites. */
  invitationCount(connected: number): number;
  /**
   * The aggregation of a round's answers, as they arrive. `priorReputations`: each client's
   * reputation after its earlier rounds (the caller persists them; used by the reputation rule).
   */
  startAggregation(participants: readonly ConnectedClient[], priorReputations?: ReadonlyMap<string, number>): RoundAggregation;
  /**
   * The training target from the survivors' (weighted) SUM, all that secure aggregation reveals;
   * with the rows a selecting rule kept and dropped.
   */
  aggregateSecureSum(sum: Float64Array, survivors: readonly string[], participants: readonly ConnectedClient[]): RoundTarget;
  /** The learned generator's weights that the next rounds send (after the coordinator trained it). */
  useGenerator(blob: Uint8Array): void;
  /** The student-guided generator's inputs that round `round` sends (made against the latest student). */
  useSentInputs(round: number, inputs: SentInputs): void;
}

/** A student-guided round's question: its generation seed and the inputs as uint8 pixels. */
export interface SentInputs {
  seed: number;
  inputShape: number[];
  pixels: Uint8Array;
}

export interface DistillationStrategyOptions {
  splitSeed: number;
  /** What each round asks about: the first `size` rows of the public set, or `count` fresh synthetic inputs per round. */
  proxy: { kind: 'public'; set: PublicSetRef; setCount: number; size: number; resample?: boolean } | { kind: 'synthetic'; generator: ProxyGeneratorName; count: number };
  temperature: number;
  encoding: PredictionEncoding;
  classes: number;
  participation: number;
  /** Close a round at this many valid answers: invite ceil(targetAnswers x overSelection) clients instead of a participation fraction. */
  targetAnswers?: number | null;
  overSelection?: number;
  aggregation: AggregationRuleSpec;
  localEpochs: number;
  digestEpochs: number;
  maxPayloadBytes: (n: number, classes: number, encoding: PredictionEncoding) => number;
  secureAggregation: { threshold: number | null; degree: number | null; unsafeThreshold?: boolean } | null;
  /** Differentially private rounds: clients send noisy teacher votes (GNMax) instead of soft predictions. */
  privacy: PrivacySpec | null;
  /** Fewest answers a round trains on: under secure aggregation each client adds 1/this of the DP noise variance. */
  minimumContributors: number;
  /** Rules that need every answer (median, trimmed mean) hold at most this many per round. */
  maxHeldAnswers?: number;
}

/** The seed of round `round`'s synthetic inputs (the same on every coordinator started with this seed). */
export function syntheticRoundSeed(splitSeed: number, round: number): number {
  return new SeededRng(splitSeed).fork(`synthetic-${round}`).nextUint32();
}

/** Masked noisy votes: [-4096, 4096] with 8 fractional bits (exact sums for up to 4,095 clients; clients clamp into it). */
export const PRIVATE_VOTE_FIXED_POINT = { min: -4096, max: 4096, fractionalBits: 8 };

/** Federated distillation on a public proxy set: ask soft predictions, aggregate by a named rule. */
export class PublicProxyDistillationStrategy implements Strategy {
  private readonly rule: AggregationRule;
  /** The learned generator's current public weights (starts untrained: seeded noise templates). */
  private generatorBlob: Uint8Array;
  /** The student-guided generator's inputs for one round (set before that round is configured). */
  private sentInputs: (SentInputs & { round: number }) | null = null;

  constructor(private readonly options: DistillationStrategyOptions) {
    this.rule = createAggregationRule(options.aggregation);
    this.generatorBlob = encodeLearnedGenerator(initialLearnedGenerator(options.splitSeed));
  }

  useGenerator(blob: Uint8Array): void {
    this.generatorBlob = blob;
  }

  useSentInputs(round: number, inputs: SentInputs): void {
    this.sentInputs = { round, ...inputs };
  }

  invitationCount(connected: number): number {
    const { participation, targetAnswers, overSelection = 1 } = this.options;
    if (targetAnswers) return Math.min(connected, Math.ceil(targetAnswers * overSelection));
    return Math.min(connected, Math.max(1, Math.ceil(connected * participation)));
  }

  configureRound(round: number, clients: readonly ConnectedClient[], latestStudentVersion: number | null, recentFailures: ReadonlyMap<string, number> = new Map()): RoundPlan {
    const { classes, encoding } = this.options;
    const rng = new SeededRng(this.options.splitSeed).fork(`participants-${round}`);
    const participants = sampleParticipants(clients, this.invitationCount(clients.length), rng, recentFailures);
    const proxy = this.proxyFor(round);
    const selection = this.selection;
    const n = proxyInputCount(proxy);
    return {
      participants,
      secureWeights: this.secureWeights(participants),
      request: {
        secureAggregation: this.secureSpec(round, participants.length),
        privacy: this.options.privacy,
        round,
        proxy,
        temperature: this.options.temperature,
        encoding,
        classes,
        maxPayloadBytes: this.options.maxPayloadBytes(n, classes, encoding) + (selection ? coverageBytes(n) : 0),
        digest:
          latestStudentVersion !== null && this.options.digestEpochs > 0
            ? { studentVersion: latestStudentVersion, epochs: this.options.digestEpochs }
            : null,
        localEpochs: this.options.localEpochs,
        ...(selection ? { selection } : {}),
      },
    };
  }

  /**
   * What a selective rule asks of the clients: their coverage weights. Not in private rounds, whose
   * answers are noisy votes released by the privacy mechanism: there the selection is off (data-independent).
   */
  get selection(): SelectionRequest | null {
    if (!(this.rule instanceof SelectiveRule) || this.options.privacy) return null;
    return { kind: 'density-ratio', epochs: this.rule.selectorEpochs, oddsScale: this.rule.oddsScale };
  }

  aggregateSecureSum(sum: Float64Array, survivors: readonly string[], participants: readonly ConnectedClient[]): RoundTarget {
    if (this.options.privacy) return { targets: privacyMechanism(this.options.privacy).release(sum, this.options.classes) };
    if (this.rule instanceof SelectiveRule) {
      // The survivors masked c * p and c: their sums are exactly what the rule needs.
      const { weightedSums, coverageTotals } = splitCoverageWeightedSum(sum, this.options.classes);
      return this.rule.selectTargets(weightedSums, coverageTotals, this.options.classes);
    }
    let total = survivors.length;
    if (this.rule.name === 'weighted') {
      const scale = this.weightScale(participants);
      total = survivors.reduce((acc, id) => acc + (participants.find((p) => p.clientId === id)?.sampleCount ?? 0), 0) / scale;
    }
    return { targets: normaliseRows(sum, this.options.classes, total) };
  }

  /** Public rows are the same every round (the first `size` of the set, which the embedded split has shuffled); synthetic inputs are fresh each round (seeded by the round number), announced with their digest. */
  private proxyFor(round: number): ProxySpec {
    const spec = this.options.proxy;
    if (spec.kind === 'public') return { kind: 'public', set: spec.set, indices: this.publicRows(spec.set, spec.setCount, spec.size, spec.resample ? round : null) };
    const seed = syntheticRoundSeed(this.options.splitSeed, round);
    let source: ProxySourceSpec;
    if (spec.generator === 'student-guided') {
      const sent = this.sentInputs;
      if (sent?.round !== round) throw new Error(`round ${round}: the student-guided generator has not made this round's inputs`);
      source = { kind: 'synthetic', generator: 'student-guided', seed: sent.seed, count: spec.count, inputShape: sent.inputShape, pixels: sent.pixels };
    } else if (spec.generator === 'learned') source = { kind: 'synthetic', generator: 'learned', seed, count: spec.count, weights: this.generatorBlob };
    else source = { kind: 'synthetic', generator: spec.generator, seed, count: spec.count };
    // Generated here too, so that every client can check it regenerated these very inputs.
    return { ...source, inputsSha256: proxyInputsSha256(materialiseProxy(source)) } as ProxySpec;
  }

  /**
   * Which rows of the public set a round asks about: the first `size` of an embedded split
   * (already in a seeded random order), or a seeded random sample of a user's set (whose files
   * may be ordered by class), the same every round; with `resample` (a round number), a fresh
   * seeded sample each round, so that the rounds together cover more of the set.
   */
  private publicRows(set: PublicSetRef, count: number, size: number, resample: number | null): number[] {
    if (size >= count) return Array.from({ length: count }, (_, i) => i);
    if (resample !== null) return new SeededRng(this.options.splitSeed).fork(`public-rows-${resample}`).permutation(count).slice(0, size);
    if (set.source === 'embedded') return Array.from({ length: size }, (_, i) => i);
    return new SeededRng(this.options.splitSeed).fork('public-rows').permutation(count).slice(0, size);
  }

  private get proxyCount(): number {
    return this.options.proxy.kind === 'public' ? this.options.proxy.size : this.options.proxy.count;
  }

  /** Threshold and neighbour graph of a secure round; the k-regular graph's seed is fixed by round number alone. */
  private secureSpec(round: number, participants: number): RoundRequest['secureAggregation'] {
    const secure = this.options.secureAggregation;
    if (!secure) return null;
    const neighbours = secure.degree ?? participants - 1;
    const threshold = secure.threshold ?? Math.max(2, Math.floor(neighbours / 2) + 1);
    const graph = secure.degree
      ? { kind: 'k-regular' as const, k: secure.degree, seed: Uint8Array.from(new SeededRng(this.options.splitSeed).fork(`graph-${round}`).permutation(32)) }
      : { kind: 'complete' as const };
    // Noisy vote counts need room below 0 and above the teachers' count; probabilities live in [0, 1].
    const fixedPoint = this.options.privacy ? PRIVATE_VOTE_FIXED_POINT : { min: 0, max: 1, fractionalBits: 16 };
    return { threshold, graph, weight: 1, fixedPoint, noiseShares: this.options.minimumContributors, ...(secure.unsafeThreshold ? { unsafeThreshold: true } : {}) };
  }

  private secureWeights(participants: readonly ConnectedClient[]): Map<string, number> {
    if (!this.options.secureAggregation || this.rule.name !== 'weighted') return new Map();
    const scale = this.weightScale(participants);
    return new Map(participants.map((p) => [p.clientId, (p.sampleCount ?? 0) / scale]));
  }

  /** Weighted secure rounds mask n_i / max(n) times the predictions, keeping values in [0, 1]. */
  private weightScale(participants: readonly ConnectedClient[]): number {
    const missing = participants.filter((p) => p.sampleCount === null).map((p) => p.clientId);
    if (missing.length > 0) throw new Error(`weighted aggregation needs sample counts, but ${missing.join(', ')} did not share theirs`);
    return Math.max(...participants.map((p) => p.sampleCount!));
  }

  startAggregation(participants: readonly ConnectedClient[], priorReputations?: ReadonlyMap<string, number>): RoundAggregation {
    const shape = { n: this.proxyCount, classes: this.options.classes };
    if (this.options.privacy) return new PrivateVoteSum(this.options.privacy, shape);
    const weighted = this.rule.name === 'weighted';
    if (weighted) this.weightScale(participants); // every participant must have shared its sample count
    const sampleCounts = new Map(participants.map((p) => [p.clientId, p.sampleCount]));
    const accumulator = this.rule.accumulator(shape, {
      weightScale: weighted ? this.weightScale(participants) : 1,
      maxHeldAnswers: this.options.maxHeldAnswers,
      priorReputations,
    });
    const agreements = accumulator.agreements?.bind(accumulator);
    const selection = accumulator.selection?.bind(accumulator);
    return {
      add: (clientId, answer, coverage) => accumulator.add(clientId, answer, weighted ? sampleCounts.get(clientId) ?? undefined : undefined, coverage),
      get count() {
        return accumulator.count;
      },
      get heldMatrices() {
        return accumulator.heldMatrices;
      },
      result: () => accumulator.result(),
      ...(agreements ? { agreements } : {}),
      ...(selection ? { selection } : {}),
    };
  }
}

/** Recent failures beyond this many do not lower a client's sampling weight further. */
export const MAX_COUNTED_FAILURES = 4;

/**
 * A seeded weighted sample without replacement (Efraimidis and Spirakis' A-ES): client i, with
 * f_i recent failures (invitations that ended dropped or rejected), has weight w_i = 2^-min(f_i, 4)
 * and key ln(u_i) / w_i for a seeded uniform u_i; the `count` largest keys are invited. So a
 * client that failed once is sampled about half as often as a reliable one, never less than a
 * sixteenth as often (it can recover). The sample depends on the seed, the round's fork of it,
 * who is connected and their failures, not on the order they connected in.
 */
export function sampleParticipants<C extends ConnectedClient>(clients: readonly C[], count: number, rng: SeededRng, recentFailures: ReadonlyMap<string, number>): C[] {
  const sorted = [...clients].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
  const keyed = sorted.map((client) => {
    const weight = 2 ** -Math.min(recentFailures.get(client.clientId) ?? 0, MAX_COUNTED_FAILURES);
    // uniform() is in [0, 1): shift by half a step so the logarithm is finite.
    return { client, key: Math.log(rng.uniform() + 2 ** -33) / weight };
  });
  return keyed
    .sort((a, b) => b.key - a.key)
    .slice(0, count)
    .map((k) => k.client);
}

/** sum / total, each row then clamped at 0 and renormalised (fixed-point sums are off by ~2^-17 per client). */
function normaliseRows(sum: Float64Array, classes: number, total: number): Float32Array {
  if (!(total > 0)) throw new Error('secure aggregation produced a sum over no clients');
  const out = new Float32Array(sum.length);
  for (let row = 0; row < sum.length; row += classes) {
    let rowSum = 0;
    for (let c = 0; c < classes; c++) rowSum += Math.max(0, sum[row + c] / total);
    for (let c = 0; c < classes; c++) out[row + c] = rowSum > 0 ? Math.max(0, sum[row + c] / total) / rowSum : 1 / classes;
  }
  return out;
}

/** Fixed point of the private vote sums: 2^-24, exact (order-free) for |sums| below 2^29. */
const VOTE_FIXED_POINT = 2 ** 24;

/**
 * A private round's noisy statistics (votes, or clipped probability sums; two blocks for
 * confident-GNMax), summed as they arrive in fixed point, so the sum (and so the release) is the
 * same in whatever order the answers came; only the sum is kept.
 */
class PrivateVoteSum implements RoundAggregation {
  private readonly units: Float64Array;
  private readonly seen = new Set<string>();

  constructor(
    private readonly spec: PrivacySpec,
    private readonly shape: { n: number; classes: number },
  ) {
    this.units = new Float64Array(shape.n * shape.classes * (spec.mechanism === 'confident-gnmax' ? 2 : 1));
  }

  get count(): number {
    return this.seen.size;
  }

  readonly heldMatrices = 0;

  add(clientId: string, answer: Float32Array): void {
    if (this.seen.has(clientId)) throw new RangeError(`client ${clientId} already answered this round`);
    if (answer.length !== this.units.length) throw new RangeError(`client ${clientId} sent ${answer.length} values, expected ${this.units.length}`);
    this.seen.add(clientId);
    for (let i = 0; i < answer.length; i++) this.units[i] += Math.round(answer[i] * VOTE_FIXED_POINT);
  }

  result(): Float32Array {
    const sum = Float64Array.from(this.units, (u) => u / VOTE_FIXED_POINT);
    return privacyMechanism(this.spec).release(sum, this.shape.classes);
  }
}
