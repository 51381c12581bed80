import { Injectable, Logger } from '@nestjs/common';
import type { Server, Socket } from 'socket.io';
import type { Ack, ClientToServerEvents, ModelPublished, RoundOpen, ServerToClientEvents } from '@fedkd/protocol';
import type { ConnectedClient } from '../rounds/strategy';
import type { Grid } from './grid';
import type { SecureAggregationParameters } from '@fedkd/privacy';
import { RoundCollection, type ParticipantOutcome } from './round-collection';
import { SecureRoundCollection, type SecureCollectionResult } from './secure-round-collection';

export type FederationServer = Server<ClientToServerEvents, ServerToClientEvents>;
export type FederationSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** The Grid over socket.io: one socket per registered client; the gateway feeds it inbound events. */
@Injectable()
export class SocketGrid implements Grid {
  private readonly logger = new Logger('Grid');
  private readonly clients = new Map<string, { socket: FederationSocket; client: ConnectedClient }>();
  private collection: RoundCollection | null = null;
  private secure: SecureRoundCollection | null = null;
  private latestModel: ModelPublished | null = null;

  connectedClients(): ConnectedClient[] {
    return [...this.clients.values()].map((c) => c.client);
  }

  /** A client said hello; a second connection under the same id replaces the first. */
  register(socket: FederationSocket, client: ConnectedClient): void {
    const previous = this.clients.get(client.clientId);
    if (previous && previous.socket.id !== socket.id) previous.socket.disconnect(true);
    socket.data.clientId = client.clientId;
    this.clients.set(client.clientId, { socket, client });
  }

  unregister(socket: FederationSocket, reason: string): void {
    const clientId = socket.data.clientId as string | undefined;
    if (!clientId || this.clients.get(clientId)?.socket.id !== socket.id) return;
    this.clients.delete(clientId);
    this.collection?.drop(clientId, `disconnected: ${reason}`);
    this.secure?.drop(clientId, `disconnected: ${reason}`);
  }

  /** The round collecting now, if any. */
  currentRound(): number | null {
    return this.collection?.round ?? this.secure?.round ?? null;
  }

  clientIdOf(socket: FederationSocket): string | undefined {
    return socket.data.clientId as string | undefined;
  }

  collect(request: RoundOpen, participants: readonly ConnectedClient[]): Promise<ParticipantOutcome[]> {
    this.assertIdle();
    const collection = new RoundCollection(request, participants.map((p) => p.clientId));
    this.collection = collection;
    for (const p of participants) {
      const entry = this.clients.get(p.clientId);
      if (entry) entry.socket.emit('round.open', request);
      else collection.drop(p.clientId, 'disconnected before the round opened');
    }
    return collection.done.finally(() => {
      if (this.collection === collection) this.collection = null;
    });
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
  ): Promise<SecureCollectionResult> {
    this.assertIdle();
    const send = (clientId: string, message: Record<string, unknown>) =>
      this.clients.get(clientId)?.socket.emit('secagg', { round: request.round, message });
    const collection = new SecureRoundCollection(request, participants.map((p) => p.clientId), parameters, send);
    this.secure = collection;
    for (const p of participants) {
      const entry = this.clients.get(p.clientId);
      const own = { ...request, secureAggregation: { ...request.secureAggregation!, weight: weights.get(p.clientId) ?? 1 } };
      if (entry) entry.socket.emit('round.open', own);
      else collection.drop(p.clientId, 'disconnected before the round opened');
    }
    return collection.done.finally(() => {
      if (this.secure === collection) this.secure = null;
    });
  }

  offerSecure(socket: FederationSocket, message: unknown, bytes: number): Ack {
    const clientId = this.clientIdOf(socket);
    if (!clientId) return { ok: false, code: 'NOT_REGISTERED', message: 'say hello before secure aggregation' };
    if (!this.secure) return { ok: false, code: 'STALE_ROUND', message: 'no secure-aggregation round is running' };
    if (typeof message !== 'object' || message === null) return { ok: false, code: 'BAD_MESSAGE', message: 'secagg.message must be an object' };
    const ack = this.secure.offer(clientId, message as Record<string, unknown>, bytes);
    if (!ack.ok) this.logger.warn(`round ${this.secure.round}: refused secure-aggregation message from ${clientId}: ${ack.message}`);
    return ack;
  }

  private assertIdle(): void {
    const busy = this.collection ?? this.secure;
    if (busy) throw new Error(`round ${busy.round} is still collecting`);
  }

  offerPredictions(socket: FederationSocket, raw: unknown, bytes: number, event = 'round.predictions'): Ack {
    const clientId = this.clientIdOf(socket);
    if (!clientId) return { ok: false, code: 'NOT_REGISTERED', message: 'say hello before sending predictions' };
    const round = (raw as { round?: unknown } | null)?.round;
    if (!this.collection) {
      return { ok: false, code: 'STALE_ROUND', message: `no round is collecting (message names round ${String(round)})` };
    }
    const ack = this.collection.offer(clientId, raw, bytes, event);
    if (!ack.ok) this.logger.warn(`round ${this.collection.round}: refused predictions from ${clientId}: ${ack.code} ${ack.message}`);
    return ack;
  }

  decline(socket: FederationSocket, round: number, reason: string): Ack {
    const clientId = this.clientIdOf(socket);
    if (!clientId) return { ok: false, code: 'NOT_REGISTERED', message: 'say hello before declining' };
    if (!this.collection || this.collection.round !== round) {
      return { ok: false, code: 'STALE_ROUND', message: `round ${round} is not collecting` };
    }
    return this.collection.decline(clientId, reason);
  }

  closeCollection(): void {
    this.collection?.close();
    this.secure?.close();
  }

  publish(model: ModelPublished): void {
    this.latestModel = model;
    for (const { socket } of this.clients.values()) socket.emit('model.published', model);
  }

  /** What a client that connects later catches up with. */
  latest(): ModelPublished | null {
    return this.latestModel;
  }

  setLatest(model: ModelPublished | null): void {
    this.latestModel = model;
  }
}
