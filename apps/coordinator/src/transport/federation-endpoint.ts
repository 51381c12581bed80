import { Inject, Injectable, Logger } from '@nestjs/common';
import { inputSize } from '@fedkd/engine';
import { describeWireValue } from '@fedkd/privacy';
import {
  binaryBytesIn,
  MAX_PROXY_CHUNK_BYTES,
  validateHello,
  validateProxyFetch,
  validateRoundDeclined,
  type Ack,
  type ClientToServerEvents,
  type HelloAccepted,
  type HelloCredentials,
  type ProxyChunk,
} from '@fedkd/protocol';
import { ClientAuthService } from '../auth/client-auth.service';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';
import { FEDERATION, type FederationSetup } from '../federation/federation-setup';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import type { ClientConnection } from './client-connection';
import { CONNECTION_ADMISSION, type ConnectionAdmission } from './connection-admission';
import { ConnectionGrid } from './connection-grid';
import { FederationEvents } from '../events/federation-events';
import { ReplicaRelay } from '../scale/replica-relay';
import { TokenBucket } from './token-bucket';

export type ClientEventName = keyof ClientToServerEvents;
export const CLIENT_EVENTS: readonly ClientEventName[] = ['hello', 'round.predictions', 'round.votes', 'round.declined', 'secagg', 'proxy.fetch'];
/** The events that belong to a round: with replicas, only the leader handles them. */
const ROUND_EVENTS: readonly ClientEventName[] = ['round.predictions', 'round.votes', 'round.declined', 'secagg'];

/**
 * What the coordinator does with each client event, whatever transport carried it: the challenge
 * on connection, the signed hello, answers, declines, secure-aggregation steps and proxy fetches.
 * Every handler validates its payload at the boundary and returns an acknowledgement (never
 * throws at a client); the socket.io gateway and the in-memory transport both call this.
 */
@Injectable()
export class FederationEndpoint {
  private readonly logger = new Logger('Gateway');

  constructor(
    private readonly grid: ConnectionGrid,
    private readonly auth: ClientAuthService,
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    @Inject(CONFIG) private readonly config: CoordinatorConfig,
    @Inject(FEDERATION) private readonly federation: FederationSetup,
    @Inject(CONNECTION_ADMISSION) private readonly admission: ConnectionAdmission,
    private readonly events: FederationEvents,
    private readonly relay: ReplicaRelay,
  ) {
    // Round messages that other replicas' clients send reach this replica when it leads.
    relay.serve((connection, event, body) => this.receive(connection, event as ClientEventName, body));
  }

  /** A new connection gets a fresh nonce to sign, and a limited time to do so. */
  open(connection: ClientConnection): void {
    connection.state.rate = new TokenBucket(this.config.rateLimitPerSecond, this.config.rateLimitBurst);
    connection.state.nonce = this.auth.issueNonce();
    connection.send('auth.challenge', { nonce: connection.state.nonce, task: { name: this.federation.task.name, sha256: this.federation.taskSha256 } });
    connection.state.helloTimer = setTimeout(() => {
      if (connection.state.clientId) return;
      this.admission.count('helloTimeout');
      this.logger.warn(`closed a connection from ${connection.clientName}: no valid hello within ${this.config.helloTimeoutMs} ms`);
      connection.close();
    }, this.config.helloTimeoutMs);
    connection.state.helloTimer.unref();
  }

  closed(connection: ClientConnection, reason: string): void {
    connection.state.closed = true;
    clearTimeout(connection.state.helloTimer);
    const client = this.grid.unregister(connection, reason);
    if (client) {
      this.relay.left(connection);
      this.events.emit({ type: 'client.disconnected', clientId: client.clientId, name: client.name, connected: this.grid.connectedClients().length, reason });
    }
  }

  /**
   * One inbound event: rate-limited per connection, and an unexpected exception becomes an
   * INTERNAL acknowledgement (logged), never a silent drop.
   */
  async receive(connection: ClientConnection, event: ClientEventName, body: unknown): Promise<Ack<unknown>> {
    const ack = await this.handle(connection, event, body);
    if (!ack.ok) this.events.emit({ type: 'message.refused', event: String(event).slice(0, 40), clientName: connection.clientName, clientId: connection.state.clientId ?? null, code: ack.code });
    return ack;
  }

