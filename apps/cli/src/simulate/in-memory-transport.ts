import type { ClientEventName, FederationEndpoint } from '../../../coordinator/src/transport/federation-endpoint';
import type { ClientConnection } from '../../../coordinator/src/transport/client-connection';
import type { ModelPublished, ServerToClientEvents } from '@fedkd/protocol';
import type { VirtualClientPool } from './virtual-client-pool';
import { encodeEvent, type WireFrame } from './wire-frames';

/**
 * The in-memory transport of a simulation: one ClientConnection per virtual client, registered
 * with the coordinator's own FederationEndpoint (the same handlers, validators and signature
 * checks as its socket.io gateway), whose messages travel as socket.io wire frames to and from
 * the worker pool. A published model is encoded once and handed to each client with its next
 * round (a materialised client loads it first, as a connected one would have on publication).
 */
export class InMemoryTransport {
  private readonly connections: ClientConnection[] = [];
  private published: { version: number; frame: WireFrame } | null = null;

  constructor(
    private readonly endpoint: FederationEndpoint,
    private readonly pool: VirtualClientPool,
    private readonly clients: number,
  ) {}

  /** Opens every virtual client's connection (challenge -> hello, handled by the pool); resolves when all are handled. */
  async connectAll(): Promise<void> {
    for (let i = 0; i < this.clients; i++) {
      const connection: ClientConnection = {
        id: `memory-${i}`,
        clientName: `client-${i}`,
        state: {},
        send: (event, message) => this.send(i, event, message),
        close: () => this.endpoint.closed(connection, 'closed by the coordinator'),
      };
      this.connections.push(connection);
      this.endpoint.open(connection);
    }
    await this.pool.idle();
  }

  /** A client's event, as the gateway would hand it to the endpoint. */
  receive(client: number, event: string, payload: unknown): Promise<unknown> {
    return this.endpoint.receive(this.connections[client], event as ClientEventName, payload);
  }

  private send<E extends keyof ServerToClientEvents>(client: number, event: E, message: Parameters<ServerToClientEvents[E]>[0]): void {
    if (event === 'model.published') {
      const model = message as ModelPublished;
      if (this.published?.version !== model.version) this.published = { version: model.version, frame: encodeEvent(event, model) };
      return;
    }
    const frames = event === 'round.open' && this.published ? [this.published.frame] : [];
    this.pool.deliver(client, [...frames, encodeEvent(event, message)]);
  }
}
