import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { maxPayloadBytesFor, proxyInputCount, type ModelPublished, type RoundOpen } from '@fedkd/protocol';
import { decodeBase64Exact, PUBLIC_KEY_BYTES, privacyMechanism, signModel } from '@fedkd/privacy';
import { COORDINATOR_KEY, type CoordinatorKey } from '../auth/coordinator-key.provider';
import { CONFIG } from '../config/config.provider';
import { replayCapacity, type CoordinatorConfig } from '../config/coordinator-config';
import { argmaxAccuracy, ReplayBuffer } from '@fedkd/distill';
import { materialiseProxy } from '@fedkd/data';
import { selectInputs } from '@fedkd/engine';
import { writeRoundSamples } from './round-samples';
import { FEDERATION, type FederationSetup } from '../federation/federation-setup';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import type { CoordinatorRepositories } from '../persistence/coordinator-database';
import { LEADERSHIP, type Leadership } from '../scale/leadership';
import { ReplicaRelay } from '../scale/replica-relay';
import { FederationEvents } from '../events/federation-events';
import { StudentTrainerService } from '../training/student-trainer.service';
import type { GuidedInputsResult } from '../training/guided-inputs';
import { GRID, type Grid } from '../transport/grid';
import { RoundStateMachine, type RoundState } from './round-state-machine';
import { roundPrivacyMetrics } from '../privacy/privacy-report';
import { chargePrivateRound } from '../privacy/privacy-curves';
import type { ParticipantOutcome } from '../transport/round-collection';
import { PublicProxyDistillationStrategy, syntheticRoundSeed, type RoundAggregation, type RoundPlan, type RoundTarget, type Strategy } from './strategy';
import { RoundCannotStartError, RoundStartLimiter, RoundStartRateLimitedError } from './round-start-limiter';

/** Rounds whose dropped and rejected invitations lower a client's chance to be invited. */
export const RELIABILITY_WINDOW_ROUNDS = 10;

export interface RoundSummary {
  round: number;
  state: RoundState;
  reason: string | null;
  modelVersion: number | null;
  testAccuracy: number | null;
  agreement: number | null;
}

/**
 * Runs rounds end to end: configure (Strategy) -> collect (Grid) -> aggregate -> train the student
 * in a worker -> publish a signed-by-hash, immutable model version; every step persisted.
 */
/** Beyond its deadline, how long a follower waits for the leader to train and publish a round asked of it. */
const LEADER_ROUND_ALLOWANCE_MS = 10 * 60_000;

