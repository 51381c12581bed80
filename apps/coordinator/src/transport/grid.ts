import type { ModelPublished, RoundOpen } from '@fedkd/protocol';
import type { ConnectedClient } from '../rounds/strategy';
import type { ParticipantOutcome } from './round-collection';

/**
 * The Grid seam (DESIGN.md, after Flower): who is connected, ask some of them for a round's
 * predictions and collect outcomes until the deadline, and push published models. A socket.io
 * implementation serves deployments and end-to-end tests.
 */
export interface Grid {
  connectedClients(): ConnectedClient[];
  collect(request: RoundOpen, participants: readonly ConnectedClient[]): Promise<ParticipantOutcome[]>;
  publish(model: ModelPublished): void;
  /** Ends the round in progress, if any, with the replies received so far. */
  closeCollection(): void;
}