  private async handle(connection: ClientConnection, event: ClientEventName, body: unknown): Promise<Ack<unknown>> {
    if (!connection.relayed && !connection.state.rate?.take()) {
      return { ok: false, code: 'RATE_LIMITED', message: `too many messages: at most ${this.config.rateLimitPerSecond} per second` };
    }
    try {
      if (ROUND_EVENTS.includes(event) && this.relay.relaying) {
        // A follower: the replica that leads rounds checks and uses the message.
        if (!connection.state.clientId) return { ok: false, code: 'NOT_REGISTERED', message: `say hello before sending ${event}` };
        return await this.relay.relay(connection, event, body);
      }
      switch (event) {
        case 'hello':
          return await this.hello(connection, body);
        case 'round.predictions':
        case 'round.votes':
          return await this.answer(connection, event, body);
        case 'round.declined':
          return await this.declined(connection, body);
        case 'secagg':
          return await this.secureAggregation(connection, body);
        case 'proxy.fetch':
          return this.proxyFetch(connection, body);
        default:
          return { ok: false, code: 'BAD_MESSAGE', message: `unknown event ${JSON.stringify(String(event).slice(0, 40))} (events: ${CLIENT_EVENTS.join(', ')})` };
      }
    } catch (error) {
      this.logger.error(`${event} handler failed: ${error instanceof Error ? error.stack : String(error)}`);
      return { ok: false, code: 'INTERNAL', message: `the coordinator could not process ${event}` };
    }
  }

  private async hello(connection: ClientConnection, body: unknown): Promise<Ack<HelloAccepted>> {
    if (connection.state.clientId) return { ok: false, code: 'DUPLICATE', message: 'this connection has already said hello' };
    if (connection.state.helloPending) return { ok: false, code: 'DUPLICATE', message: 'this connection is already saying hello' };
    connection.state.helloPending = true;
    try {
      return await this.checkHello(connection, body);
    } finally {
      connection.state.helloPending = false;
    }
  }

  private async checkHello(connection: ClientConnection, body: unknown): Promise<Ack<HelloAccepted>> {
    const { proof, enrolmentToken, ...content } = (body ?? {}) as Partial<HelloCredentials> & Record<string, unknown>;
    const clientName = connection.clientName;
    const authenticated = await this.auth.authenticateHello(clientName, connection.state.nonce, { proof: proof!, enrolmentToken });
    connection.state.nonce = undefined;
    if (!authenticated.ok) {
      this.logger.warn(`refused hello from ${clientName}: ${authenticated.code} ${authenticated.message}`);
      return authenticated;
    }
    const hello = validateHello(content);
    if (!hello.ok) return hello;
    if (hello.value.taskSha256 !== this.federation.taskSha256) {
      this.logger.warn(`refused hello from ${clientName}: configured with another task`);
      return {
        ok: false,
        code: 'TASK_MISMATCH',
        message: `this federation's task is ${this.federation.task.name} (SHA-256 ${this.federation.taskSha256}); the client's task has SHA-256 ${hello.value.taskSha256}`,
      };
    }
    const record = await this.db.clients.upsertOnConnect({ name: clientName, architecture: hello.value.architecture, sampleCount: hello.value.sampleCount ?? null });
    if (record.status === 'revoked') return { ok: false, code: 'NOT_REGISTERED', message: `client ${record.name} is revoked` };
    if (connection.state.closed) return { ok: false, code: 'NOT_REGISTERED', message: 'the connection closed while its hello was checked' };
    const client = { clientId: record.id, name: record.name, architecture: record.architecture, sampleCount: record.sampleCount };
    this.grid.register(connection, client);
    this.relay.joined(connection, client);
    connection.authenticated?.();
    const connected = this.grid.connectedClients().length;
    // Structured: readers of the JSON log (fedkd simulate) pick joins out by their event.
    this.logger.log({ msg: `client ${record.name} (${record.id}) joined; ${connected} connected`, event: 'client.connected', clientId: record.id, connected });
    this.events.emit({ type: 'client.connected', clientId: record.id, name: record.name, connected });
    return { ok: true, value: { clientId: record.id, latestModel: this.grid.latest() } };
  }

