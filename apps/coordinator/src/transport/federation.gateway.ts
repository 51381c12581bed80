import { Inject, Logger } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  OnGatewayDisconnect,
  OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
} from '@nestjs/websockets';
import {
  validateHandshakeAuth,
  validateHello,
  validateRoundDeclined,
  type Ack,
  type HelloAccepted,
} from '@fedkd/protocol';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { SocketGrid, type FederationServer, type FederationSocket } from './socket-grid';

/**
 * The clients' socket.io endpoint. Thin: it authenticates the handshake, validates each inbound
 * payload and hands it to the Grid. Handlers return `{ ok, ... }` acknowledgements and never
 * throw, so a bad message gets a reason instead of a timed-out ack.
 */
@WebSocketGateway({ transports: ['websocket', 'polling'] })
export class FederationGateway implements OnGatewayInit, OnGatewayDisconnect {
  private readonly logger = new Logger('Gateway');
  @WebSocketServer() server!: FederationServer;

  constructor(
    private readonly grid: SocketGrid,
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
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

  handleDisconnect(socket: FederationSocket): void {
    this.grid.unregister(socket, 'connection closed');
  }

  @SubscribeMessage('hello')
  hello(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Ack<HelloAccepted> {
    return this.guard('hello', () => {
      const hello = validateHello(body);
      if (!hello.ok) return hello;
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
    return this.guard('round.predictions', () => this.grid.offerPredictions(socket, body, payloadBytes(body)));
  }

  @SubscribeMessage('round.declined')
  declined(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Ack {
    return this.guard('round.declined', () => {
      const declined = validateRoundDeclined(body);
      if (!declined.ok) return declined;
      return this.grid.decline(socket, declined.value.round, declined.value.reason);
    });
  }

  /** Turns an unexpected exception into an INTERNAL acknowledgement (logged), never a silent drop. */
  private guard<T>(event: string, handler: () => Ack<T>): Ack<T> {
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
  const size = (v: unknown) => (v instanceof Uint8Array ? v.byteLength : v instanceof ArrayBuffer ? v.byteLength : 0);
  const b = body as { data?: unknown; scales?: unknown } | null;
  return size(b?.data) + size(b?.scales);
}
