import type * as tf from '@tensorflow/tfjs';
import {
  blobSha256,
  decodeWeights,
  describeArchitecture,
  encodeWeights,
  getModelWeights,
  instantiateModel,
  layersSpecOf,
  predictAll,
  setModelWeights,
  type ArchitectureDescription,
  type InputSet,
  type ModelSpec,
} from '@fedkd/engine';
import { checkProxyInputs, materialiseProxy, MNIST_TASK, proxyInputsSha256, rowsPerChunk, taskSha256, type Dataset, type PublicSetRef } from '@fedkd/data';
import {
  coverageSelectorFromBlob,
  coverageWeightedVector,
  createLoss,
  evaluateAccuracy,
  softPredictions,
  trainCoverageSelector,
  trainStudent,
  trainTeacherEnsemble,
  type CoverageSelector,
} from '@fedkd/distill';
import {
  MessageSigner,
  privacyMechanism,
  PrivacyLedger,
  PrivacyLedgerError,
  SecureAggregationClient,
  secureNormalRng,
  signHandshake,
  verifyModel,
  type Ed25519KeyPair,
  type PrivacyMechanism,
} from '@fedkd/privacy';
import {
  binaryBytesIn,
  encodeCoverage,
  encodePredictions,
  MAX_PROXY_CHUNK_BYTES,
  PROTOCOL_VERSION,
  proxyInputCount,
  validateAuthChallenge,
  validateModelPublished,
  validateRoundOpen,
  type Ack,
  type AuthChallenge,
  type ClientToServerEvents,
  type HelloAccepted,
  type HelloEnvelope,
  type ModelPublished,
  type PrivacySpec,
  type ProxyChunk,
  type RoundOpen,
  type SelectionRequest,
} from '@fedkd/protocol';
import { loadPrivateData, localOnlyAccuracy, prepareTeacher, type LocalTeacherConfig } from './local-teacher';

export interface ClientCoreConfig extends LocalTeacherConfig {
  clientName: string;
  /** Share the private sample count with the coordinator (needed by `weighted` aggregation). */
  shareSampleCount: boolean;
  /** Tests and simulations: this client's private data given directly (otherwise `data`, or its partition of the embedded pool). */
  loadPrivateData?: () => Dataset;
  /** Report the teacher's accuracy on the embedded test split when ready (embedded demos; off for large simulations). */
  localOnlyReference?: boolean;
  /** This client's Ed25519 key pair (its secret never leaves the client). */
  identity: Ed25519KeyPair;
  /** The coordinator's public key, pinned: published models must carry its signature. */
  coordinatorPublicKey: Uint8Array;
  /** One-time token from `fedkd enroll`, presented until this key is enrolled. */
  enrolmentToken?: string;
  /** Private rounds: teachers on disjoint shards of the private data (PATE), each example in exactly one. */
  teachersPerClient: number;
  /** This client's privacy budget (epsilon at the round's delta); rounds beyond it are declined. */
  epsilonMax: number;
  /** Where the privacy ledger is kept (survives restarts); required for private rounds. */
  ledgerPath: string | null;
  /** Most proxy inputs this client answers over its run (teacher queries); rounds beyond it are declined. null = no limit. */
  queryBudget: number | null;
  /**
   * UNSAFE: take part in secure rounds whose threshold is half of a client's neighbours or fewer
   * (coordinator --secagg-unsafe-threshold). Off by default: such rounds are declined, because a
   * coordinator that sends different unmask requests to different neighbours could recover this
   * client's predictions. The client's own choice, never the coordinator's.
   */
  acceptUnsafeSecAggThreshold?: boolean;
  /**
   * Simulations only: rewrites the teacher's [n x classes] soft predictions before they are
   * protected and sent (how `fedkd simulate --attackers` makes an enrolled, correctly signing
   * client answer adversarially). Absent in deployments.
   */
  answerTransform?: (predictions: Float32Array, shape: { n: number; classes: number }, round: number) => Float32Array;
}

