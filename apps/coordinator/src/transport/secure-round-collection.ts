import {
  describeWireValue,
  SecureAggregationError,
  SecureAggregationServer,
  type AdvertiseKeysMessage,
  type ConsistencySignatureMessage,
  type SecureAggregationServerOptions,
  type MaskedInputMessage,
  type SecureAggregationParameters,
  type ShareKeysMessage,
  type UnmaskResponseMessage,
} from '@fedkd/privacy';
import type { Ack, RoundOpen } from '@fedkd/protocol';
import type { ParticipantOutcome } from './round-collection';

/** What a secure round yields: outcomes per participant, and only the SUM of the survivors' inputs. */
export interface SecureCollectionResult {
  outcomes: ParticipantOutcome[];
  /** Sum over survivors of their (weighted) prediction vectors; null when the round could not unmask. */
  sum: Float64Array | null;
  survivors: string[];
  failure: string | null;
}

type Step = 'advertising' | 'sharing-keys' | 'collecting-inputs' | 'checking-consistency' | 'unmasking' | 'over';

const EXPECTED_KIND: Record<Step, string | null> = {
  advertising: 'secagg.advertise-keys',
  'sharing-keys': 'secagg.share-keys',
  'collecting-inputs': 'secagg.masked-input',
  'checking-consistency': 'secagg.consistency-signature',
  unmasking: 'secagg.unmask-response',
  over: null,
};

/**
 * Drives one secure-aggregation round over the Grid (Bonawitz et al.): relays keys and sealed
 * shares, sums masked inputs, asks survivors for the shares that remove the masks. It holds no
 * client's predictions: the libs/privacy server object only ever holds the masked running sum.
 * Advertisements and survivor views are signed with each client's enrolled identity key and bound
 * to this federation (`security`); survivors sign the survivor view (the consistency check) before
 * they are asked to unmask.
 * Each step ends when every client still in it has answered, or at the deadline (those silent are
 * dropped); unmasking gets `unmaskGraceMs` more.
 */
export class SecureRoundCollection {
  private readonly server: SecureAggregationServer;
  private readonly outcomes = new Map<string, ParticipantOutcome>();
  private step: Step = 'advertising';
  private waiting = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private finish!: (result: SecureCollectionResult) => void;
  readonly done: Promise<SecureCollectionResult>;

  constructor(
    readonly request: RoundOpen,
    participantIds: readonly string[],
    parameters: SecureAggregationParameters,
    security: SecureAggregationServerOptions,
    private readonly send: (clientId: string, message: Record<string, unknown>) => void,
    private readonly unmaskGraceMs = 30_000,
  ) {
    this.server = new SecureAggregationServer(parameters, security);
    for (const clientId of participantIds) {
      this.outcomes.set(clientId, { clientId, status: 'invited', reason: null, bytesUploaded: 0, answeredAt: null });
    }
    this.waiting = new Set(participantIds);
    this.done = new Promise((resolve) => (this.finish = resolve));
    this.armTimer(request.deadline);
  }

  get round(): number {
    return this.request.round;
  }

  /** A client's secure-aggregation message for the current step. */
  offer(clientId: string, message: Record<string, unknown>, bytes: number): Ack {
    const outcome = this.outcomes.get(clientId);
    if (!outcome) return { ok: false, code: 'NOT_INVITED', message: `client ${clientId} was not invited to round ${this.round}` };
    outcome.bytesUploaded += bytes;
    const expected = EXPECTED_KIND[this.step];
    if (!this.waiting.has(clientId) || message.kind !== expected) {
      return { ok: false, code: 'BAD_MESSAGE', message: `round ${this.round} is ${this.step}: expected ${expected ?? 'nothing'} from ${clientId}, got ${describeWireValue(message.kind)}` };
    }
    if (message.clientId !== clientId) return { ok: false, code: 'BAD_MESSAGE', message: `secure-aggregation message names client ${describeWireValue(message.clientId)}, not ${clientId}` };
    try {
      if (this.step === 'advertising') this.server.receiveAdvertisement(message as unknown as AdvertiseKeysMessage);
      else if (this.step === 'sharing-keys') this.server.receiveShareKeys(message as unknown as ShareKeysMessage);
      else if (this.step === 'collecting-inputs') this.server.receiveMaskedInput(message as unknown as MaskedInputMessage);
      else if (this.step === 'checking-consistency') this.server.receiveConsistencySignature(message as unknown as ConsistencySignatureMessage);
      else this.server.receiveUnmaskResponse(message as unknown as UnmaskResponseMessage);
    } catch (error) {
      const reason = error instanceof SecureAggregationError ? `${error.code}: ${error.message}` : String(error);
      this.reject(clientId, reason);
      return { ok: false, code: 'BAD_MESSAGE', message: reason };
    }
    if (this.step === 'collecting-inputs') Object.assign(outcome, { status: 'answered', answeredAt: Date.now() });
    this.waiting.delete(clientId);
    if (this.waiting.size === 0) void this.advance();
    return { ok: true, value: undefined };
  }