  /** An answer to the round collecting now: soft predictions, or a private round's noisy votes. */
  private async answer(connection: ClientConnection, event: 'round.predictions' | 'round.votes', body: unknown): Promise<Ack> {
    const payload = await this.verified(connection, event, body);
    return payload.ok ? this.grid.offerPredictions(connection.state.clientId!, payload.value, payloadBytes(body), event) : payload;
  }

  private async declined(connection: ClientConnection, body: unknown): Promise<Ack> {
    const payload = await this.verified(connection, 'round.declined', body);
    if (!payload.ok) return payload;
    const declined = validateRoundDeclined(payload.value);
    if (!declined.ok) return declined;
    return this.grid.decline(connection.state.clientId!, declined.value.round, declined.value.reason);
  }

  private async secureAggregation(connection: ClientConnection, body: unknown): Promise<Ack> {
    const payload = await this.verified(connection, 'secagg', body);
    return payload.ok ? this.grid.offerSecure(connection.state.clientId!, payload.value.message, binaryBytesIn(payload.value.message)) : payload;
  }

  /**
   * Rows of the coordinator's public set (`--proxy-data`), for a client to build a round's proxy:
   * public, unlabelled inputs, served to registered clients only, in chunks of at most 4 MiB.
   */
  private proxyFetch(connection: ClientConnection, body: unknown): Ack<ProxyChunk> {
    if (!connection.state.clientId) return { ok: false, code: 'NOT_REGISTERED', message: 'say hello before sending proxy.fetch' };
    const request = validateProxyFetch(body);
    if (!request.ok) return request;
    const set = this.federation.publicSet;
    if (!set || set.ref.source !== 'coordinator' || set.ref.sha256 !== request.value.sha256) {
      return { ok: false, code: 'NOT_FOUND', message: `this coordinator serves no public set ${request.value.sha256}` };
    }
    const { start, count } = request.value;
    const size = inputSize(set.inputs);
    if (count * size * 4 > MAX_PROXY_CHUNK_BYTES) return { ok: false, code: 'TOO_LARGE', message: `${count} rows are ${count * size * 4} bytes, over the chunk limit of ${MAX_PROXY_CHUNK_BYTES}` };
    if (start + count > set.inputs.count) return { ok: false, code: 'BAD_SHAPE', message: `rows [${start}, ${start + count}) are outside the set's ${set.inputs.count} rows` };
    const rows = set.inputs.values.subarray(start * size, (start + count) * size);
    return { ok: true, value: { data: new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength) } };
  }

  /** A registered client's signed message for the round collecting now: its verified payload. */
  private async verified(connection: ClientConnection, event: string, body: unknown): Promise<Ack<Record<string, unknown>>> {
    if (!connection.state.clientId) return { ok: false, code: 'NOT_REGISTERED', message: `say hello before sending ${event}` };
    const round = this.grid.currentRound();
    if (round === null) {
      const named = (body as { round?: unknown } | null)?.round;
      return this.grid.closedRoundRefusal(named) ?? { ok: false, code: 'STALE_ROUND', message: `no round is collecting (message names round ${describeWireValue(named)})` };
    }
    const verified = await this.auth.verifyMessage(connection.clientName, event, body, round);
    if (!verified.ok) this.logger.warn(`refused ${event} from ${connection.clientName}: ${verified.code} ${verified.message}`);
    return verified;
  }
}

/** Bytes a client uploaded with a message: its binary parts (the JSON envelope is tiny). */
function payloadBytes(body: unknown): number {
  const b = body as { data?: unknown; scales?: unknown; coverage?: unknown } | null;
  return binaryBytesIn(b?.data) + binaryBytesIn(b?.scales) + binaryBytesIn(b?.coverage);
}
