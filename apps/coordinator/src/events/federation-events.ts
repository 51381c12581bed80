import { Injectable, Logger } from '@nestjs/common';
import type { RoundState } from '../rounds/round-state-machine';

/** A participant's outcome as the events report it (no predictions: only who, how and how many bytes). */
export interface ParticipantOutcomeEvent {
  clientId: string;
  status: string;
  reason: string | null;
  bytesUploaded: number;
}

/**
 * What happens in a federation, as it happens: the one stream that the dashboard, the Prometheus
 * metrics, the logs' round context and `fedkd simulate` read. Nothing derived from a client's
 * private data beyond what the REST API already shows (outcomes, byte counts, the student's metrics).
 */
export type FederationEvent =
  | { type: 'round.phase'; round: number; phase: RoundState; reason: string | null; at: number }
  | { type: 'round.answers'; round: number; invited: number; outcomes: ParticipantOutcomeEvent[]; at: number }
  | {
      type: 'round.ended';
      round: number;
      state: 'published' | 'failed';
      reason: string | null;
      modelVersion: number | null;
      testAccuracy: number | null;
      agreement: number | null;
      bytesUp: number;
      bytesDown: number;
      /** Phase durations in milliseconds (openMs, collectMs, aggregateMs, trainMs, evaluateMs, publishMs, roundMs...). */
      timings: Record<string, number>;
      at: number;
    }
  | { type: 'client.connected'; clientId: string; name: string; connected: number; at: number }
  | { type: 'client.disconnected'; clientId: string; name: string; connected: number; reason: string; at: number }
  | { type: 'message.refused'; event: string; clientName: string; clientId: string | null; code: string; at: number };

export type FederationEventType = FederationEvent['type'];
export type FederationEventOf<T extends FederationEventType> = Extract<FederationEvent, { type: T }>;
/** An event as emitted: its time is stamped by the bus. */
export type FederationEventInput = FederationEvent extends infer E ? (E extends FederationEvent ? Omit<E, 'at'> : never) : never;

export type FederationEventListener = (event: FederationEvent) => void;

/** The coordinator's event bus: synchronous, in process; a failing listener is logged and never breaks the emitter. */
@Injectable()
export class FederationEvents {
  private readonly logger = new Logger('Events');
  private readonly listeners = new Set<FederationEventListener>();

  emit(input: FederationEventInput): void {
    const event = { ...input, at: Date.now() } as FederationEvent;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error(`a listener of ${event.type} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  /** Calls `listener` with every later event; returns the function that stops it. */
  subscribe(listener: FederationEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
