import type { ServerToClientEvents } from '@fedkd/protocol';
import type { TokenBucket } from './token-bucket';

/**
 * One client's link to the coordinator, whatever carries it: a socket.io socket in deployments,
 * an in-memory channel in simulations. The endpoint and the grid see only this.
 */
export interface ClientConnection {
  /** Unique per connection (a reconnection is a new connection). */
  readonly id: string;
  /** The name the client gave in its handshake (not yet authenticated). */
  readonly clientName: string;
  /** Per-connection state the endpoint keeps: the challenge nonce, the client id once registered, the rate limit. */
  readonly state: ConnectionState;
  /** Sends an event to the client (fire and forget, as socket.io's emit). */
  send<E extends keyof ServerToClientEvents>(event: E, message: Parameters<ServerToClientEvents[E]>[0]): void;
  /** Closes the connection from the coordinator's side. */
  close(): void;
  /** Its hello was accepted: the transport lifts its pre-authentication limits (absent for in-memory connections). */
  authenticated?(): void;
  /** A client connected to another replica, whose messages that replica relays here (it checked their rate already). */
  readonly relayed?: boolean;
}

export interface ConnectionState {
  nonce?: Uint8Array;
  clientId?: string;
  rate?: TokenBucket;
  /** Closes the connection if it has not said a valid hello in time (cleared on close). */
  helloTimer?: NodeJS.Timeout;
  /** A hello is being checked (its credentials and the client's record are read from the database). */
  helloPending?: boolean;
  /** The connection has closed (a hello still being checked must not register it). */
  closed?: boolean;
}