  /** The client sits the round out, with its reason (only before it advertised keys: later it is a dropout). */
  decline(clientId: string, reason: string): Ack {
    const outcome = this.outcomes.get(clientId);
    if (!outcome || this.step !== 'advertising' || !this.waiting.has(clientId)) {
      return { ok: false, code: 'NOT_INVITED', message: `no open invitation for ${clientId} in round ${this.round}` };
    }
    Object.assign(outcome, { status: 'declined', reason, answeredAt: Date.now() });
    this.waiting.delete(clientId);
    if (this.waiting.size === 0) void this.advance();
    return { ok: true, value: undefined };
  }

  drop(clientId: string, reason: string): void {
    const outcome = this.outcomes.get(clientId);
    if (!outcome || !this.waiting.has(clientId)) return;
    // A survivor that leaves while unmasking keeps its input in the sum; the others can still unmask it.
    if (outcome.status !== 'answered') Object.assign(outcome, { status: 'dropped', reason });
    this.waiting.delete(clientId);
    if (this.waiting.size === 0) void this.advance();
  }

  close(): void {
    this.end(null, 'coordinator shutting down');
  }

  private reject(clientId: string, reason: string): void {
    const outcome = this.outcomes.get(clientId)!;
    if (outcome.status !== 'answered') Object.assign(outcome, { status: 'rejected', reason, answeredAt: Date.now() });
    this.waiting.delete(clientId);
    if (this.waiting.size === 0) void this.advance();
  }

  private armTimer(at: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      for (const clientId of [...this.waiting]) this.drop(clientId, `no ${EXPECTED_KIND[this.step]} before the deadline`);
    }, Math.max(0, at - Date.now()));
  }

  /** Ends the current step and starts the next, sending each client what it needs. */
  private async advance(): Promise<void> {
    try {
      if (this.step === 'advertising') {
        const directory = this.server.closeAdvertisement();
        this.startStep('sharing-keys', this.server.participants, () => ({ ...directory }) as unknown as Record<string, unknown>);
      } else if (this.step === 'sharing-keys') {
        this.server.closeShareKeys();
        this.startStep('collecting-inputs', this.server.participants, (id) => this.server.sealedSharesFor(id) as unknown as Record<string, unknown>);
      } else if (this.step === 'collecting-inputs') {
        const { survivors } = this.server.closeMaskedInput();
        this.armTimer(Date.now() + this.unmaskGraceMs);
        this.startStep('checking-consistency', survivors, (id) => this.server.consistencyCheckFor(id) as unknown as Record<string, unknown>);
      } else if (this.step === 'checking-consistency') {
        const { signers } = this.server.closeConsistencyCheck();
        this.armTimer(Date.now() + this.unmaskGraceMs);
        this.startStep('unmasking', signers, (id) => this.server.unmaskRequestFor(id) as unknown as Record<string, unknown>);
      } else if (this.step === 'unmasking') {
        this.step = 'over';
        const result = await this.server.unmask();
        this.end(result.sum, null, result.survivors);
      }
    } catch (error) {
      this.end(null, error instanceof SecureAggregationError ? `${error.code}: ${error.message}` : String(error));
    }
  }

  private startStep(step: Step, clientIds: readonly string[], messageFor: (clientId: string) => Record<string, unknown>): void {
    this.step = step;
    this.waiting = new Set(clientIds);
    for (const [clientId, outcome] of this.outcomes) {
      if (!this.waiting.has(clientId) && outcome.status === 'invited') Object.assign(outcome, { status: 'dropped', reason: `left before ${step}` });
    }
    for (const clientId of clientIds) this.send(clientId, messageFor(clientId));
    if (this.waiting.size === 0) void this.advance();
  }

  private end(sum: Float64Array | null, failure: string | null, survivors: string[] = []): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.step = 'over';
    for (const o of this.outcomes.values()) if (o.status === 'invited') Object.assign(o, { status: 'dropped', reason: 'round ended' });
    this.finish({ outcomes: [...this.outcomes.values()], sum, survivors, failure });
  }
}
