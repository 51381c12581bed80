import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { compiledScript } from '@fedkd/command-line';
import type { ClientEvent } from '@fedkd/client';
import type { PoolReply, PoolRequest, VirtualFederationSpec } from './virtual-client.worker';
import { decodeFrame, encodeAck, eventOf, frameBytes, type WireFrame } from './wire-frames';

/** The worker runs compiled JavaScript: beside this file when built, from dist/ under vitest. */
function workerScript(): string {
  return compiledScript(__dirname, 'virtual-client.worker.js', resolve(__dirname, '../../../../dist/apps/cli/src/simulate'), 'virtual client worker');
}

/** What the pool reports per handled job: which client, and any failure (clients report their own compute time in their events). */
export interface JobDone {
  client: number;
  error?: string;
}

export interface PoolHandlers {
  /** A client's event for the coordinator: its acknowledgement (computed synchronously, as the endpoint does). */
  /** The coordinator's acknowledgement of a client's event (the endpoint may look things up in its database first). */
  onEmit(client: number, event: string, payload: unknown): Promise<unknown>;
  onEvent(client: number, event: ClientEvent): void;
  onDone(done: JobDone): void;
  onLog(line: string): void;
}

/**
 * A pool of worker processes that run virtual clients (`--workers N`, one TensorFlow.js backend
 * each: wasm is single-threaded in a process, so processes are what use the cores). Jobs wait in
 * one queue and a worker is handed the next one when it has finished its last (clients' jobs
 * differ in cost, e.g. a first round trains a teacher on anything from 60 to 2,000 digits, so
 * dividing them up front leaves one worker idle while the other still has a queue). A client's
 * jobs run in order, on the worker that holds it while it is materialised there (a
 * secure-aggregation round in progress) or still has one of its jobs.
 */
export class VirtualClientPool {
  private readonly workers: ChildProcess[] = [];
  private nextJob = 1;
  private readonly pending = new Set<number>();
  /** Jobs not yet handed to a worker, in delivery order. */
  private readonly waiting: { job: number; client: number; frames: WireFrame[] }[] = [];
  /** Whether each worker is running a job, and which worker holds a client that is still materialised or has a job there. */
  private readonly busy: boolean[] = [];
  private readonly holder = new Map<number, number>();
  private readonly outstanding = new Map<number, number>();
  private idleWaiters: (() => void)[] = [];
  /** Bytes of the frames sent to clients and received from them (what sockets would have carried). */
  readonly bytes = { down: 0, up: 0 };

  constructor(
    private readonly size: number,
    private readonly spec: VirtualFederationSpec,
    private readonly handlers: PoolHandlers,
  ) {}

  async start(): Promise<void> {
    const script = workerScript();
    await Promise.all(
      Array.from({ length: this.size }, () => {
        const worker = fork(script, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        this.workers.push(worker);
        this.busy.push(false);
        return new Promise<void>((resolveReady, reject) => {
          worker.once('exit', (code) => reject(new Error(`a virtual client worker exited with code ${code}`)));
          worker.on('message', (message: PoolReply) => {
            if (message.type === 'ready') resolveReady();
            else this.receive(worker, message);
          });
          worker.send({ type: 'init', spec: this.spec } satisfies PoolRequest);
        });
      }),
    );
  }

  /** Queues server-to-client frames for the client, to be handled in order by a worker. */
  deliver(client: number, frames: WireFrame[]): void {
    const job = this.nextJob++;
    this.pending.add(job);
    for (const frame of frames) this.bytes.down += frameBytes(frame);
    this.outstanding.set(client, (this.outstanding.get(client) ?? 0) + 1);
    this.waiting.push({ job, client, frames });
    this.dispatch();
  }

  /**
   * Hands waiting jobs to idle workers, oldest first: a held client's job only to its worker, any
   * other to the first idle one. A client's later job never overtakes its earlier one.
   */
  private dispatch(): void {
    const passed = new Set<number>();
    for (let k = 0; k < this.waiting.length && this.busy.includes(false); ) {
      const { job, client, frames } = this.waiting[k];
      const held = this.holder.get(client);
      const index = held ?? this.busy.indexOf(false);
      if (passed.has(client) || this.busy[index]) {
        passed.add(client);
        k++;
        continue;
      }
      this.waiting.splice(k, 1);
      this.holder.set(client, index);
      this.busy[index] = true;
      this.workers[index].send({ type: 'deliver', job, client, frames } satisfies PoolRequest);
    }
  }

  /** Resolves when every delivered job has been handled. */
  idle(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolveIdle) => this.idleWaiters.push(resolveIdle));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (worker) =>
          new Promise<void>((resolveExit) => {
            if (worker.exitCode !== null || worker.signalCode !== null) return resolveExit();
            worker.removeAllListeners('exit');
            // Closing the channel lets the worker exit by itself (flushing what node writes at exit,
            // e.g. --cpu-prof); one that does not within 5 s is terminated.
            const force = setTimeout(() => worker.kill('SIGTERM'), 5_000);
            worker.once('exit', () => {
              clearTimeout(force);
              resolveExit();
            });
            if (worker.connected) worker.disconnect();
            else worker.kill('SIGTERM');
          }),
      ),
    );
  }

  private receive(worker: ChildProcess, message: PoolReply): void {
    if (message.type === 'emit') {
      this.bytes.up += frameBytes(message.frame);
      const packet = decodeFrame(message.frame);
      const { event, payload } = eventOf(packet);
      void this.handlers.onEmit(message.client, event, payload).then((answer) => {
        const ack = encodeAck(packet.id!, answer);
        this.bytes.down += frameBytes(ack);
        if (worker.connected) worker.send({ type: 'ack', id: message.id, frame: ack } satisfies PoolRequest);
      });
    } else if (message.type === 'event') this.handlers.onEvent(message.client, message.event);
    else if (message.type === 'log') this.handlers.onLog(message.line);
    else if (message.type === 'done') {
      this.pending.delete(message.job);
      this.busy[this.workers.indexOf(worker)] = false;
      const left = this.outstanding.get(message.client)! - 1;
      this.outstanding.set(message.client, left);
      // A client stays with its worker while that worker still holds it or has more of its jobs queued.
      if (message.released && left === 0) {
        this.holder.delete(message.client);
        this.outstanding.delete(message.client);
      }
      this.handlers.onDone({ client: message.client, error: message.error });
      this.dispatch();
      if (this.pending.size === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }
}
