import { Inject, Logger } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayConnection,
  OnGatewayDisconnect,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import {
  binaryBytesIn,
  validateHandshakeAuth,
  validateHello,
  validateProxyFetch,
  validateRoundDeclined,
  MAX_PROXY_CHUNK_BYTES,
  type Ack,
  type HelloAccepted,
  type HelloCredentials,
  type ProxyChunk,
} from '@fedkd/protocol';
import { inputSize } from '@fedkd/engine';
import { FEDERATION, type FederationSetup } from '../federation/federation-setup';
import { ClientAuthService } from '../auth/client-auth.service';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { TokenBucket } from './token-bucket';
import { SocketGrid, type FederationServer, type FederationSocket } from './socket-grid';

/**
 * The clients' socket.io endpoint. Thin: it authenticates the handshake, validates each inbound
 * payload and hands it to the Grid. Handlers return `{ ok, ... }` acknowledgements and never
 * throw, so a bad message gets a reason instead of a timed-out ack.
 */
@WebSocketGateway({ transports: ['websocket', 'polling'] })
export class FederationGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger('Gateway');
  @WebSocketServer() server!: FederationServer;

  constructor(
    private readonly grid: SocketGrid,
    private readonly auth: ClientAuthService,
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    @Inject(CONFIG) private readonly config: CoordinatorConfig,
    @Inject(FEDERATION) private readonly federation: FederationSetup,
  ) {}

  afterInit(server: FederationServer): void {
    server.use((socket, next) => {
      const auth = validateHandshakeAuth(socket.handshake.auth);
      if (!auth.ok) {
        this.logger.warn(`refused a connection from ${socket.handshake.address}: ${auth.message}`);
        return next(new Error(`${auth.code}: ${auth.message}`));
      }
      socket.data.clientName = auth.value.clientName;
      next();
    });
  }

  /** Every connection gets a fresh nonce to sign, and a limited time to do so. */
  handleConnection(socket: FederationSocket): void {
    socket.data.rate = new TokenBucket(this.config.rateLimitPerSecond, this.config.rateLimitBurst);
    socket.data.nonce = this.auth.issueNonce();
    socket.emit('auth.challenge', { nonce: socket.data.nonce as Uint8Array, task: { name: this.federation.task.name, sha256: this.federation.taskSha256 } });
    const timer = setTimeout(() => {
      if (!this.grid.clientIdOf(socket)) socket.disconnect(true);
    }, 30_000);
    socket.once('disconnect', () => clearTimeout(timer));
  }

  handleDisconnect(socket: FederationSocket): void {
    this.grid.unregister(socket, 'connection closed');
  }

  @SubscribeMessage('hello')
  hello(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Ack<HelloAccepted> {
    return this.guard(socket, 'hello', () => {
      if (this.grid.clientIdOf(socket)) return { ok: false, code: 'DUPLICATE', message: 'this connection has already said hello' };
      const { proof, enrolmentToken, ...content } = (body ?? {}) as Partial<HelloCredentials> & Record<string, unknown>;
      const clientName = socket.data.clientName as string;
      const authenticated = this.auth.authenticateHello(clientName, socket.data.nonce as Uint8Array | undefined, { proof: proof!, enrolmentToken });
      socket.data.nonce = undefined;
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
      const record = this.db.clients.upsertOnConnect({
        name: socket.data.clientName as string,
        architecture: hello.value.architecture,
        sampleCount: hello.value.sampleCount ?? null,
      });
      if (record.status === 'revoked') {
        return { ok: false, code: 'NOT_REGISTERED', message: `client ${record.name} is revoked` };
      }
      this.grid.register(socket, {
        clientId: record.id,
        name: record.name,
        architecture: record.architecture,
        sampleCount: record.sampleCount,
      });
      this.logger.log(`client ${record.name} (${record.id}) joined; ${this.grid.connectedClients().length} connected`);
      return { ok: true, value: { clientId: record.id, latestModel: this.grid.latest() } };
    });
  }

  @SubscribeMessage('round.predictions')
  predictions(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Ack {
    return this.guard(socket, 'round.predictions', () => {
      const payload = this.verified(socket, 'round.predictions', body);
      return payload.ok ? this.grid.offerPredictions(socket, payload.value, payloadBytes(body)) : payload;
    });
  }

  /** A private round's answer: noisy teacher votes. */
  @SubscribeMessage('round.votes')
  votes(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Ack {
    return this.guard(socket, 'round.votes', () => {
      const payload = this.verified(socket, 'round.votes', body);
      return payload.ok ? this.grid.offerPredictions(socket, payload.value, payloadBytes(body), 'round.votes') : payload;
    });
  }

  @SubscribeMessage('round.declined')
  declined(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Ack {
    return this.guard(socket, 'round.declined', () => {
      const payload = this.verified(socket, 'round.declined', body);
      if (!payload.ok) return payload;
      const declined = validateRoundDeclined(payload.value);
      if (!declined.ok) return declined;
      return this.grid.decline(socket, declined.value.round, declined.value.reason);
    });
  }

  @SubscribeMessage('secagg')
  secureAggregation(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Ack {
    return this.guard(socket, 'secagg', () => {
      const payload = this.verified(socket, 'secagg', body);
      return payload.ok ? this.grid.offerSecure(socket, payload.value.message, binaryBytesIn(payload.value.message)) : payload;
    });
  }

  /**
   * Rows of the coordinator's public set (`--proxy-data`), for a client to build a round's proxy:
   * public, unlabelled inputs, served to registered clients only, in chunks of at most 4 MiB.
   */
  @SubscribeMessage('proxy.fetch')
  proxyFetch(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Ack<ProxyChunk> {
    return this.guard(socket, 'proxy.fetch', () => {
      if (!this.grid.clientIdOf(socket)) return { ok: false, code: 'NOT_REGISTERED', message: 'say hello before sending proxy.fetch' };
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
    });
  }

  /** A registered client's signed message for the round collecting now: its verified payload. */
  private verified(socket: FederationSocket, event: string, body: unknown): Ack<Record<string, unknown>> {
    if (!this.grid.clientIdOf(socket)) return { ok: false, code: 'NOT_REGISTERED', message: `say hello before sending ${event}` };
    const round = this.grid.currentRound();
    if (round === null) {
      const named = (body as { round?: unknown } | null)?.round;
      return { ok: false, code: 'STALE_ROUND', message: `no round is collecting (message names round ${String(named)})` };
    }
    const verified = this.auth.verifyMessage(socket.data.clientName as string, event, body, round);
    if (!verified.ok) this.logger.warn(`refused ${event} from ${socket.data.clientName as string}: ${verified.code} ${verified.message}`);
    return verified;
  }

  /**
   * Rate-limits the socket, and turns an unexpected exception into an INTERNAL acknowledgement
   * (logged), never a silent drop.
   */
  private guard<T>(socket: FederationSocket, event: string, handler: () => Ack<T>): Ack<T> {
    if (!(socket.data.rate as TokenBucket).take()) {
      return { ok: false, code: 'RATE_LIMITED', message: `too many messages: at most ${this.config.rateLimitPerSecond} per second` };
    }
    try {
      return handler();
    } catch (error) {
      this.logger.error(`${event} handler failed: ${error instanceof Error ? error.stack : String(error)}`);
      return { ok: false, code: 'INTERNAL', message: `the coordinator could not process ${event}` };
    }
  }
}

/** Bytes a client uploaded with a message: its binary parts (the JSON envelope is tiny). */
function payloadBytes(body: unknown): number {
  const b = body as { data?: unknown; scales?: unknown } | null;
  return binaryBytesIn(b?.data) + binaryBytesIn(b?.scales);
}
