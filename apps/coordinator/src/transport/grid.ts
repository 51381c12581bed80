import type { SecureAggregationParameters, SecureAggregationServerOptions } from '@fedkd/privacy';
import type { ModelPublished, RoundOpen } from '@fedkd/protocol';
import type { ConnectedClient } from '../rounds/strategy';
import type { ParticipantOutcome, RoundAnswers } from './round-collection';
import type { SecureCollectionResult } from './secure-round-collection';

/** Injection token of the Grid the coordinator runs on. */
export const GRID = Symbol('fedkd.coordinator.grid');

/**
 * The Grid seam (DESIGN.md, after Flower): who is connected, ask some of them for a round's
 * answers and collect outcomes until the deadline, and push published models. The rounds and the
 * controllers depend on this interface only; `ConnectionGrid` implements it over any transport's
 * client connections (socket.io in deployments, in memory in simulations).
 */
export interface Grid {
  connectedClients(): ConnectedClient[];
  /**
   * Asks the participants; answers are aggregated as they arrive by `answers` (so K matrices need
   * not be held). With `targetAnswers`, collection closes as soon as that many valid answers are
   * in: those still invited become `not-needed`, and a later answer is refused with ROUND_CLOSED.
   */
  collect(request: RoundOpen, participants: readonly ConnectedClient[], answers: RoundAnswers, targetAnswers?: number | null): Promise<ParticipantOutcome[]>;
  collectSecure(
    request: RoundOpen,
    participants: readonly ConnectedClient[],
    parameters: SecureAggregationParameters,
    weights: ReadonlyMap<string, number>,
    /** The federation id (the coordinator's public key) and the participants' enrolled identity keys. */
    security: SecureAggregationServerOptions,
  ): Promise<SecureCollectionResult>;
  publish(model: ModelPublished): void;
  /** What a client that connects later catches up with. */
  latest(): ModelPublished | null;
  setLatest(model: ModelPublished | null): void;
  /** The round collecting now, if any. */
  currentRound(): number | null;
  /** Ends the round in progress, if any, with the replies received so far. */
  closeCollection(): void;
}
