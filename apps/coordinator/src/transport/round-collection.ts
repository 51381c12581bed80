import { privacyMechanism } from '@fedkd/privacy';
import { proxyInputCount, validateRoundPredictions, validateRoundVotes, type Ack, type RoundOpen } from '@fedkd/protocol';

/** `not-needed`: still invited when the round closed at its target number of answers. */
export type ParticipantStatus = 'invited' | 'answered' | 'rejected' | 'dropped' | 'declined' | 'not-needed';

export interface ParticipantOutcome {
  clientId: string;
  status: ParticipantStatus;
  reason: string | null;
  bytesUploaded: number;
  /** When the client's outcome arrived (null while invited, or when it was dropped). */
  answeredAt: number | null;
}

/**
 * Where a round's accepted answers go as they arrive: the strategy's aggregation, which keeps
 * running sums (or, for rules that need every answer, the answers themselves). It may refuse an
 * answer by throwing (the client's outcome is then `rejected` with the reason).
 */
export interface RoundAnswers {
  add(clientId: string, answer: Float32Array, coverage?: Float32Array): void;
}

/**
 * Collects one round's answers: validates each at the boundary, hands the valid ones to the
 * round's aggregation as they arrive, records why a client did not count, and completes when
 * every participant has an outcome, when `targetAnswers` valid answers are in (those still
 * invited are then `not-needed`), or when the deadline passes (those still silent are dropped).
 */
export class RoundCollection {
  private readonly outcomes = new Map<string, ParticipantOutcome>();
  private timer: NodeJS.Timeout | undefined;
  private finish!: (why: 'target' | 'deadline' | 'complete' | 'closed') => void;
  private answered = 0;
  /** Why the collection closed, once it has: what a late answer is told. */
  closedBecause: { code: 'ROUND_CLOSED' | 'DEADLINE_PASSED'; message: string } | null = null;
  readonly done: Promise<ParticipantOutcome[]>;

  constructor(
    readonly request: RoundOpen,
    participantIds: readonly string[],
    private readonly answers: RoundAnswers,
    now = Date.now(),
    private readonly targetAnswers: number | null = null,
  ) {
    for (const clientId of participantIds) {
      this.outcomes.set(clientId, { clientId, status: 'invited', reason: null, bytesUploaded: 0, answeredAt: null });
    }
    this.done = new Promise((resolve) => {
      this.finish = (why) => {
        if (this.closedBecause) return;
        clearTimeout(this.timer);
        const atTarget = why === 'target';
        this.closedBecause = atTarget
          ? { code: 'ROUND_CLOSED', message: `round ${this.round} closed at its target of ${this.targetAnswers} answers: this answer was not needed` }
          : why === 'deadline'
            ? { code: 'DEADLINE_PASSED', message: `round ${this.round} closed at its deadline` }
            : { code: 'ROUND_CLOSED', message: why === 'complete' ? `round ${this.round} closed: every participant had answered` : `round ${this.round} was closed by the coordinator` };
        for (const o of this.outcomes.values()) {
          if (o.status !== 'invited') continue;
          if (atTarget) Object.assign(o, { status: 'not-needed', reason: `round closed at its target of ${this.targetAnswers} answers` });
          else Object.assign(o, { status: 'dropped', reason: 'no answer before the deadline' });
        }
        resolve([...this.outcomes.values()]);
      };
    });
    this.timer = setTimeout(() => this.finish('deadline'), Math.max(0, request.deadline - now));
    this.checkComplete();
  }

  get round(): number {
    return this.request.round;
  }

  /** The event this round's answers come as: soft predictions, or noisy votes in a private round. */
  get answerEvent(): 'round.predictions' | 'round.votes' {
    return this.request.privacy ? 'round.votes' : 'round.predictions';
  }

  /** A client's answer (predictions or votes): accepted once, from an invited client, before the deadline. */
  offer(clientId: string, raw: unknown, bytes: number, event: string = this.answerEvent): Ack {
    const outcome = this.outcomes.get(clientId);
    if (!outcome) return { ok: false, code: 'NOT_INVITED', message: `client ${clientId} was not invited to round ${this.round}` };
    if (this.closedBecause && outcome.status !== 'answered') return { ok: false, ...this.closedBecause };
    if (outcome.status !== 'invited') {
      return { ok: false, code: 'DUPLICATE', message: `round ${this.round} already has this client's ${outcome.status} outcome` };
    }
    if (Date.now() > this.request.deadline) {
      return { ok: false, code: 'DEADLINE_PASSED', message: `round ${this.round} closed at its deadline` };
    }
    if (event !== this.answerEvent) {
      return { ok: false, code: 'BAD_MESSAGE', message: `round ${this.round} asks for ${this.answerEvent}, not ${event}` };
    }
    const expected = { round: this.round, n: proxyInputCount(this.request.proxy), classes: this.request.classes };
    const checked = this.request.privacy
      ? validateRoundVotes(raw, { ...expected, blocks: privacyMechanism(this.request.privacy).blocks })
      : validateRoundPredictions(raw, { ...expected, encoding: this.request.encoding, maxPayloadBytes: this.request.maxPayloadBytes, coverage: this.request.selection !== undefined });
    if (!checked.ok) {
      // A stale or future round id is the client's confusion, not a bad answer to this round: it may still answer.
      if (checked.code !== 'STALE_ROUND' && checked.code !== 'UNKNOWN_ROUND') {
        Object.assign(outcome, { status: 'rejected', reason: `${checked.code}: ${checked.message}`, bytesUploaded: bytes, answeredAt: Date.now() });
        this.checkComplete();
      }
      return checked;
    }
    const answer = 'votes' in checked.value ? checked.value.votes : checked.value.predictions;
    try {
      this.answers.add(clientId, answer, 'coverage' in checked.value ? checked.value.coverage : undefined);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      Object.assign(outcome, { status: 'rejected', reason: `BAD_MESSAGE: ${reason}`, bytesUploaded: bytes, answeredAt: Date.now() });
      this.checkComplete();
      return { ok: false, code: 'BAD_MESSAGE', message: reason };
    }
    Object.assign(outcome, { status: 'answered', bytesUploaded: bytes, answeredAt: Date.now() });
    this.answered++;
    this.checkComplete();
    return { ok: true, value: undefined };
  }

  decline(clientId: string, reason: string): Ack {
    const outcome = this.outcomes.get(clientId);
    if (!outcome || outcome.status !== 'invited') {
      return { ok: false, code: 'NOT_INVITED', message: `no open invitation for ${clientId} in round ${this.round}` };
    }
    Object.assign(outcome, { status: 'declined', reason, answeredAt: Date.now() });
    this.checkComplete();
    return { ok: true, value: undefined };
  }

  /** The client's connection closed mid-round: it will not answer. */
  drop(clientId: string, reason: string): void {
    const outcome = this.outcomes.get(clientId);
    if (outcome?.status !== 'invited') return;
    Object.assign(outcome, { status: 'dropped', reason });
    this.checkComplete();
  }

  /** Ends collection now (round cancelled, coordinator shutting down). */
  close(): void {
    this.finish('closed');
  }

  private checkComplete(): void {
    if (this.targetAnswers !== null && this.answered >= this.targetAnswers) this.finish('target');
    else if ([...this.outcomes.values()].every((o) => o.status !== 'invited')) this.finish('complete');
  }
}
