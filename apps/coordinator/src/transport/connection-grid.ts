import { Injectable, Logger } from '@nestjs/common';
import { describeWireValue, type SecureAggregationParameters, type SecureAggregationServerOptions } from '@fedkd/privacy';
import type { Ack, ModelPublished, RoundOpen } from '@fedkd/protocol';
import type { ConnectedClient } from '../rounds/strategy';
import type { ClientConnection } from './client-connection';
import type { Grid } from './grid';
import { RoundCollection, type ParticipantOutcome, type RoundAnswers } from './round-collection';
import { SecureRoundCollection, type SecureCollectionResult } from './secure-round-collection';

/**
 * The Grid over client connections, whatever transport carries them (socket.io sockets, or the
 * in-memory channels of a simulation): one connection per registered client; the endpoint feeds
 * it what clients send.
 */
@Injectable()
export class ConnectionGrid implements Grid {
  private readonly logger = new Logger('Grid');
  private readonly clients = new Map<string, { connection: ClientConnection; client: ConnectedClient }>();
  private collection: RoundCollection | null = null;
  /** The last plain round that closed, so that a late answer to it learns why (ROUND_CLOSED, DEADLINE_PASSED). */
  private lastClosed: RoundCollection | null = null;
  private secure: SecureRoundCollection | null = null;
  private latestModel: ModelPublished | null = null;

  connectedClients(): ConnectedClient[] {
    return [...this.clients.values()].map((c) => c.client);
  }

  /** Every registered client with its connection. */
  registered(): { connection: ClientConnection; client: ConnectedClient }[] {
    return [...this.clients.values()];
  }

  /** A client said hello; a second connection under the same id replaces the first. */
  register(connection: ClientConnection, client: ConnectedClient): void {
    const previous = this.clients.get(client.clientId);
    if (previous && previous.connection.id !== connection.id) previous.connection.close();
    connection.state.clientId = client.clientId;
    this.clients.set(client.clientId, { connection, client });
  }

  /** Forgets the connection's client unless a newer connection of it replaced this one; returns the client it forgot. */
  unregister(connection: ClientConnection, reason: string): ConnectedClient | null {
    const clientId = connection.state.clientId;
    const entry = clientId ? this.clients.get(clientId) : undefined;
    if (!clientId || entry?.connection.id !== connection.id) return null;
    this.clients.delete(clientId);
    this.collection?.drop(clientId, `disconnected: ${reason}`);
    this.secure?.drop(clientId, `disconnected: ${reason}`);
    return entry.client;
  }

  currentRound(): number | null {
    return this.collection?.round ?? this.secure?.round ?? null;
  }

  collect(request: RoundOpen, participants: readonly ConnectedClient[], answers: RoundAnswers, targetAnswers: number | null = null): Promise<ParticipantOutcome[]> {
    this.assertIdle();
    const collection = new RoundCollection(request, participants.map((p) => p.clientId), answers, Date.now(), targetAnswers);
    this.collection = collection;
    for (const p of participants) {
      const entry = this.clients.get(p.clientId);
      if (entry) entry.connection.send('round.open', request);
      else collection.drop(p.clientId, 'disconnected before the round opened');
    }
    return collection.done.finally(() => {
      if (this.collection === collection) this.collection = null;
      this.lastClosed = collection;
    });
  }

  /**
   * Why an answer naming `round` is refused when no round collects: the round closed (at its
   * target, or deadline), or null when it is not the last round that closed.
   */
  closedRoundRefusal(round: unknown): { ok: false; code: 'ROUND_CLOSED' | 'DEADLINE_PASSED'; message: string } | null {
    const closed = this.lastClosed;
    if (!closed?.closedBecause || closed.round !== round) return null;
    return { ok: false, ...closed.closedBecause };
  }

  /**
   * A secure-aggregation round: each participant gets round.open with its own weight, then the
   * protocol's steps travel as `secagg` events. Resolves with outcomes and only the survivors' sum.
   */
  collectSecure(
    request: RoundOpen,
    participants: readonly ConnectedClient[],
    parameters: SecureAggregationParameters,
    weights: ReadonlyMap<string, number>,
    security: SecureAggregationServerOptions,
  ): Promise<SecureCollectionResult> {
    this.assertIdle();
    const send = (clientId: string, message: Record<string, unknown>) => this.clients.get(clientId)?.connection.send('secagg', { round: request.round, message });
    const collection = new SecureRoundCollection(request, participants.map((p) => p.clientId), parameters, security, send);
    this.secure = collection;
    for (const p of participants) {
      const entry = this.clients.get(p.clientId);
      const own = { ...request, secureAggregation: { ...request.secureAggregation!, weight: weights.get(p.clientId) ?? 1 } };
      if (entry) entry.connection.send('round.open', own);
      else collection.drop(p.clientId, 'disconnected before the round opened');
    }
    return collection.done.finally(() => {
      if (this.secure === collection) this.secure = null;
    });
  }

  offerSecure(clientId: string, message: unknown, bytes: number): Ack {
    if (!this.secure) return { ok: false, code: 'STALE_ROUND', message: 'no secure-aggregation round is running' };
    if (typeof message !== 'object' || message === null) return { ok: false, code: 'BAD_MESSAGE', message: 'secagg.message must be an object' };
    const ack = this.secure.offer(clientId, message as Record<string, unknown>, bytes);
    if (!ack.ok) this.logger.warn(`round ${this.secure.round}: refused secure-aggregation message from ${clientId}: ${ack.message}`);
    return ack;
  }

  offerPredictions(clientId: string, raw: unknown, bytes: number, event = 'round.predictions'): Ack {
    const round = (raw as { round?: unknown } | null)?.round;
    if (!this.collection) {
      return this.closedRoundRefusal(round) ?? { ok: false, code: 'STALE_ROUND', message: `no round is collecting (message names round ${describeWireValue(round)})` };
    }
    const ack = this.collection.offer(clientId, raw, bytes, event);
    if (!ack.ok) this.logger.warn(`round ${this.collection.round}: refused predictions from ${clientId}: ${ack.code} ${ack.message}`);
    return ack;
  }

  decline(clientId: string, round: number, reason: string): Ack {
    if (this.secure && this.secure.round === round) return this.secure.decline(clientId, reason);
    if (!this.collection || this.collection.round !== round) {
      return this.closedRoundRefusal(round) ?? { ok: false, code: 'STALE_ROUND', message: `round ${round} is not collecting` };
    }
    return this.collection.decline(clientId, reason);
  }

  closeCollection(): void {
    this.collection?.close();
    this.secure?.close();
  }

  publish(model: ModelPublished): void {
    this.latestModel = model;
    for (const { connection } of this.clients.values()) connection.send('model.published', model);
  }

  latest(): ModelPublished | null {
    return this.latestModel;
  }

  setLatest(model: ModelPublished | null): void {
    this.latestModel = model;
  }

  private assertIdle(): void {
    const busy = this.collection ?? this.secure;
    if (busy) throw new Error(`round ${busy.round} is still collecting`);
  }
}
