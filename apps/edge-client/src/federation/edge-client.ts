import { io, type Socket } from 'socket.io-client';
import { ClientCore, type ClientCoreConfig, type ClientEvent, type CoordinatorLink } from '@fedkd/client';
import { tenthsOf } from '@fedkd/command-line';
import { federationParser, PROTOCOL_VERSION, type Ack, type ClientToServerEvents, type HelloAccepted, type ServerToClientEvents } from '@fedkd/protocol';

export type { ClientEvent } from '@fedkd/client';

export interface EdgeClientConfig extends ClientCoreConfig {
  coordinatorUrl: string;
  /** Ack timeout for each message sent. */
  ackTimeoutMs: number;
  reconnectDelayMs: number;
  reconnectDelayMaxMs: number;
  /** PEM certificate(s) to trust for an https:// coordinator with a private CA or self-signed certificate. */
  tlsCa?: string;
}

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * The deployed edge client: the client core (libs/client) over socket.io. It connects and
 * reconnects with backoff, answers the challenge with the core's hello, and hands every
 * coordinator event to the core, one at a time in arrival order; the core sends its answers
 * back through this socket.
 */
export class EdgeClient {
  private socket: ClientSocket | null = null;
  private queue: Promise<void> = Promise.resolve();
  private readonly core: ClientCore;

  constructor(
    private readonly config: EdgeClientConfig,
    private readonly report: (event: ClientEvent) => void = () => undefined,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {
    this.core = new ClientCore(config, report, log);
  }

  get studentVersion(): number | null {
    return this.core.studentVersion;
  }

  /** Loads the private data and the teacher (trains or fine-tunes it), then connects (retrying with backoff until stopped). */
  async start(): Promise<void> {
    await this.core.prepare(tenthsOf(`${this.config.clientName}: reading private data`, this.log));
    this.connect();
  }

  /** Disconnects and frees the models; safe to call more than once. */
  stop(): void {
    this.socket?.disconnect();
    this.socket = null;
    this.core.dispose();
  }

  private connect(): void {
    const socket: ClientSocket = io(this.config.coordinatorUrl, {
      auth: { protocolVersion: PROTOCOL_VERSION, clientName: this.config.clientName },
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: this.config.reconnectDelayMs,
      reconnectionDelayMax: this.config.reconnectDelayMaxMs,
      randomizationFactor: 0.5,
      parser: federationParser,
      ...(this.config.tlsCa ? { ca: this.config.tlsCa } : {}),
    });
    this.socket = socket;
    const link = this.linkOf(socket);
    socket.on('auth.challenge', (challenge) => void this.answerChallenge(socket, challenge));
    socket.on('connect_error', (error) => {
      this.log(`${this.config.clientName}: cannot connect to ${this.config.coordinatorUrl}: ${error.message}`);
      // The middleware refused us: retrying with the same credentials cannot succeed.
      if (error.message.startsWith('PROTOCOL_VERSION') || error.message.startsWith('BAD_MESSAGE')) socket.disconnect();
    });
    socket.on('disconnect', (reason) => {
      this.report({ event: 'disconnected', reason });
      // A server-side disconnect is not retried by socket.io: reconnect explicitly.
      if (reason === 'io server disconnect' && this.socket === socket) setTimeout(() => socket.connect(), this.config.reconnectDelayMs);
    });
    socket.on('round.open', (message) => this.enqueue(() => this.core.answerRound(message, link)));
    socket.on('model.published', (message) => this.enqueue(() => this.core.loadStudent(message)));
    socket.on('secagg', (envelope) => this.enqueue(() => this.core.continueSecureRound(envelope, link)));
  }

  /** The core's messages go out on this socket, each acknowledged within the ack timeout. */
  private linkOf(socket: ClientSocket): CoordinatorLink {
    const acknowledged = (event: string, message: unknown) =>
      (socket.timeout(this.config.ackTimeoutMs) as unknown as { emitWithAck(event: string, message: unknown): Promise<unknown> }).emitWithAck(event, message);
    return { send: (event, message) => acknowledged(event, message) as never };
  }

  /** Rounds and model loads run one at a time, in arrival order. */
  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((error: unknown) => this.log(`${this.config.clientName}: ${String(error)}`));
  }

  private async answerChallenge(socket: ClientSocket, challenge: unknown): Promise<void> {
    const hello = this.core.helloFor(challenge);
    if (!hello.ok) {
      this.socket = null;
      socket.disconnect();
      return;
    }
    let reply: Ack<HelloAccepted>;
    try {
      reply = await socket.timeout(this.config.ackTimeoutMs).emitWithAck('hello', hello.hello);
    } catch (error) {
      // Not a crash (an unhandled rejection would end the process): the coordinator closes an unauthenticated connection, and the client reconnects.
      this.log(`${this.config.clientName}: hello not acknowledged: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const latest = this.core.helloReplied(reply);
    if (latest) this.enqueue(() => this.core.loadStudent(latest));
  }
}
