import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Ack, ModelPublished } from '@fedkd/protocol';
import type { ConnectedClient } from '../rounds/strategy';
import type { ClientConnection } from '../transport/client-connection';
import { ConnectionGrid } from '../transport/connection-grid';
import { LEADERSHIP, type Leadership } from './leadership';
import { ReplicaCluster } from './replica-cluster';

/** How long a follower waits for the leader's acknowledgement of a message it relays. */
const RELAY_TIMEOUT_MS = 15_000;

/** A client connected to some replica: what the leader needs to ask it and to reach its socket. */
interface ClientOnReplica {
  socketId: string;
  client: ConnectedClient;
}

interface RelayedMessage {
  socketId: string;
  clientId: string;
  event: string;
  body: unknown;
}

type Receive = (connection: ClientConnection, event: string, body: unknown) => Promise<Ack<unknown>>;

/** A round asked of the leader by a follower (POST /rounds to any replica): its summary, or why it did not start. */
export type RoundRequestReply<S> = { ok: true; summary: S } | { ok: false; code: 'CANNOT_START' | 'RATE_LIMITED'; message: string; retryAfterSeconds?: number };

/**
 * Clients may connect to any replica; rounds run on the leader. Followers tell the leader who
 * joined and left, and relay their clients' round messages to it (the leader verifies signatures
 * and sequence numbers, so replay protection needs no shared state); the leader reaches those
 * clients' sockets through the adapter and tells followers about each published model (what a
 * client that connects to them later catches up with).
 */
@Injectable()
export class ReplicaRelay {
  private readonly logger = new Logger('Relay');
  /** The leader's view of clients on other replicas, by socket id. */
  private readonly remote = new Map<string, ClientConnection>();

  constructor(
    private readonly cluster: ReplicaCluster,
    @Inject(LEADERSHIP) private readonly leadership: Leadership,
    private readonly grid: ConnectionGrid,
  ) {}

  /** Whether this replica's clients' round messages go to another replica (it follows, and has peers). */
  get relaying(): boolean {
    return this.cluster.hasPeers && this.leadership.shared && !this.leadership.leading;
  }

  /**
   * Starts answering the other replicas; `receive` handles a relayed message as if its client were
   * connected here. Only replicas that share a PostgreSQL database (and so one leader) relay:
   * coordinators on SQLite files share only the dashboard's broadcasts.
   */
  serve(receive: Receive): void {
    if (!this.leadership.shared) return;
    this.cluster.on('joined', (payload) => {
      if (this.leadership.leading) this.adopt(payload as ClientOnReplica);
    });
    this.cluster.on('left', (payload) => {
      if (this.leadership.leading) this.forget((payload as { socketId: string }).socketId, 'disconnected from its replica');
    });
    this.cluster.on('relay', async (payload) => {
      if (!this.leadership.leading) return null;
      const message = payload as RelayedMessage;
      const connection = this.remote.get(message.socketId);
      if (!connection || connection.state.clientId !== message.clientId) {
        return { ok: false, code: 'NOT_REGISTERED', message: 'the leader does not know this connection yet: reconnect' } satisfies Ack;
      }
      return receive(connection, message.event, message.body);
    });
    this.cluster.on('roster', () =>
      this.grid
        .registered()
        .filter((entry) => !entry.connection.relayed)
        .map((entry): ClientOnReplica => ({ socketId: entry.connection.id, client: entry.client })),
    );
    this.cluster.on('published', (payload) => {
      if (!this.leadership.leading) this.grid.setLatest(payload as ModelPublished);
    });
    this.leadership.follow({
      elected: () => void this.gatherRoster(),
      deposed: () => {
        for (const socketId of [...this.remote.keys()]) this.forget(socketId, 'this replica no longer leads rounds');
      },
    });
  }

  /** The leader runs the rounds that followers are asked for (POST /rounds to them), with `run`. */
  onRoundRequest<S>(run: () => Promise<RoundRequestReply<S>>): void {
    if (!this.leadership.shared) return;
    this.cluster.on('run-round', () => (this.leadership.leading ? run() : null));
  }

  /** A follower asks the leader to run a round; null when no leader answered within `timeoutMs`. */
  async requestRoundOfLeader<S>(timeoutMs: number): Promise<RoundRequestReply<S> | null> {
    return (await this.cluster.ask('run-round', null, timeoutMs)) as RoundRequestReply<S> | null;
  }

  /** A client said hello here: the leader may ask it from now on. */
  joined(connection: ClientConnection, client: ConnectedClient): void {
    if (this.leadership.shared) this.cluster.tell('joined', { socketId: connection.id, client } satisfies ClientOnReplica);
  }

  left(connection: ClientConnection): void {
    if (this.leadership.shared) this.cluster.tell('left', { socketId: connection.id });
  }

  /** A round message of a client connected here, handled by the leader: its acknowledgement. */
  async relay(connection: ClientConnection, event: string, body: unknown): Promise<Ack<unknown>> {
    const clientId = connection.state.clientId!;
    const reply = await this.cluster.ask('relay', { socketId: connection.id, clientId, event, body } satisfies RelayedMessage, RELAY_TIMEOUT_MS);
    if (reply) return reply as Ack<unknown>;
    const named = (body as { round?: unknown } | null)?.round;
    return { ok: false, code: 'STALE_ROUND', message: `no replica leads rounds right now (the message names round ${typeof named === 'number' ? named : '?'}); the next round will ask again` };
  }

  /** The leader published a model: followers hand it to the clients that connect to them later. */
  published(model: ModelPublished): void {
    if (this.leadership.shared && this.leadership.leading) this.cluster.tell('published', model);
  }

  /** A new leader learns every client connected to the other replicas. */
  private async gatherRoster(): Promise<void> {
    const replies = await this.cluster.gather('roster', null);
    let adopted = 0;
    for (const reply of replies) {
      if (!Array.isArray(reply)) continue;
      for (const entry of reply as ClientOnReplica[]) {
        this.adopt(entry);
        adopted++;
      }
    }
    if (this.cluster.hasPeers) this.logger.log(`leading: ${adopted} clients on ${replies.length} other replica(s), ${this.grid.connectedClients().length} in all`);
  }

  private adopt(entry: ClientOnReplica): void {
    const { socketId, client } = entry;
    if (this.remote.has(socketId)) return;
    const connection: ClientConnection = {
      id: socketId,
      clientName: client.name,
      state: { clientId: client.clientId },
      relayed: true,
      send: (event, message) => this.cluster.toSocket(socketId, event, message),
      close: () => this.cluster.disconnectSocket(socketId),
    };
    this.remote.set(socketId, connection);
    this.grid.register(connection, client);
  }

  private forget(socketId: string, reason: string): void {
    const connection = this.remote.get(socketId);
    if (!connection) return;
    this.remote.delete(socketId);
    this.grid.unregister(connection, reason);
  }
}
