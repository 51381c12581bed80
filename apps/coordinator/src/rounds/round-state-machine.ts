/** DESIGN.md: open -> collecting -> aggregating -> training -> published, or failed / cancelled with a reason. */
export type RoundState = 'open' | 'collecting' | 'aggregating' | 'training' | 'published' | 'failed' | 'cancelled';

export const TERMINAL_STATES: readonly RoundState[] = ['published', 'failed', 'cancelled'];

const NEXT: Record<RoundState, readonly RoundState[]> = {
  open: ['collecting', 'failed', 'cancelled'],
  collecting: ['aggregating', 'failed', 'cancelled'],
  aggregating: ['training', 'failed', 'cancelled'],
  training: ['published', 'failed', 'cancelled'],
  published: [],
  failed: [],
  cancelled: [],
};

export interface RoundTransition {
  from: RoundState | null;
  to: RoundState;
  at: number;
  reason: string | null;
}

/** One round's lifecycle; refuses transitions the design does not allow, and keeps their history. */
export class RoundStateMachine {
  private current: RoundState = 'open';
  readonly history: RoundTransition[];

  constructor(readonly round: number, now = Date.now()) {
    this.history = [{ from: null, to: 'open', at: now, reason: null }];
  }

  get state(): RoundState {
    return this.current;
  }

  get isTerminal(): boolean {
    return TERMINAL_STATES.includes(this.current);
  }

  /** Failed and cancelled need a reason; the happy path does not. */
  transition(to: RoundState, reason: string | null = null, now = Date.now()): RoundTransition {
    if (!NEXT[this.current].includes(to)) {
      throw new Error(`round ${this.round}: cannot go from ${this.current} to ${to}`);
    }
    if ((to === 'failed' || to === 'cancelled') && !reason) {
      throw new Error(`round ${this.round}: ${to} needs a reason`);
    }
    const step = { from: this.current, to, at: now, reason };
    this.current = to;
    this.history.push(step);
    return step;
  }
}