/** What the client reports about itself, locally (stdout for `fedkd simulate`); none of it is sent. */
export type ClientEvent =
  | {
      event: 'ready';
      client: string;
      samples: number;
      /** The teacher alone on the embedded test split (embedded demos only; null with the client's own data). */
      localOnlyAccuracy: number | null;
      /** The teacher on the client's local hold-out (`--holdout`), null without one. */
      holdoutAccuracy: number | null;
      teacher: string;
    }
  | { event: 'proxy'; sha256: string; inputs: number; bytes: number; seconds: number }
  | { event: 'connected'; clientId: string }
  | { event: 'refused'; code: string; message: string }
  | {
      event: 'round';
      round: number;
      ok: boolean;
      code?: string;
      message?: string;
      bytes: number;
      seconds: number;
      /** Under secure aggregation: bytes of all its messages and milliseconds of its own cryptography. */
      secureAggregation?: { bytes: number; cryptoMs: number };
      /** After a private round: this client's cumulative epsilon from its own ledger. */
      epsilon?: number;
    }
  | { event: 'declined'; round: number; reason: string; acknowledged: boolean }
  | { event: 'model'; version: number; round: number; ok: boolean; sha256?: string; message?: string }
  | { event: 'disconnected'; reason: string };

type AckOf<E extends keyof ClientToServerEvents> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];

/**
 * How the core reaches the coordinator: sends one client event and resolves with its
 * acknowledgement. A socket.io socket in deployments, an in-memory channel in simulations; the
 * messages are the same (signed, binary, validated on arrival).
 */
export interface CoordinatorLink {
  send<E extends keyof ClientToServerEvents>(event: E, message: Parameters<ClientToServerEvents[E]>[0]): Promise<AckOf<E>>;
}

/**
 * What a client keeps between rounds when it is not running (a simulated client materialised
 * only when sampled): its teacher's weights, the queries it has answered, and the version of the
 * last student it loaded. The privacy ledger lives in its own file.
 */
export interface ClientState {
  teacher: Uint8Array | null;
  queriesAnswered: number;
  /** The coverage selector (trained at the first selective round), with the sizes it learned from. */
  selector?: { blob: Uint8Array; ownCount: number; referenceCount: number } | null;
}

/**
 * The client, transport-free (as Flower's ClientApp): its private data and teacher stay here;
 * given the coordinator's messages it builds the answers (protected soft predictions, noisy votes,
 * secure-aggregation steps, declines with reasons) and sends them through a CoordinatorLink, and
 * it loads each published student after checking its signature. The socket.io edge client and
 * every simulated client run this same code.
 */
export class ClientCore {
  /** Teacher queries this client has committed to answer so far (proxy inputs of the rounds it took). */
  private queriesAnswered = 0;
  private teacher: tf.LayersModel | null = null;
  /** A model file with --fine-tune-epochs 0: the rounds' digest and revisit leave it as it is. */
  private teacherFrozen = false;
  private readonly taskSha256: string;
  /** The coordinator's public sets fetched so far, by SHA-256 (public data: kept for the process's life). */
  private readonly publicSets = new Map<string, InputSet>();
  private student: { version: number; spec: ModelSpec; model: tf.LayersModel } | null = null;
  private privateData: Dataset | null = null;
  private holdout: Dataset | null = null;
  private dataSource = '';
  private signer: MessageSigner | null = null;
  private clientId: string | null = null;
  private ensemble: tf.LayersModel[] | null = null;
  /** Selective rounds: which proxy inputs this client's data covers (trained at its first such round, then kept). */
  private selector: CoverageSelector | null = null;
  /** The secure-aggregation round in progress: its protocol state and this client's (weighted) vector. */
  private secure: { round: number; protocol: SecureAggregationClient; values: Float32Array; started: number; bytes: number; cryptoMs: number } | null = null;
  /**
   * Identity keys of other clients seen in secure rounds' key directories, by client id (trust on
   * first use): a later directory that gives a known id another key is refused.
   */
  private readonly pinnedIdentityKeys = new Map<string, Uint8Array>();

