import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Namespace } from 'socket.io';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';

/** A handler of one kind of message from another replica; what it returns is its reply (null or undefined: no reply). */
export type ClusterHandler = (payload: unknown) => unknown;

/** The one server-side event the replicas exchange (socket.io's serverSideEmit, carried by the Redis Streams adapter, binary included). */
export const REPLICA_EVENT = 'fedkd:replica';
/** The server-side event of gather(), answered by every replica through the adapter's acknowledgements. */
export const REPLICA_GATHER_EVENT = 'fedkd:replica-gather';

type Envelope =
  | { kind: 'tell'; event: string; payload: unknown }
  | { kind: 'ask'; event: string; payload: unknown; id: string; from: string }
  | { kind: 'reply'; id: string; to: string; reply: unknown };

/**
 * Messages between the coordinator's replicas over the socket.io server's adapter. Without
 * --redis-url there are no peers: nothing is sent, questions get no answer.
 */
@Injectable()
export class ReplicaCluster {
  private readonly logger = new Logger('Cluster');
  private readonly uid = randomBytes(8).toString('hex');
  private namespace: Namespace | null = null;
  private readonly handlers = new Map<string, ClusterHandler>();
  private readonly pending = new Map<string, (reply: unknown) => void>();
  private readonly enabled: boolean;

  constructor(@Inject(CONFIG) config: CoordinatorConfig) {
    this.enabled = config.redisUrl !== null;
  }

  /** Whether other replicas can be reached (the socket.io server runs over the Redis adapter). */
  get hasPeers(): boolean {
    return this.namespace !== null;
  }

  /** The clients' namespace, once the socket.io server exists: its adapter reaches the other replicas. */
  bind(namespace: Namespace): void {
    if (!this.enabled) return;
    this.namespace = namespace;
    const on = namespace.on as (event: string, listener: (...args: unknown[]) => void) => void;
    on.call(namespace, REPLICA_EVENT, (envelope: unknown) => void this.received(envelope as Envelope));
    on.call(namespace, REPLICA_GATHER_EVENT, (request: unknown, ack: unknown) => {
      const { event, payload } = request as { event: string; payload: unknown };
      void this.handle(event, payload).then((reply) => typeof ack === 'function' && ack(reply ?? null));
    });
  }

  /** Handles `event` from other replicas; one handler per event. */
  on(event: string, handler: ClusterHandler): void {
    if (this.handlers.has(event)) throw new Error(`replica message ${event} already has a handler`);
    this.handlers.set(event, handler);
  }

  /** Tells every other replica (no reply). */
  tell(event: string, payload: unknown): void {
    this.send({ kind: 'tell', event, payload });
  }

  /**
   * Asks every other replica and resolves with the first reply (the replicas that have nothing to
   * say stay silent), or null after `timeoutMs`.
   */
  ask(event: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    if (!this.namespace) return Promise.resolve(null);
    const id = randomBytes(8).toString('hex');
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(null), timeoutMs);
      const finish = (reply: unknown) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(reply);
      };
      this.pending.set(id, finish);
      this.send({ kind: 'ask', event, payload, id, from: this.uid });
    });
  }

  /**
   * Every other replica's reply (null from those with nothing to say), through the adapter's
   * acknowledgements: a replica that died is awaited until the adapter's timeout (5 s) and then
   * missing.
   */
  gather(event: string, payload: unknown): Promise<unknown[]> {
    const namespace = this.namespace;
    if (!namespace) return Promise.resolve([]);
    const emit = namespace.serverSideEmit as (event: string, ...args: unknown[]) => boolean;
    return new Promise((resolve) => {
      emit.call(namespace, REPLICA_GATHER_EVENT, { event, payload }, (_error: Error | null, replies: unknown[] | undefined) => resolve(replies ?? []));
    });
  }

  /** Emits to one client's socket, on whichever replica holds it. */
  toSocket(socketId: string, event: string, message: unknown): void {
    const target = this.namespace?.to(socketId);
    (target?.emit as ((event: string, ...args: unknown[]) => boolean) | undefined)?.call(target, event, message);
  }

  /** Closes one client's socket, on whichever replica holds it. */
  disconnectSocket(socketId: string): void {
    this.namespace?.in(socketId).disconnectSockets(true);
  }

  private send(envelope: Envelope): void {
    const namespace = this.namespace;
    if (!namespace) return;
    (namespace.serverSideEmit as (event: string, ...args: unknown[]) => boolean).call(namespace, REPLICA_EVENT, envelope);
  }

  private async received(envelope: Envelope): Promise<void> {
    if (envelope.kind === 'reply') {
      if (envelope.to === this.uid) this.pending.get(envelope.id)?.(envelope.reply);
      return;
    }
    const reply = await this.handle(envelope.event, envelope.payload);
    if (envelope.kind === 'ask' && reply !== null && reply !== undefined) this.send({ kind: 'reply', id: envelope.id, to: envelope.from, reply });
  }

  private async handle(event: string, payload: unknown): Promise<unknown> {
    const handler = this.handlers.get(event);
    if (!handler) return null;
    try {
      return await handler(payload);
    } catch (error) {
      this.logger.error(`replica message ${event} failed: ${error instanceof Error ? error.stack : String(error)}`);
      return null;
    }
  }
}