@Injectable()
export class RoundsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Rounds');
  private readonly strategy: Strategy;
  private running: Promise<RoundSummary> | null = null;
  /** POST /rounds while a round cannot start: refused, then rate limited (429). */
  private readonly startLimiter = new RoundStartLimiter();
  private stopping = false;
  /** Every round's answered inputs and aggregated answers the student rehearses (`--replay-size`; stored in the database). */
  private replay: ReplayBuffer;
  /** Taking the lead (loading what the last leader stored), once this replica leads. */
  private takingLead: Promise<void> | null = null;
  private autoRunning = false;
  /** Student copies of the student-guided generator (in memory: fresh after a restart, then trained on the replay buffer). */
  private copies: (Uint8Array | null)[];
  /** The student-guided generator's last weights, with --guided-keep-generator (in memory). */
  private guidedGeneratorWeights: Float32Array[] | null = null;
  /** The learned generator's optimiser state (null before its first step). */
  private generatorOptimiser: Uint8Array | null = null;
  /** Resolves when the automatic rounds of `--rounds` are over. */
  readonly autoRunDone: Promise<RoundSummary[]>;
  private resolveAutoRun!: (summaries: RoundSummary[]) => void;

  constructor(
    @Inject(CONFIG) private readonly config: CoordinatorConfig,
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    @Inject(GRID) private readonly grid: Grid,
    private readonly trainer: StudentTrainerService,
    @Inject(COORDINATOR_KEY) private readonly key: CoordinatorKey,
    @Inject(FEDERATION) private readonly federation: FederationSetup,
    private readonly events: FederationEvents,
    @Inject(LEADERSHIP) private readonly leadership: Leadership,
    private readonly relay: ReplicaRelay,
  ) {
    const publicSet = federation.publicSet;
    this.strategy = new PublicProxyDistillationStrategy({
      splitSeed: config.seed,
      proxy: publicSet ? { kind: 'public', set: publicSet.ref, setCount: publicSet.inputs.count, size: config.proxySize, resample: config.proxyResample } : { kind: 'synthetic', generator: config.generator, count: config.proxySize },
      temperature: config.temperature,
      encoding: config.encoding,
      classes: federation.task.classes.length,
      participation: config.participation,
      targetAnswers: config.targetAnswers,
      overSelection: config.overSelection,
      aggregation: config.aggregation,
      localEpochs: config.localEpochs,
      digestEpochs: config.digestEpochs,
      maxPayloadBytes: maxPayloadBytesFor,
      secureAggregation: config.secureAggregation.enabled ? config.secureAggregation : null,
      privacy: config.privacy,
      minimumContributors: config.minAnswers ?? config.minClients,
      maxHeldAnswers: config.maxHeldAnswers,
    });
    this.replay = new ReplayBuffer(replayCapacity(config));
    this.copies = Array.from({ length: this.studentGuided ? config.studentCopies : 0 }, () => null);
    this.autoRunDone = new Promise((resolve) => (this.resolveAutoRun = resolve));
    // Replicas: a round asked of a follower runs here when this replica leads.
    relay.onRoundRequest<RoundSummary>(async () => {
      try {
        return { ok: true, summary: await this.requestRound() };
      } catch (error) {
        if (error instanceof RoundStartRateLimitedError) return { ok: false, code: error.code, message: error.message, retryAfterSeconds: error.retryAfterSeconds };
        if (error instanceof RoundCannotStartError) return { ok: false, code: error.code, message: error.message };
        throw error;
      }
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.privacy && this.config.aggregation.name === 'selective') {
      this.logger.warn('--agg selective with --dp: private rounds release the noisy votes by the privacy mechanism, so clients send no coverage weights (the selection is off)');
    }
    // Every replica: what a client that connects catches up with.
    const latest = await this.db.models.latest();
    if (latest) this.grid.setLatest(await this.toPublished(latest.version));
    this.leadership.follow({
      elected: () => void (this.takingLead = this.takeLead()),
      // The round in progress ends with what it has; it fails before training (executeRound checks the lead).
      deposed: () => this.grid.closeCollection(),
    });
    this.leadership.start();
    // A sole coordinator leads at once: its start-up ends once it has loaded what it stored.
    await this.takingLead;
  }

  /**
   * This replica now runs the rounds (at start-up for a sole coordinator, after an election for
   * replicas): rounds the last leader left running are failed, and the student, the learned
   * generator and the replay buffer are read back from the database.
   */
  private async takeLead(): Promise<void> {
    const interrupted = await this.db.rounds.markInterrupted();
    if (interrupted > 0) this.logger.warn(`${interrupted} round(s) interrupted by a restart or by the loss of their leader were marked failed`);
    const latest = await this.db.models.latest();
    if (latest) this.grid.setLatest(await this.toPublished(latest.version));
    const generator = this.learnedGenerator ? await this.db.generators.latest() : null;
    if (generator) {
      // A restart continues the same descent: the generator and its optimiser as the last round left them.
      this.strategy.useGenerator(generator.generator);
      this.generatorOptimiser = generator.optimiser;
      this.logger.log(`learned generator resumed from round ${generator.round}`);
    }
    this.replay = new ReplayBuffer(replayCapacity(this.config));
    await this.loadReplay();
    if (this.config.rounds > 0 && !this.autoRunning) void this.autoRun(this.config.rounds);
  }

  /** The stored replay buffer, within the configured capacity (a smaller --replay-size drops the oldest rounds, in the database too). */
  private async loadReplay(): Promise<void> {
    const stored = await this.db.replay.all();
    for (const chunk of stored) {
      const change = this.replay.add(chunk);
      if (change.dropped > 0) await this.db.replay.record(chunk, change);
    }
    if (stored.length) this.logger.log(`replay buffer: ${this.replay.size} inputs of ${this.replay.rounds.length} rounds (capacity ${this.replay.capacity})`);
  }

  onApplicationShutdown(): void {
    this.stopping = true;
    this.grid.closeCollection();
  }

  /** Once stopping: whether the round in progress (if any) ended within `timeoutMs`. */
  async stopped(timeoutMs: number): Promise<boolean> {
    const running = this.running;
    if (!running) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([running.then(() => true, () => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Starts a round unless one is running (then that one's summary is awaited). Throws
   * RoundCannotStartError, storing nothing, when too few clients are connected or would be invited.
   */
  runRound(): Promise<RoundSummary> {
    if (this.running) return this.running;
    if (!this.leadership.leading) {
      throw new RoundCannotStartError('this coordinator replica does not lead rounds now: the leading replica runs them (its --rounds, or POST /rounds to it)');
    }
    const refusal = this.startRefusal();
    if (refusal) throw new RoundCannotStartError(refusal);
    this.running = this.executeRound().finally(() => (this.running = null));
    return this.running;
  }

  /**
   * A round asked for over the API (POST /rounds): as runRound, but failed starts are rate limited
   * (RoundStartRateLimitedError: 1 s after a failure, doubling with each consecutive one, up to 60 s).
   */
  requestRound(now = Date.now()): Promise<RoundSummary> {
    if (this.relay.relaying) return this.requestRoundOfLeader();
    if (this.running) return this.running;
    this.startLimiter.check(now);
    try {
      const round = this.runRound();
      this.startLimiter.started();
      return round;
    } catch (error) {
      if (error instanceof RoundCannotStartError) {
        this.startLimiter.failed(error.message, now);
        this.logger.warn(`refused to start a round: ${error.message}`);
      }
      throw error;
    }
  }

  /** A follower's POST /rounds: the leader runs the round (or says why not). */
  private async requestRoundOfLeader(): Promise<RoundSummary> {
    // The round's collection, then its training and publication.
    const reply = await this.relay.requestRoundOfLeader<RoundSummary>(this.config.roundDeadlineMs + LEADER_ROUND_ALLOWANCE_MS);
    if (!reply) throw new RoundCannotStartError('no replica answered as the leader of the rounds (one may be taking over): try again in a few seconds');
    if (reply.ok) return reply.summary;
    if (reply.code === 'RATE_LIMITED') throw Object.assign(new RoundStartRateLimitedError(reply.retryAfterSeconds ?? 1, ''), { message: reply.message });
    throw new RoundCannotStartError(reply.message);
  }

  /** Why a round cannot start now, or null. */
  private startRefusal(): string | null {
    const connected = this.grid.connectedClients().length;
    if (connected < this.config.minClients) return `only ${connected} of the ${this.config.minClients} required clients are connected`;
    const needed = this.config.minAnswers ?? this.config.minClients;
    const invited = this.strategy.invitationCount(connected);
    if (invited < needed) {
      const rule = this.config.targetAnswers ? `--target-answers ${this.config.targetAnswers} x --over-selection ${this.config.overSelection}` : `--participation ${this.config.participation}`;
      return `only ${invited} clients would be invited (${rule} of ${connected} connected), fewer than the ${needed} answers a round needs`;
    }
    return null;
  }

  private get learnedGenerator(): boolean {
    return this.config.proxy === 'synthetic' && this.config.generator === 'learned';
  }

  private get studentGuided(): boolean {
    return this.config.proxy === 'synthetic' && this.config.generator === 'student-guided';
  }

  /**
   * A student-guided round's question: a generator trained (in the worker) against the latest
   * student and its copies, and the round's inputs from it. The teachers are not involved.
   */
  private async prepareGuidedInputs(round: number, latestVersion: number | null): Promise<GuidedInputsResult> {
    const seed = syntheticRoundSeed(this.config.seed, round);
    const student = latestVersion !== null ? await this.db.models.getBlob(latestVersion) : this.federation.student.initialBlob;
    const made = await this.trainer.makeGuidedInputs({
      kind: 'guided-inputs',
      round,
      spec: this.federation.student.spec,
      students: [student, ...this.copies],
      studentSeed: this.config.seed,
      classes: this.federation.task.classes.length,
      count: this.config.proxySize,
      seed,
      options: this.config.studentGuided,
      generatorWeights: this.config.studentGuided.reinitialise ? null : this.guidedGeneratorWeights,
    });
    if (!this.config.studentGuided.reinitialise) this.guidedGeneratorWeights = made.generatorWeights;
    this.strategy.useSentInputs(round, { seed, inputShape: made.inputShape, pixels: made.pixels });
    const r = made.report;
    this.logger.log(
      `round ${round}: student-guided generator trained ${r.steps} steps against ${1 + this.copies.length} student(s) in ${r.seconds.toFixed(1)} s (loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)}; the student puts ${(100 * r.studentAgreement).toFixed(1)} % of its inputs in their intended class)`,
    );
    return made;
  }

  get isRunning(): boolean {
    return this.running !== null;
  }

  /** The --rounds, while this replica leads (a new leader runs its own --rounds). */
  private async autoRun(rounds: number): Promise<void> {
    this.autoRunning = true;
    const summaries: RoundSummary[] = [];
    try {
      while (summaries.length < rounds && !this.stopping && this.leadership.leading) {
        await this.waitForClients();
        if (this.stopping || !this.leadership.leading) break;
        try {
          summaries.push(await this.runRound());
        } catch (error) {
          // A client left between the wait and the start: wait again (nothing was stored).
          if (!(error instanceof RoundCannotStartError)) throw error;
        }
      }
    } catch (error) {
      this.logger.error(`automatic rounds stopped: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.autoRunning = false;
    }
    this.resolveAutoRun(summaries);
  }

  private async waitForClients(): Promise<void> {
    let logged = false;
    while (!this.stopping && this.leadership.leading && this.startRefusal() !== null) {
      if (!logged) this.logger.log(`waiting for ${this.config.minClients} clients (${this.grid.connectedClients().length} connected)`);
      logged = true;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private async executeRound(): Promise<RoundSummary> {
    const number = await this.db.rounds.nextRoundNumber();
    // First, so that everything logged about the round (the student-guided generator's training too) carries its number.
    this.events.emit({ type: 'round.phase', round: number, phase: 'open', reason: null });
    const machine = new RoundStateMachine(number);
    const timings: Record<string, number> = {};
    const roundStarted = Date.now();
    const latest = await this.db.models.latest();
    let guided: GuidedInputsResult | null = null;
    if (this.studentGuided) {
      try {
        guided = await this.prepareGuidedInputs(number, latest?.version ?? null);
      } catch (error) {
        return await this.failBeforeStart(number, `the student-guided generator could not make the round's inputs: ${error instanceof Error ? error.message : String(error)}`);
      }
      timings.generateMs = Date.now() - roundStarted;
    }
    const plan = this.strategy.configureRound(number, this.grid.connectedClients(), latest?.version ?? null, await this.db.rounds.recentFailures(RELIABILITY_WINDOW_ROUNDS));
    const request = { ...plan.request, deadline: Date.now() + this.config.roundDeadlineMs };
    const proxyCount = proxyInputCount(request.proxy);
    await this.db.rounds.create({
      number,
      config: {
        aggregation: this.config.aggregation,
        loss: this.config.loss,
        temperature: request.temperature,
        encoding: request.encoding,
        proxy: storedProxy(request.proxy),
        minClients: this.config.minClients,
        targetAnswers: this.config.targetAnswers,
        deadline: request.deadline,
        participants: plan.participants.map((p) => p.clientId),
        task: { name: this.federation.task.name, sha256: this.federation.taskSha256 },
        student: this.federation.student.spec.kind === 'layers' ? { kind: 'layers', source: this.config.studentModel } : this.federation.student.spec,
        privacy: request.privacy,
        secureAggregation: request.secureAggregation !== null,
      },
    });
    const move = async (to: RoundState, reason: string | null = null, store: CoordinatorRepositories = this.db) => {
      machine.transition(to, reason);
      await store.rounds.updateState(number, to, reason);
      this.events.emit({ type: 'round.phase', round: number, phase: to, reason });
    };
    let bytesUp = 0;
    const fail = async (reason: string): Promise<RoundSummary> => {
      this.logger.warn(`round ${number} failed: ${reason}`);
      timings.roundMs = Date.now() - roundStarted;
      try {
        await move('failed', reason);
        await this.db.rounds.setMetrics(number, null, timings);
      } catch (error) {
        // e.g. another replica took the lead and already failed this round.
        this.logger.warn(`round ${number}: could not record its failure: ${error instanceof Error ? error.message : String(error)}`);
      }
      return this.ended({ round: number, state: 'failed', reason, modelVersion: null, testAccuracy: null, agreement: null }, timings, bytesUp, 0);
    };

    try {
      const needed = this.config.minAnswers ?? this.config.minClients;
      await move('collecting');
      this.logger.log(`round ${number}: asked ${plan.participants.length} clients about ${proxyCount} ${request.proxy.kind} proxy inputs`);
      let started = Date.now();
      timings.openMs = started - roundStarted;
      const collected = await this.collect(request, plan);
      timings.collectMs = Date.now() - started;
      Object.assign(timings, answerTimes(collected.outcomes, started));
      const outcomes = collected.outcomes;
      const answered = outcomes.filter((o) => o.status === 'answered');
      // The answered clients of a private round spent privacy whatever becomes of the round: charge
      // their running curves in the transaction that records them as answered.
      await this.db.transaction(async (tx) => {
        if (request.privacy) await chargePrivateRound(tx, number, answered.map((o) => o.clientId), request.privacy, proxyCount);
        await tx.rounds.upsertParticipants(
          outcomes.map((o) => ({ round: number, clientId: o.clientId, status: o.status, reason: o.reason, bytesUploaded: o.bytesUploaded, answeredAt: o.answeredAt })),
        );
      });
      bytesUp = outcomes.reduce((sum, o) => sum + o.bytesUploaded, 0);
      this.events.emit({
        type: 'round.answers',
        round: number,
        invited: plan.participants.length,
        outcomes: outcomes.map((o) => ({ clientId: o.clientId, status: o.status, reason: o.reason, bytesUploaded: o.bytesUploaded })),
      });
      const others = outcomes.filter((o) => o.status !== 'answered').map((o) => `${o.clientId} ${o.status}${o.reason ? ` (${o.reason})` : ''}`);
      this.logger.log(`round ${number}: ${answered.length}/${outcomes.length} answered${others.length ? `; ${others.join('; ')}` : ''}`);
      if (this.stopping) return await fail('coordinator shutting down');
      if (!this.leadership.leading) return await fail('this replica lost the lead of the rounds');
      if (collected.failure) return await fail(collected.failure);
      if (answered.length < needed) {
        return await fail(`only ${answered.length} of the ${needed} required clients answered`);
      }

      await move('aggregating');
      started = Date.now();
      // Confident-GNMax leaves the queries it did not answer as all-zero rows, and the selective rule
      // those it dropped: the student skips them.
      const aggregate = await collected.aggregate();
      const { rows: trainRows, targets } = answeredRows(proxyCount, aggregate.targets, request.classes);
      timings.aggregateMs = Date.now() - started;
      const selection = aggregate.selection;
      const kept = selection
        ? `kept ${selection.kept} of ${selection.rows} inputs (dropped ${selection.uncovered} that no client covers, ${selection.ambiguous} on which the covering clients disagree)`
        : null;
      this.logger.log(`round ${number}: aggregated ${answered.length} clients with ${this.config.aggregation.name}${request.secureAggregation ? ' under secure aggregation (sum only)' : ''}${kept ? `; ${kept}` : ''}`);
      if (trainRows.length === 0) return await fail(`no proxy input has a target after aggregation${kept ? ` (${kept})` : ''}`);

      await move('training');
      started = Date.now();
      const previousBlob = latest ? await this.db.models.getBlob(latest.version) : this.federation.student.initialBlob;
      const result = await this.trainer.train(
        {
          round: number,
          proxy: request.proxy,
          publicSet: this.federation.publicSet?.ref.source === 'coordinator' ? this.federation.publicSet.inputs : null,
          evaluation: this.federation.evaluation,
          rows: trainRows,
          targets,
          loss: this.config.loss,
          spec: this.federation.student.spec,
          previousBlob,
          epochs: this.config.studentEpochs,
          batchSize: this.config.studentBatchSize,
          learningRate: this.config.studentLearningRate,
          seed: this.config.seed,
          replay: this.replay.size > 0 ? this.replay.contents() : null,
          copies: this.copies,
          generator: this.learnedGenerator
            ? { temperature: request.temperature, classes: request.classes, optimiser: this.generatorOptimiser, options: this.config.generatorStep }
            : null,
        },
        (epoch, epochs, loss) => {
          if (epoch === epochs || epoch % 10 === 0) this.logger.log(`round ${number}: student epoch ${epoch}/${epochs} loss ${loss.toFixed(4)}`);
        },
      );
      // The worker trains, then evaluates; its evaluation time is reported apart.
      timings.evaluateMs = Math.round(result.evaluateSeconds * 1000);
      timings.trainMs = Date.now() - started - timings.evaluateMs;

      const version = (latest?.version ?? 0) + 1;
      const privacy = request.privacy
        ? { ...(await roundPrivacyMetrics(this.db, number, answered.map((o) => o.clientId), request.privacy, proxyCount)), answeredQueries: trainRows.length }
        : null;
      const metrics = {
        ...(result.testAccuracy !== null ? { testAccuracy: result.testAccuracy } : {}),
        agreement: result.agreement,
        studentEpochs: result.epochs,
        studentExamples: result.examples,
        invited: plan.participants.length,
        answered: answered.length,
        ...(this.config.targetAnswers ? { notNeeded: outcomes.filter((o) => o.status === 'not-needed').length } : {}),
        // Teacher queries: inputs asked x clients that answered; what the round's question cost each client to download.
        queries: proxyCount * answered.length,
        proxyBytesPerClient: proxyWireBytes(request.proxy),
        // What crossed the wire for this round: the answers (binary parts), and the question to each participant plus the new model to every connected client.
        bytesUp,
        bytesDown: plan.participants.length * messageBytes(request) + this.grid.connectedClients().length * result.blob.byteLength,
        ...(result.generator ? { generator: result.generator.report } : {}),
        ...(guided ? { generator: { ...guided.report, intendedClassAgreement: intendedAgreement(guided.intendedClasses, trainRows, targets, request.classes) } } : {}),
        ...(this.replay.capacity > 0 ? { replayInputs: Math.min(this.replay.capacity, this.replay.size + trainRows.length) } : {}),
        ...(privacy ? { privacy } : {}),
        // Selective rounds: how many of the asked inputs got a target, and why the others did not.
        ...(selection ? { selection } : {}),
      };
      started = Date.now();
      // The round's answered inputs join the replay buffer (stored with the version below).
      const replayChunk = this.replay.capacity > 0 && trainRows.length > 0 ? { round: number, inputs: selectInputs(this.roundInputs(request.proxy), trainRows), targets } : null;
      // A replica that lost the lead publishes nothing: the new leader has failed this round (its own
      // transaction below would fail on the round's state if the lease ran out in between).
      if (!this.leadership.leading) return await fail('this replica lost the lead of the rounds before publishing');
      // One transaction: a crash leaves either no trace of this version or a fully published round.
      await this.db.transaction(async (tx) => {
        await tx.models.add({ version, round: number, sha256: result.sha256, blob: result.blob, metrics });
        await tx.rounds.setMetrics(number, metrics, timings);
        if (result.generator) await tx.generators.save({ round: number, generator: result.generator.blob, optimiser: result.generator.optimiser });
        if (replayChunk) await tx.replay.record(replayChunk, this.replay.add(replayChunk));
        await move('published', null, tx);
      });
      this.copies = result.copies;
      if (this.config.samplesDir && request.proxy.kind === 'synthetic') {
        try {
          const path = await writeRoundSamples(this.config.samplesDir, number, request.proxy, this.roundInputs(request.proxy), guided?.intendedClasses ?? null, request.classes);
          this.logger.log(`round ${number}: its synthetic inputs are drawn in ${path}`);
        } catch (error) {
          this.logger.warn(`round ${number}: could not write its samples to ${this.config.samplesDir}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      if (result.generator) {
        this.strategy.useGenerator(result.generator.blob);
        this.generatorOptimiser = result.generator.optimiser;
        const g = result.generator.report;
        this.logger.log(
          `round ${number}: learned generator stepped on ${g.pairsUsed} pairs; the ensemble put ${(100 * g.intendedClassAgreement).toFixed(1)} % of the inputs in their intended class (classes answered: ${g.answeredClasses.join('/')})`,
        );
      }
      const published = await this.toPublished(version);
      this.grid.publish(published);
      this.relay.published(published);
      timings.publishMs = Date.now() - started;
      timings.roundMs = Date.now() - roundStarted;
      await this.db.rounds.setMetrics(number, metrics, timings);
      this.logger.log(
        `round ${number}: published model v${version} (${result.sha256.slice(0, 12)}), ` +
          (result.testAccuracy !== null ? `test accuracy ${result.testAccuracy.toFixed(4)}` : `agreement with the aggregated targets ${result.agreement.toFixed(4)} (no evaluation set)`) +
          (privacy ? `, release epsilon ${privacy.releaseEpsilon.toFixed(2)} (delta ${privacy.delta}, this round ${privacy.roundEpsilon.toFixed(2)})` : ''),
      );
      return this.ended({ round: number, state: 'published', reason: null, modelVersion: version, testAccuracy: result.testAccuracy, agreement: result.agreement }, timings, bytesUp, metrics.bytesDown);
    } catch (error) {
      return await fail(error instanceof Error ? error.message : String(error));
    }
  }

  /** A round's proxy inputs as the clients materialised them (public rows, regenerated or sent synthetic inputs). */
  private roundInputs(proxy: RoundOpen['proxy']) {
    const publicSet = this.federation.publicSet;
    return materialiseProxy(proxy, () => (publicSet?.ref.source === 'coordinator' ? publicSet.inputs : undefined));
  }

  /** A round that could not even be asked: stored as failed, with the reason. */
  private async failBeforeStart(number: number, reason: string): Promise<RoundSummary> {
    await this.db.rounds.create({ number, config: { proxy: { kind: 'synthetic', generator: this.config.generator } } });
    await this.db.rounds.updateState(number, 'failed', reason);
    this.logger.warn(`round ${number} failed: ${reason}`);
    return this.ended({ round: number, state: 'failed', reason, modelVersion: null, testAccuracy: null, agreement: null }, {}, 0, 0);
  }

  /** A round's end, told to the event bus; returns its summary. */
  private ended(summary: RoundSummary, timings: Record<string, number>, bytesUp: number, bytesDown: number): RoundSummary {
    this.events.emit({ type: 'round.ended', ...summary, state: summary.state === 'published' ? 'published' : 'failed', timings: { ...timings }, bytesUp, bytesDown });
    return summary;
  }

  /**
   * Collects a round's answers, in the clear or under secure aggregation; either way returns the
   * outcomes and how to turn what was received into the training target.
   */
  private async collect(
    request: RoundOpen,
    plan: RoundPlan,
  ): Promise<{ outcomes: ParticipantOutcome[]; failure: string | null; aggregate: () => Promise<RoundTarget> }> {
    if (!request.secureAggregation) {
      // Answers are aggregated as they arrive: the coordinator holds running sums, not every client's matrix.
      const aggregation = this.strategy.startAggregation(plan.participants, await this.db.reputations.latest());
      const outcomes = await this.grid.collect(request, plan.participants, aggregation, this.config.targetAnswers);
      return {
        outcomes,
        failure: null,
        aggregate: async () => {
          const targets = await this.recordAgreements(request.round, aggregation.result(), aggregation);
          return { targets, ...(aggregation.selection ? { selection: aggregation.selection() } : {}) };
        },
      };
    }
    const { threshold, graph, fixedPoint } = request.secureAggregation;
    const blocks = request.privacy ? privacyMechanism(request.privacy).blocks : 1;
    const unsafeThreshold = request.secureAggregation.unsafeThreshold === true;
    // Selective rounds mask c * p (n x C) and c (n): one more value per input.
    const vectorLength = proxyInputCount(request.proxy) * (request.classes * blocks + (request.selection ? 1 : 0));
    const parameters = { roundId: request.round, vectorLength, threshold, graph, fixedPoint, unsafeThreshold };
    // Signed secure-aggregation messages are bound to this federation (our public key) and to each client's enrolled key.
    // Read before the round's messages arrive, so that checking a signature waits for no query.
    const identityKeys = new Map<string, Uint8Array>();
    for (const p of plan.participants) {
      const enrolled = await this.db.identities.get(p.name);
      const key = enrolled ? decodeBase64Exact(enrolled.publicKey, PUBLIC_KEY_BYTES) : null;
      if (key) identityKeys.set(p.clientId, key);
    }
    const identityKeyOf = (clientId: string): Uint8Array | undefined => identityKeys.get(clientId);
    const security = { federationId: this.key.publicKey, identityKeyOf };
    const result = await this.grid.collectSecure(request, plan.participants, parameters, plan.secureWeights, security);
    return {
      outcomes: result.outcomes,
      failure: result.failure ? `secure aggregation aborted: ${result.failure}` : null,
      aggregate: async () => {
        if (!result.sum) throw new Error(`secure aggregation failed: ${result.failure}`);
        return this.strategy.aggregateSecureSum(result.sum, result.survivors, plan.participants);
      },
    };
  }

  /** Persists a reputation rule's evidence of the round (the next round's priors; GET /clients shows it) and logs whom it flagged. */
  private async recordAgreements(round: number, target: Float32Array, aggregation: RoundAggregation): Promise<Float32Array> {
    const evidence = aggregation.agreements?.();
    if (!evidence) return target;
    await this.db.reputations.record(round, evidence);
    const flagged = evidence.filter((e) => e.flagged);
    if (flagged.length) this.logger.warn(`round ${round}: reputation flagged ${flagged.map((e) => `${e.clientId} (agreement ${e.agreement.toFixed(3)}, reputation ${e.reputation.toFixed(3)})`).join(', ')}`);
    return target;
  }

  /** A stored version as clients receive it, signed by the coordinator (Ed25519 is deterministic). */
  private async toPublished(version: number): Promise<ModelPublished> {
    const model = (await this.db.models.get(version))!;
    const stored = model.metrics as { testAccuracy?: number; agreement?: number };
    const meta = {
      version,
      round: model.round,
      sha256: model.sha256,
      metrics: { agreement: Number(stored.agreement ?? 0), ...(stored.testAccuracy !== undefined ? { testAccuracy: Number(stored.testAccuracy) } : {}) },
      createdAt: model.createdAt,
    };
    return { ...meta, weights: (await this.db.models.getBlob(version))!, signature: signModel(meta, this.key.secretKey) };
  }
}

/** A round's proxy as stored with the round: the learned generator's weights by hash and size, not inline. */
function storedProxy(proxy: RoundOpen['proxy']): Record<string, string | number> {
  const size = proxyInputCount(proxy);
  if (proxy.kind === 'public') {
    const set = proxy.set;
    return set.source === 'embedded' ? { kind: 'public', dataset: set.dataset, splitSeed: set.splitSeed, size } : { kind: 'public', setSha256: set.sha256, setCount: set.count, size };
  }
  const synthetic = { kind: 'synthetic', generator: proxy.generator, seed: proxy.seed, size, inputsSha256: proxy.inputsSha256 };
  if (proxy.generator === 'student-guided') return { ...synthetic, pixelsBytes: proxy.pixels.byteLength };
  if (proxy.generator !== 'learned') return synthetic;
  return { ...synthetic, weightsSha256: createHash('sha256').update(proxy.weights).digest('hex'), weightsBytes: proxy.weights.byteLength };
}

/** Bytes of the round's question that carry its inputs: the public indices (as JSON numbers), the learned generator's weights or the student-guided inputs' pixels (a coordinator set's one-time download is not counted here). */
function proxyWireBytes(proxy: RoundOpen['proxy']): number {
  if (proxy.kind === 'public') return JSON.stringify(proxy.indices).length;
  if (proxy.generator === 'learned') return proxy.weights.byteLength;
  return proxy.generator === 'student-guided' ? proxy.pixels.byteLength : 0;
}

/** Share of the answered inputs whose aggregated answer's argmax is the class the generator made them for. */
function intendedAgreement(intended: Int32Array, rows: readonly number[], targets: Float32Array, classes: number): number {
  return rows.length ? argmaxAccuracy(targets, rows.map((r) => intended[r]), classes) : 0;
}

/** When the first, median and last answers arrived, in milliseconds after collection began. */
function answerTimes(outcomes: readonly ParticipantOutcome[], collectStarted: number): Record<string, number> {
  const times = outcomes
    .filter((o) => o.status === 'answered' && o.answeredAt !== null)
    .map((o) => o.answeredAt! - collectStarted)
    .sort((a, b) => a - b);
  if (times.length === 0) return {};
  return { firstAnswerMs: times[0], medianAnswerMs: times[Math.floor(times.length / 2)], lastAnswerMs: times[times.length - 1] };
}

/** Bytes of a message on the wire, roughly: its JSON without the binary fields, plus those fields' bytes. */
function messageBytes(message: object): number {
  let binary = 0;
  const json = JSON.stringify(message, (_, value: unknown) => {
    if (value instanceof Uint8Array) {
      binary += value.byteLength;
      return null;
    }
    return value;
  });
  return json.length + binary;
}

/** Positions of the proxy inputs that received a target (a row of zeros means no answer), with their targets. */
function answeredRows(count: number, targets: Float32Array, classes: number): { rows: number[]; targets: Float32Array } {
  const keep = Array.from({ length: count }, (_, i) => i).filter((i) => targets.subarray(i * classes, (i + 1) * classes).some((v) => v > 0));
  if (keep.length === count) return { rows: keep, targets };
  const kept = new Float32Array(keep.length * classes);
  keep.forEach((i, k) => kept.set(targets.subarray(i * classes, (i + 1) * classes), k * classes));
  return { rows: keep, targets: kept };
}
