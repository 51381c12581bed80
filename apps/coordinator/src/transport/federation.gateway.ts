import { Logger } from '@nestjs/common';
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
import type { Namespace, Server, Socket } from 'socket.io';
import { validateHandshakeAuth, type Ack, type ClientToServerEvents, type ServerToClientEvents } from '@fedkd/protocol';
import { Inject } from '@nestjs/common';
import type { ClientConnection, ConnectionState } from './client-connection';
import { CONNECTION_ADMISSION, type ConnectionAdmission } from './connection-admission';
import { CLIENT_EVENTS, FederationEndpoint, type ClientEventName } from './federation-endpoint';
import { ReplicaCluster } from '../scale/replica-cluster';

/** Events between coordinator replicas: ReplicaCluster's envelopes (untyped here; it checks them). */
export type InterServerEvents = Record<string, (...args: unknown[]) => void>;

/** What the gateway keeps on each socket (`socket.data`). */
export interface SocketData {
  /** The handshake's clientName, set by the handshake check before the connection opens. */
  clientName: string;
  /** The socket as a ClientConnection, made on first use (connectionOf). */
  connection?: ClientConnection;
}

export type FederationServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type FederationSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/**
 * The clients' socket.io endpoint: the socket.io transport of the FederationEndpoint, nothing
 * more. It checks the handshake's protocol version and name, wraps each socket as a
 * ClientConnection and hands every event to the endpoint, whose acknowledgement it returns.
 */
// WebSocket only (ConfiguredIoAdapter): long-polling would buffer whole bodies before a hello.
@WebSocketGateway({ transports: ['websocket'] })
export class FederationGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger('Gateway');
  @WebSocketServer() server!: FederationServer;

  constructor(
    private readonly endpoint: FederationEndpoint,
    @Inject(CONNECTION_ADMISSION) private readonly admission: ConnectionAdmission,
    private readonly cluster: ReplicaCluster,
  ) {}

  afterInit(server: FederationServer): void {
    // With --redis-url, the other replicas are reached through this namespace's adapter.
    this.cluster.bind((server as FederationServer).of('/') as unknown as Namespace);
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

  handleConnection(socket: FederationSocket): void {
    this.endpoint.open(connectionOf(socket, this.admission));
    // An event no handler subscribes to would get no acknowledgement at all (the sender's ack
    // times out): the endpoint answers it with BAD_MESSAGE (after the rate limit) instead.
    socket.onAny((event: unknown, ...args: unknown[]) => {
      const ack = args[args.length - 1];
      if (CLIENT_EVENTS.includes(event as ClientEventName) || typeof ack !== 'function') return;
      void this.receive(socket, event as ClientEventName, args[0]).then(ack as (reply: Ack<unknown>) => void);
    });
  }

  handleDisconnect(socket: FederationSocket): void {
    this.endpoint.closed(connectionOf(socket, this.admission), 'connection closed');
  }

  @SubscribeMessage('hello')
  hello(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Promise<Ack<unknown>> {
    return this.receive(socket, 'hello', body);
  }

  @SubscribeMessage('round.predictions')
  predictions(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Promise<Ack<unknown>> {
    return this.receive(socket, 'round.predictions', body);
  }

  @SubscribeMessage('round.votes')
  votes(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Promise<Ack<unknown>> {
    return this.receive(socket, 'round.votes', body);
  }

  @SubscribeMessage('round.declined')
  declined(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Promise<Ack<unknown>> {
    return this.receive(socket, 'round.declined', body);
  }

  @SubscribeMessage('secagg')
  secureAggregation(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Promise<Ack<unknown>> {
    return this.receive(socket, 'secagg', body);
  }

  @SubscribeMessage('proxy.fetch')
  proxyFetch(@ConnectedSocket() socket: FederationSocket, @MessageBody() body: unknown): Promise<Ack<unknown>> {
    return this.receive(socket, 'proxy.fetch', body);
  }

  private receive(socket: FederationSocket, event: ClientEventName, body: unknown): Promise<Ack<unknown>> {
    return this.endpoint.receive(connectionOf(socket, this.admission), event, body);
  }
}

/** The socket as a ClientConnection (one per socket, kept in its data). */
function connectionOf(socket: FederationSocket, admission: ConnectionAdmission): ClientConnection {
  const existing = socket.data.connection;
  if (existing) return existing;
  const state: ConnectionState = {};
  const connection: ClientConnection = {
    id: socket.id,
    clientName: socket.data.clientName,
    state,
    send: (event, message) => void socket.emit(event, ...([message] as Parameters<ServerToClientEvents[typeof event]>)),
    close: () => void socket.disconnect(true),
    // The engine.io connection's id (typed private, but it is the id engine.io reports on 'connection').
    authenticated: () => admission.authenticated((socket.conn as unknown as { id: string }).id),
  };
  socket.data.connection = connection;
  return connection;
}
