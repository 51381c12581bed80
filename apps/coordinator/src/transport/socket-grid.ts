import { Injectable, Logger } from '@nestjs/common';
import type { Server, Socket } from 'socket.io';
import type { Ack, ClientToServerEvents, ModelPublished, RoundOpen, ServerToClientEvents } from '@fedkd/protocol';
import type { ConnectedClient } from '../rounds/strategy';
import type { Grid } from './grid';
import { RoundCollection, type ParticipantOutcome } from './round-collection';

export type FederationServer = Server<ClientToServerEvents, ServerToClientEvents>;
export type FederationSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** The Grid over socket.io: one socket per registered client; the gateway feeds it inbound events. */
@Injectable()
export class SocketGrid implements Grid {
  private readonly logger = new Logger('Grid');
  private readonly clients = new Map<string, { socket: FederationSocket; client: ConnectedClient }>();
  private collection: RoundCollection | null = null;
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
  }

  /** The round collecting now, if any. */
  currentRound(): number | null {
    return this.collection?.round ?? null;
  }

  clientIdOf(socket: FederationSocket): string | undefined {
    return socket.data.clientId as string | undefined;
  }

  collect(request: RoundOpen, participants: readonly ConnectedClient[]): Promise<ParticipantOutcome[]> {
    if (this.collection) throw new Error(`round ${this.collection.round} is still collecting`);
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

  offerPredictions(socket: FederationSocket, raw: unknown, bytes: number): Ack {
    const clientId = this.clientIdOf(socket);
    if (!clientId) return { ok: false, code: 'NOT_REGISTERED', message: 'say hello before sending predictions' };
    const round = (raw as { round?: unknown } | null)?.round;
    if (!this.collection) {
      return { ok: false, code: 'STALE_ROUND', message: `no round is collecting (message names round ${String(round)})` };
    }
    const ack = this.collection.offer(clientId, raw, bytes);
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
