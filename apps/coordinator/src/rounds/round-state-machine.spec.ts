import { describe, expect, it } from 'vitest';
import { RoundStateMachine } from './round-state-machine';

describe('round state machine', () => {
  it('walks the happy path and records each transition', () => {
    const round = new RoundStateMachine(3, 0);
    for (const [i, state] of (['collecting', 'aggregating', 'training', 'published'] as const).entries()) round.transition(state, null, i + 1);
    expect(round.state).toBe('published');
    expect(round.isTerminal).toBe(true);
    expect(round.history.map((t) => t.to)).toEqual(['open', 'collecting', 'aggregating', 'training', 'published']);
  });

  it('fails from any live state with a reason, and refuses to fail without one', () => {
    const round = new RoundStateMachine(1);
    round.transition('collecting');
    expect(() => round.transition('failed')).toThrow(/needs a reason/);
    round.transition('failed', 'only 1 of the 2 required clients answered');
    expect(round.history.at(-1)?.reason).toMatch(/only 1/);
  });

  it('refuses skipping a state or leaving a terminal one', () => {
    const round = new RoundStateMachine(1);
    expect(() => round.transition('training')).toThrow(/cannot go from open to training/);
    round.transition('cancelled', 'operator');
    expect(() => round.transition('collecting')).toThrow(/cannot go from cancelled/);
  });
});
