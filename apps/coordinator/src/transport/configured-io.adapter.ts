import { Logger, type INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { IncomingMessage } from 'node:http';
import type { Server, ServerOptions } from 'socket.io';
import { WebSocketServer, type ServerOptions as WebSocketServerOptions } from 'ws';
import { federationParser } from '@fedkd/protocol';
import type { ConnectionAdmission } from './connection-admission';
import type { RedisBroadcast } from './redis-broadcast';

export interface TransportLimits {
  maxMessageBytes: number;
  /** Largest frame, and most bytes in all, a connection may send before its hello is accepted. */
  preAuthMaxMessageBytes: number;
  /** A connection that has not joined (socket.io CONNECT, e.g. refused by the handshake check) is closed after this long too. */
  helloTimeoutMs: number;
  allowedOrigins: readonly string[];
  admission: ConnectionAdmission;
  /** Replicas: the Redis Streams adapter (broadcasts reach every replica's sockets); closed with the server. */
  broadcast?: RedisBroadcast | null;
}

/** What this adapter reads of an engine.io socket (engine.io 6 with its `ws` websocket transport). */
interface EngineSocket {
  id: string;
  remoteAddress: string;
  transport: { name: string; socket?: unknown };
  on(event: 'packet', listener: (packet: { type: string; data?: unknown }) => void): void;
  on(event: 'close', listener: () => void): void;
  close(): void;
}

/** The part of a `ws` WebSocket this adapter uses: its receiver's frame limit (ws 8; no public setter). */
interface WsSocket {
  _receiver?: { _maxPayload?: unknown };
  on(event: 'error', listener: (error: Error & { code?: string }) => void): void;
}

/**
 * Transport settings that come from config rather than the decorator, and what a connection may do
 * before it has authenticated:
 * - WebSocket only: every fedkd client (edge client, in-memory simulation) speaks it, and HTTP
 *   long-polling would buffer whole request bodies up to the full limit before anyone is known.
 * - Admission (ConnectionAdmission): at most so many connections per address and so many without
 *   a hello in total; the excess is refused at the HTTP upgrade (403), before any parsing.
 * - Until its hello is accepted, a connection's WebSocket frames are capped at
 *   `preAuthMaxMessageBytes`: `ws` refuses a frame whose header declares more before buffering it
 *   (close 1009), and the bytes it sends in all before the hello are capped at the same number
 *   (socket.io may split one message into several frames). The hello raises the frame limit to
 *   `maxMessageBytes` (socket.io's maxHttpBufferSize, which closes a larger message).
 * - Browsers may only connect from allowed origins, or from the coordinator's own pages (the
 *   dashboard: an Origin whose host is the request's Host); requests without an Origin header come
 *   from non-browser clients (edge clients), which authenticate by signature instead.
 */
export class ConfiguredIoAdapter extends IoAdapter {
  private readonly logger = new Logger('Transport');
  /** Per kind of refusal: when it was last logged, and how many were not logged since (a flood must not flood the log). */
  private readonly refusalLog = new Map<string, { at: number; unlogged: number }>();

  constructor(app: INestApplicationContext, private readonly limits: TransportLimits) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): unknown {
    const { maxMessageBytes, preAuthMaxMessageBytes, admission } = this.limits;
    /** Every new WebSocket starts with the pre-authentication frame cap. */
    class PreAuthCappedWebSocketServer extends WebSocketServer {
      constructor(wsOptions: WebSocketServerOptions) {
        super({ ...wsOptions, maxPayload: preAuthMaxMessageBytes });
      }
    }
    const server = super.createIOServer(port, {
      ...options,
      transports: ['websocket'],
      maxHttpBufferSize: maxMessageBytes,
      connectTimeout: this.limits.helloTimeoutMs,
      wsEngine: PreAuthCappedWebSocketServer,
      // Secure-aggregation steps carry a binary part per neighbour: more than socket.io's default 10.
      parser: federationParser,
      ...(this.limits.broadcast ? { adapter: this.limits.broadcast.adapter } : {}),
      allowRequest: (request: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => {
        const origin = request.headers.origin;
        if (origin !== undefined && !this.limits.allowedOrigins.includes(origin) && !sameOrigin(origin, request.headers.host)) return callback(`origin ${origin} is not allowed`, false);
        const refusal = admission.admit(addressOf(request.socket.remoteAddress));
        if (refusal) this.warnAtMostEvery10s(refusal.startsWith('too many connections from') ? 'address' : 'unauthenticated', `refused a connection: ${refusal}`);
        callback(refusal, refusal === null);
      },
    }) as Server;
    server.engine.on('connection', (socket: EngineSocket) => this.track(socket));
    return server;
  }

  override async close(server: Server): Promise<void> {
    await super.close(server);
    await this.limits.broadcast?.close();
  }

  /** Counts the connection, caps what it may send until its hello, and lifts the cap after. */
  private track(socket: EngineSocket): void {
    const { maxMessageBytes, preAuthMaxMessageBytes, admission } = this.limits;
    const ws = socket.transport.socket as WsSocket | undefined;
    const receiver = ws?._receiver;
    if (socket.transport.name !== 'websocket' || !receiver || typeof receiver._maxPayload !== 'number') {
      // Only if a new engine.io or ws changed their internals: refuse rather than run uncapped.
      this.logger.error(`cannot cap the frames of connection ${socket.id} (transport ${socket.transport.name}): closing it`);
      socket.close();
      return;
    }
    const id = socket.id;
    admission.opened(id, addressOf(socket.remoteAddress), () => (receiver._maxPayload = maxMessageBytes));
    socket.on('close', () => admission.closed(id));
    ws!.on('error', (error) => {
      if (error.code !== 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || admission.isAuthenticated(id)) return;
      admission.count('preAuthMessageTooLarge');
      this.warnAtMostEvery10s('frame', `closed connection ${id} from ${socket.remoteAddress}: a frame over ${preAuthMaxMessageBytes} bytes before its hello`);
    });
    let preAuthBytes = 0;
    socket.on('packet', (packet) => {
      if (admission.isAuthenticated(id)) return;
      preAuthBytes += packetBytes(packet.data);
      if (preAuthBytes <= preAuthMaxMessageBytes) return;
      admission.count('preAuthMessageTooLarge');
      this.warnAtMostEvery10s('bytes', `closed connection ${id} from ${socket.remoteAddress}: over ${preAuthMaxMessageBytes} bytes before its hello`);
      socket.close();
    });
  }

  /** Logs a refusal, but each kind at most once per 10 s, with how many of it went unlogged in between (all are counted in GET /health). */
  private warnAtMostEvery10s(kind: string, line: string, now = Date.now()): void {
    const entry = this.refusalLog.get(kind);
    if (entry && now - entry.at < 10_000) {
      entry.unlogged++;
      return;
    }
    this.logger.warn(entry?.unlogged ? `${line} (and ${entry.unlogged} more like it in the last ${Math.round((now - entry.at) / 1000)} s)` : line);
    this.refusalLog.set(kind, { at: now, unlogged: 0 });
  }
}

/** Whether a browser's Origin is the server the request is addressed to (its host and port are the Host header). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** An IPv4 peer seen through an IPv6 socket (`::ffff:1.2.3.4`) is the IPv4 address. */
function addressOf(remote: string | undefined): string {
  if (!remote) return 'unknown';
  return remote.startsWith('::ffff:') ? remote.slice('::ffff:'.length) : remote;
}

function packetBytes(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof Uint8Array || data instanceof ArrayBuffer) return data.byteLength;
  return 0;
}