  constructor(
    private readonly config: ClientCoreConfig,
    private readonly report: (event: ClientEvent) => void = () => undefined,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {
    this.taskSha256 = taskSha256(config.task ?? MNIST_TASK);
  }

  get name(): string {
    return this.config.clientName;
  }

  get studentVersion(): number | null {
    return this.student?.version ?? null;
  }

  /** Loads the private data (own files, or the embedded partition), holding out a share if asked. */
  async loadData(onProgress?: (done: number, total: number) => void): Promise<void> {
    if (this.privateData) return;
    const given = this.config.loadPrivateData?.();
    const data = given ? { train: given, holdout: null, source: 'given' } : await loadPrivateData(this.config, onProgress);
    this.privateData = data.train;
    this.holdout = data.holdout;
    this.dataSource = data.source;
  }

  /** Loads the data if needed, then trains (or loads and fine-tunes) the teacher, and reports `ready`. */
  async prepare(onProgress?: (done: number, total: number) => void): Promise<void> {
    await this.loadData(onProgress);
    const data = this.privateData!;
    this.log(`${this.config.clientName}: ${data.count} private samples from ${this.dataSource}${this.holdout ? ` (+ ${this.holdout.count} held out)` : ''}; preparing the teacher`);
    const teacher = await prepareTeacher(this.config, data);
    this.teacher = teacher.model;
    this.teacherFrozen = teacher.frozen;
    const embedded = !this.config.data && !this.config.loadPrivateData && (this.config.localOnlyReference ?? true);
    this.report({
      event: 'ready',
      client: this.config.clientName,
      samples: data.count,
      localOnlyAccuracy: embedded ? localOnlyAccuracy(teacher.model, this.config) : null,
      holdoutAccuracy: this.holdout ? evaluateAccuracy(teacher.model, this.holdout, this.holdout.labels) : null,
      teacher: teacher.description,
    });
  }

  /** A simulated client's state between rounds (see ClientState). */
  exportState(): ClientState {
    const selector = this.selector ? { blob: this.selector.exportBlob(), ownCount: this.selector.ownCount, referenceCount: this.selector.referenceCount } : null;
    if (!this.teacher) return { teacher: null, queriesAnswered: this.queriesAnswered, selector };
    const spec = this.config.teacherModelPath ? layersSpecOf(this.teacher) : this.config.model;
    return { teacher: encodeWeights(spec, getModelWeights(this.teacher)), queriesAnswered: this.queriesAnswered, selector };
  }

  /** Restores a simulated client's state: its teacher exactly as it was (float32), and its query count. */
  async importState(state: ClientState): Promise<void> {
    this.queriesAnswered = state.queriesAnswered;
    if (state.selector) {
      this.selector?.dispose();
      this.selector = coverageSelectorFromBlob(state.selector.blob, state.selector);
    }
    if (!state.teacher) return;
    const decoded = decodeWeights(state.teacher);
    const model = await instantiateModel(decoded.spec, 0);
    setModelWeights(model, decoded.weights);
    this.teacher?.dispose();
    this.teacher = model;
  }

  get hasTeacher(): boolean {
    return this.teacher !== null;
  }

  /** What the hello says this client is: a zoo spec, or a user model's shapes and size only. */
  private architecture(): ArchitectureDescription {
    const task = this.config.task ?? MNIST_TASK;
    if (this.config.teacherModelPath) {
      return { kind: 'layers', inputShape: [...task.input.shape], classes: task.classes.length, parameters: this.teacher?.countParams() ?? 1 };
    }
    return describeArchitecture(this.config.model, this.teacher?.countParams() ?? 1);
  }

  /**
   * The answer to a connection's challenge: a signed hello, unless the coordinator serves another
   * task (then the client stops there, naming both digests, rather than say hello).
   */
  helloFor(raw: unknown): { ok: true; hello: HelloEnvelope } | { ok: false; code: 'TASK_MISMATCH' | 'BAD_MESSAGE'; message: string } {
    const checked = validateAuthChallenge(raw);
    if (!checked.ok) {
      this.report({ event: 'refused', code: checked.code, message: checked.message });
      this.log(`${this.config.clientName}: not joining: ${checked.message}`);
      return { ok: false, code: 'BAD_MESSAGE', message: checked.message };
    }
    const challenge: AuthChallenge = checked.value;
    const theirs = challenge.task.sha256;
    if (theirs !== this.taskSha256) {
      const message = `the coordinator's task ${challenge.task.name} has SHA-256 ${theirs}; this client's task ${(this.config.task ?? MNIST_TASK).name} has ${this.taskSha256}`;
      this.report({ event: 'refused', code: 'TASK_MISMATCH', message });
      this.log(`${this.config.clientName}: not joining: ${message}`);
      return { ok: false, code: 'TASK_MISMATCH', message };
    }
    const { identity, clientName, enrolmentToken } = this.config;
    const nonce = new Uint8Array(challenge.nonce);
    const proof = signHandshake({ nonce, clientName, protocolVersion: PROTOCOL_VERSION, timestamp: Date.now() }, identity.secretKey);
    return {
      ok: true,
      hello: {
        taskSha256: this.taskSha256,
        architecture: this.architecture(),
        ...(this.config.shareSampleCount ? { sampleCount: this.privateData!.count } : {}),
        proof: { publicKey: identity.publicKey, timestamp: proof.timestamp, signature: proof.signature },
        ...(enrolmentToken ? { enrolmentToken } : {}),
      },
    };
  }

  /** The coordinator's reply to the hello; returns the latest student to load, if any. */
  helloReplied(reply: Ack<HelloAccepted>): ModelPublished | null {
    if (!reply.ok) {
      this.report({ event: 'refused', code: reply.code, message: reply.message });
      this.log(`${this.config.clientName}: hello refused: ${reply.code} ${reply.message}`);
      return null;
    }
    this.resume(reply.value.clientId);
    return reply.value.latestModel;
  }

  /** Registered under `clientId` (a simulated client materialised again keeps the id it was given, silently). */
  resume(clientId: string, options: { silent?: boolean } = {}): void {
    this.signer ??= new MessageSigner(this.config.identity.secretKey, this.config.coordinatorPublicKey);
    this.clientId = clientId;
    if (!options.silent) this.report({ event: 'connected', clientId });
  }

  /** The id the coordinator registered this client under (null before its hello was accepted). */
  get registeredId(): string | null {
    return this.clientId;
  }

  /** A round's question: answers it (or declines with a reason) through `link`. */
  async answerRound(raw: unknown, link: CoordinatorLink): Promise<void> {
    const started = Date.now();
    const checked = validateRoundOpen(raw);
    if (!checked.ok) {
      this.log(`${this.config.clientName}: ignored a malformed round.open: ${checked.message}`);
      return;
    }
    const round = checked.value;
    if (round.secureAggregation?.unsafeThreshold && !this.config.acceptUnsafeSecAggThreshold) {
      return this.decline(link, round.round, `secure aggregation with an unsafe threshold (${round.secureAggregation.threshold}, allowed below a majority of the neighbours): start the client with --secagg-accept-unsafe-threshold to take part`);
    }
    const queries = proxyInputCount(round.proxy);
    if (this.config.queryBudget !== null && this.queriesAnswered + queries > this.config.queryBudget) {
      return this.decline(link, round.round, `query budget: this round asks about ${queries} inputs, ${this.queriesAnswered} of ${this.config.queryBudget} are spent`);
    }
    // Charged before anything is computed or sent, like the privacy ledger.
    this.queriesAnswered += queries;
    let proxy: InputSet;
    try {
      proxy = await this.proxyInputs(link, round);
    } catch (error) {
      return this.decline(link, round.round, `cannot build the proxy inputs: ${(error as Error).message}`);
    }
    if (!this.teacher) await this.prepare();
    // A frozen teacher (a model file with --fine-tune-epochs 0) answers as it is.
    if (!this.teacherFrozen && round.digest && this.student?.version === round.digest.studentVersion) await this.digest(round, proxy);
    if (!this.teacherFrozen && round.localEpochs > 0) await this.revisit(round.localEpochs, round.round);
    if (round.privacy) return this.answerPrivately(link, round, proxy, started);
    const honest = softPredictions(this.teacher!, proxy, round.temperature);
    const predictions = this.config.answerTransform ? this.config.answerTransform(honest, { n: proxy.count, classes: round.classes }, round.round) : honest;
    let coverage: Float32Array | null = null;
    if (round.selection) {
      try {
        coverage = await this.coverage(round.selection, proxy);
      } catch (error) {
        return this.decline(link, round.round, `cannot score its coverage of the proxy inputs: ${(error as Error).message}`);
      }
    }
    if (round.secureAggregation) {
      const weight = round.secureAggregation.weight;
      // Selective rounds mask c * p and c: the coordinator learns only their sums over the survivors.
      const values = coverage ? coverageWeightedVector(predictions, coverage, round.classes) : predictions;
      return this.startSecureRound(link, round, values.map((p) => Math.min(1, Math.max(0, p * weight))), started);
    }
    const encoded = { ...encodePredictions(predictions, proxy.count, round.classes, round.encoding), ...(coverage ? { coverage: encodeCoverage(coverage) } : {}) };
    const bytes = encoded.data.byteLength + (encoded.scales?.byteLength ?? 0) + (encoded.coverage?.byteLength ?? 0);
    if (Date.now() > round.deadline) {
      this.report({ event: 'round', round: round.round, ok: false, code: 'DEADLINE_PASSED', message: 'too late to answer', bytes: 0, seconds: (Date.now() - started) / 1000 });
      return;
    }
    const payload = { round: round.round, encoding: round.encoding, n: proxy.count, classes: round.classes, ...encoded };
    const { seq, signature } = this.signer!.sign(round.round, 'round.predictions', payload);
    const ack = await link.send('round.predictions', { ...payload, seq, signature });
    const seconds = (Date.now() - started) / 1000;
    if (ack.ok) this.report({ event: 'round', round: round.round, ok: true, bytes, seconds });
    else this.report({ event: 'round', round: round.round, ok: false, code: ack.code, message: ack.message, bytes, seconds });
  }

  /**
   * A private round (PATE's GNMax): this client's teachers' vote counts with N(0, sigma^2) on every
   * count. The cost (queries x alpha / sigma^2 of RDP) is checked against the budget and written
   * to the ledger BEFORE anything is sent; over budget, the round is declined with the numbers.
   */
  private async answerPrivately(link: CoordinatorLink, round: RoundOpen, proxy: InputSet, started: number): Promise<void> {
    const spec = round.privacy!;
    const payloadRound = round.round;
    if (!this.config.ledgerPath) return this.decline(link, payloadRound, 'this client keeps no privacy ledger (--ledger), so it takes no private rounds');
    const ledger = PrivacyLedger.load(this.config.ledgerPath);
    const mechanism = privacyMechanism(spec);
    const cost = mechanism.roundRdp(proxy.count, ledger.orders);
    const check = ledger.check(cost, this.config.epsilonMax, spec.delta, payloadRound);
    if (!check.ok) return this.decline(link, payloadRound, `privacy budget: ${check.reason}`);
    this.ensemble ??= await trainTeacherEnsemble({
      spec: this.config.model,
      data: this.privateData!,
      teachers: this.config.teachersPerClient,
      epochs: this.config.epochs,
      seed: this.config.seed + this.config.clientIndex,
    });
    const clean = this.privateStatistic(mechanism, proxy, round);
    // Charged under the ledger's file lock on its latest state: another process of this client on
    // the same ledger cannot spend the same budget (it waits, or this one declines on LOCKED).
    let charged;
    try {
      charged = ledger.charge(payloadRound, cost, { mechanism: spec.mechanism, queries: proxy.count, answered: proxy.count, delta: spec.delta, epsilonMax: this.config.epsilonMax });
    } catch (error) {
      if (error instanceof PrivacyLedgerError && error.code === 'LOCKED') return this.decline(link, payloadRound, `privacy ledger: ${error.message}`);
      throw error;
    }
    if (!charged.ok) return this.decline(link, payloadRound, `privacy ledger: ${charged.reason}`);
    // Under secure aggregation each client adds its share of the noise: the sum of at least
    // `noiseShares` answers carries the full noise, and the coordinator sees only that sum.
    const secure = round.secureAggregation;
    const noisy = mechanism.noise(clean, secure ? secure.noiseShares : 1, secureNormalRng());
    if (secure) {
      // The range is thousands of counts wide, many share deviations: clamping is an overflow guard
      // that practically never acts (if it did, the summed noise would no longer be exactly Gaussian).
      const { min, max } = secure.fixedPoint;
      return this.startSecureRound(link, round, Float32Array.from(noisy, (v) => Math.min(max, Math.max(min, v))), started);
    }
    const values = Float32Array.from(noisy);
    const payload = { round: payloadRound, n: proxy.count, classes: round.classes, data: new Uint8Array(values.buffer) };
    const { seq, signature } = this.signer!.sign(payloadRound, 'round.votes', payload);
    const ack = await link.send('round.votes', { ...payload, seq, signature });
    const seconds = (Date.now() - started) / 1000;
    const epsilon = ledger.epsilon(spec.delta);
    if (ack.ok) this.report({ event: 'round', round: payloadRound, ok: true, bytes: payload.data.byteLength, seconds, epsilon });
    else this.report({ event: 'round', round: payloadRound, ok: false, code: ack.code, message: ack.message, bytes: payload.data.byteLength, seconds, epsilon });
  }

  /** What the mechanism protects: vote counts of this client's teachers, or their clipped probability rows summed. */
  private privateStatistic(mechanism: PrivacyMechanism, proxy: InputSet, round: RoundOpen): Float64Array {
    // Votes need only each teacher's ranking of the classes (its logits); the Gaussian sum needs probabilities.
    const outputs = this.ensemble!.map((teacher) => (mechanism.needsProbabilities ? softPredictions(teacher, proxy, round.temperature) : predictAll(teacher, proxy)));
    return mechanism.statistic(outputs, proxy.count, round.classes);
  }

  /**
   * This client's coverage weight of each proxy input (CoverageSelector): its selector learns its
   * own private inputs against the proxy inputs of the first selective round it answers, and is
   * kept for the later rounds. A function of the private data, sent only as the predictions are.
   */
  private async coverage(request: SelectionRequest, proxy: InputSet): Promise<Float32Array> {
    if (!this.selector) {
      this.log(`${this.config.clientName}: training its coverage selector (${this.privateData!.count} own inputs against ${proxy.count} proxy inputs, ${request.epochs} epochs)`);
      this.selector = await trainCoverageSelector(this.privateData!, proxy, { seed: this.config.seed + 7 * this.config.clientIndex + 1, epochs: request.epochs });
    }
    return this.selector.coverage(proxy, request.oddsScale);
  }

  /** Tells the coordinator why this client sits a round out (a reason, not a timeout). */
  private async decline(link: CoordinatorLink, round: number, reason: string): Promise<void> {
    const payload = { round, reason };
    const { seq, signature } = this.signer!.sign(round, 'round.declined', payload);
    const ack = await link.send('round.declined', { ...payload, seq, signature });
    this.report({ event: 'declined', round, reason, acknowledged: ack.ok });
  }

  /**
   * Secure aggregation (Bonawitz et al.): this client's predictions never leave it in the clear;
   * it advertises fresh keys now and answers each protocol step as it arrives.
   */
  private async startSecureRound(link: CoordinatorLink, round: RoundOpen, values: Float32Array, started: number): Promise<void> {
    const spec = round.secureAggregation!;
    const t0 = performance.now();
    const protocol = new SecureAggregationClient(this.clientId!, {
      roundId: round.round,
      vectorLength: values.length,
      threshold: spec.threshold,
      graph: spec.graph,
      fixedPoint: spec.fixedPoint,
      // Only ever true when this client opted in (checked when the round opened).
      unsafeThreshold: spec.unsafeThreshold === true && this.config.acceptUnsafeSecAggThreshold === true,
    }, {
      // Signatures are bound to the coordinator this client pinned, not to anything the coordinator sends.
      identity: this.config.identity,
      federationId: this.config.coordinatorPublicKey,
      knownIdentityKeys: this.pinnedIdentityKeys,
    });
    const advertisement = protocol.advertiseKeys();
    this.secure = { round: round.round, protocol, values, started, bytes: 0, cryptoMs: performance.now() - t0 };
    await this.sendSecure(link, advertisement as unknown as Record<string, unknown>);
  }

  /** The next step of the secure-aggregation round in progress. */
  async continueSecureRound(envelope: unknown, link: CoordinatorLink): Promise<void> {
    const { round, message } = (envelope ?? {}) as { round?: unknown; message?: Record<string, unknown> };
    const secure = this.secure;
    if (!secure || round !== secure.round || !message) {
      this.log(`${this.config.clientName}: ignored a secure-aggregation message for round ${String(round)}`);
      return;
    }
    try {
      const t0 = performance.now();
      let reply: unknown;
      if (message.kind === 'secagg.key-directory') {
        reply = await secure.protocol.shareKeys(message as never);
        for (const [id, key] of secure.protocol.directoryIdentityKeys) if (!this.pinnedIdentityKeys.has(id)) this.pinnedIdentityKeys.set(id, key);
      } else if (message.kind === 'secagg.consistency-check') reply = secure.protocol.signSurvivorView(message as never);
      else if (message.kind === 'secagg.sealed-shares') {
        secure.protocol.acceptSealedShares(message as never);
        reply = secure.protocol.maskInput(secure.values);
      } else if (message.kind === 'secagg.unmask-request') reply = secure.protocol.unmask(message as never);
      else throw new Error(`unexpected secure-aggregation step ${String(message.kind)}`);
      secure.cryptoMs += performance.now() - t0;
      const ack = await this.sendSecure(link, reply as Record<string, unknown>);
      if (message.kind === 'secagg.unmask-request' && ack.ok) {
        this.secure = null;
        this.report({
          event: 'round',
          round: secure.round,
          ok: true,
          bytes: secure.bytes,
          seconds: (Date.now() - secure.started) / 1000,
          secureAggregation: { bytes: secure.bytes, cryptoMs: Math.round(secure.cryptoMs * 10) / 10 },
        });
      }
    } catch (error) {
      // E.g. an unmask request naming a client both dropped and surviving: refuse, reveal nothing.
      this.secure = null;
      const reason = error instanceof Error ? error.message : String(error);
      this.report({ event: 'round', round: secure.round, ok: false, code: 'SECURE_AGGREGATION', message: reason, bytes: secure.bytes, seconds: (Date.now() - secure.started) / 1000 });
    }
  }

  /** Whether a secure-aggregation round still needs this client. */
  get inSecureRound(): boolean {
    return this.secure !== null;
  }

  private async sendSecure(link: CoordinatorLink, message: Record<string, unknown>): Promise<Ack> {
    const secure = this.secure!;
    const payload = { round: secure.round, message };
    const { seq, signature } = this.signer!.sign(secure.round, 'secagg', payload);
    secure.bytes += binaryBytesIn(message);
    const ack = await link.send('secagg', { ...payload, seq, signature });
    if (!ack.ok) this.log(`${this.config.clientName}: secure-aggregation ${String(message.kind)} refused: ${ack.code} ${ack.message}`);
    return ack;
  }

  /** FedMD digest: move the teacher towards the federation's student on the public proxy inputs. */
  private async digest(round: RoundOpen, proxy: InputSet): Promise<void> {
    const softLabels = softPredictions(this.student!.model, proxy, round.temperature);
    const loss = createLoss({ name: 'response', temperature: round.temperature });
    await trainStudent(this.teacher!, { inputs: proxy, softLabels }, { loss, epochs: round.digest!.epochs, seed: this.config.seed + round.round });
    loss.dispose();
  }

  /** FedMD revisit: train again on the private data. */
  private async revisit(epochs: number, round: number): Promise<void> {
    const loss = createLoss({ name: 'response', temperature: 1, alpha: 1 });
    await trainStudent(
      this.teacher!,
      { inputs: this.privateData!, hardLabels: this.privateData!.labels },
      { loss, epochs, seed: this.config.seed + 7919 * round + this.config.clientIndex },
    );
    loss.dispose();
  }

  /**
   * The round's proxy inputs, materialised here: public rows by index (of an embedded split, or of
   * the coordinator's set, fetched once and checked against its SHA-256), or regenerated from the
   * synthetic seed (and checked against the announced digest).
   */
  private async proxyInputs(link: CoordinatorLink, round: RoundOpen): Promise<InputSet> {
    if (round.proxy.kind === 'public' && round.proxy.set.source === 'coordinator') await this.fetchPublicSet(link, round.proxy.set);
    const inputs = materialiseProxy(round.proxy, (sha256) => this.publicSets.get(sha256));
    if (round.proxy.kind === 'synthetic') checkProxyInputs(inputs, round.proxy.inputsSha256);
    return inputs;
  }

  /** Downloads the coordinator's public set in chunks (public, unlabelled inputs) and keeps it if it hashes to its announced SHA-256. */
  private async fetchPublicSet(link: CoordinatorLink, ref: Extract<PublicSetRef, { source: 'coordinator' }>): Promise<void> {
    if (this.publicSets.has(ref.sha256)) return;
    const task = this.config.task ?? MNIST_TASK;
    if (ref.inputShape.join('x') !== task.input.shape.join('x')) {
      throw new Error(`the public set's inputs are [${ref.inputShape.join(', ')}], but the task's are [${task.input.shape.join(', ')}]`);
    }
    const started = Date.now();
    const size = ref.inputShape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(ref.count * size);
    const step = rowsPerChunk(ref.inputShape, MAX_PROXY_CHUNK_BYTES);
    for (let start = 0; start < ref.count; start += step) {
      const count = Math.min(step, ref.count - start);
      const ack = (await link.send('proxy.fetch', { sha256: ref.sha256, start, count })) as Ack<ProxyChunk>;
      if (!ack.ok) throw new Error(`proxy.fetch refused: ${ack.code} ${ack.message}`);
      const bytes = new Uint8Array(ack.value.data);
      if (bytes.byteLength !== count * size * 4) throw new Error(`proxy.fetch sent ${bytes.byteLength} bytes for ${count} rows of ${size} values`);
      values.set(new Float32Array(bytes.buffer, bytes.byteOffset, count * size), start * size);
    }
    const set: InputSet = { values, count: ref.count, inputShape: [...ref.inputShape] };
    const actual = proxyInputsSha256(set);
    if (actual !== ref.sha256) throw new Error(`the public set received hashes to ${actual}, not the announced ${ref.sha256}`);
    this.publicSets.set(ref.sha256, set);
    this.report({ event: 'proxy', sha256: ref.sha256, inputs: ref.count, bytes: values.byteLength, seconds: (Date.now() - started) / 1000 });
  }

  /** Verifies a published student against its announced hash and the pinned key; on failure keeps the last good one. */
  async loadStudent(raw: unknown): Promise<void> {
    const checked = validateModelPublished(raw);
    if (!checked.ok) {
      this.report({ event: 'model', version: -1, round: -1, ok: false, message: checked.message });
      return;
    }
    const published: ModelPublished = checked.value;
    if (this.student && published.version <= this.student.version) return;
    try {
      const signed = verifyModel(published, published.signature, this.config.coordinatorPublicKey, { currentVersion: this.student?.version });
      if (!signed.ok) throw new Error(`signature refused: ${signed.code}: ${signed.message}`);
      const weights = new Uint8Array(published.weights);
      const actual = blobSha256(weights);
      if (actual !== published.sha256) throw new Error(`hash mismatch: announced ${published.sha256}, got ${actual}`);
      const decoded = decodeWeights(weights);
      const model = await instantiateModel(decoded.spec as ModelSpec, 0);
      try {
        setModelWeights(model, decoded.weights);
      } catch (error) {
        model.dispose();
        throw error;
      }
      this.student?.model.dispose();
      this.student = { version: published.version, spec: decoded.spec as ModelSpec, model };
      this.report({ event: 'model', version: published.version, round: published.round, ok: true, sha256: actual });
    } catch (error) {
      this.report({ event: 'model', version: published.version, round: published.round, ok: false, message: (error as Error).message });
      this.log(`${this.config.clientName}: refused model v${published.version}: ${(error as Error).message}`);
    }
  }

  /** Frees the models; safe to call more than once. */
  dispose(): void {
    this.teacher?.dispose();
    this.teacher = null;
    this.student?.model.dispose();
    this.student = null;
    this.ensemble?.forEach((m) => m.dispose());
    this.ensemble = null;
    this.selector?.dispose();
    this.selector = null;
  }
}
