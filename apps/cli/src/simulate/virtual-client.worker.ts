/**
 * A worker process of the virtual-client pool (`fedkd simulate --transport memory`): it runs the
 * same client core as a deployed edge client for the clients it is handed, one at a time. A client
 * is materialised only when it has something to do (a challenge, a round, a secure-aggregation
 * step): its state (key, teacher weights, query count, privacy ledger, registration) is read from
 * the store, the frames are handled, and the state is written back before the client is dropped
 * (kept alive only while a secure-aggregation round still needs it). Teachers train on first use.
 * Frames are socket.io packets as on the wire (wire-frames.ts); acknowledgements come back the
 * same way.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClientCore, type ClientEvent, type CoordinatorLink } from '@fedkd/client';
import { createPartitioner, loadEmbeddedPart, MNIST_TASK, subset, type Dataset, type EmbeddedDatasetName, type PartitionerSpec } from '@fedkd/data';
import { initBackend, zooModelSpec, type ZooModelName } from '@fedkd/engine';
import { loadClientIdentity } from '@fedkd/privacy';
import type { Ack } from '@fedkd/protocol';
import { applyAttack, type AttackName } from '@fedkd/distill';
import { decodeFrame, encodeEvent, eventOf, type WireFrame } from './wire-frames';

/** What every virtual client of a simulation shares (sent once when the worker starts). */
export interface VirtualFederationSpec {
  dataset: EmbeddedDatasetName;
  clients: number;
  partition: PartitionerSpec;
  seed: number;
  teacher: ZooModelName;
  epochs: number;
  shareSampleCount: boolean;
  teachersPerClient: number;
  epsilonMax: number;
  queryBudget: number | null;
  coordinatorPublicKey: Uint8Array;
  /** Where each client's state lives between rounds (client-<i>/). */
  storeDir: string;
  /** One-time enrolment tokens, by client index (presented at the first hello only). */
  tokens: string[];
  /** Report each teacher's accuracy on the embedded test split when it is first trained (small simulations). */
  localOnlyReference: boolean;
  /** `--attackers`: which clients answer adversarially, and how (null: every client is honest). */
  attack: { name: AttackName; attackers: number[] } | null;
}

export type PoolRequest =
  | { type: 'init'; spec: VirtualFederationSpec }
  | { type: 'deliver'; job: number; client: number; frames: WireFrame[] }
  | { type: 'ack'; id: number; frame: WireFrame };

export type PoolReply =
  | { type: 'ready' }
  | { type: 'emit'; client: number; id: number; frame: WireFrame }
  | { type: 'event'; client: number; event: ClientEvent }
  /** A job handled; `released`: the client's state went back to the store (it holds nothing in this worker). */
  | { type: 'done'; job: number; client: number; released: boolean; error?: string }
  | { type: 'log'; line: string };

interface StoredState {
  clientId: string | null;
  queriesAnswered: number;
  /** The coverage selector's set sizes (its weights are in selector.fkdw). */
  selector?: { ownCount: number; referenceCount: number };
}

let spec: VirtualFederationSpec;
let parts: Int32Array[] | null = null;
let pool: Dataset | null = null;
const alive = new Map<number, ClientCore>();
const pendingAcks = new Map<number, (frame: WireFrame) => void>();
let nextAckId = 1;
let queue: Promise<void> = Promise.resolve();

function post(message: PoolReply): void {
  process.send!(message);
}

/** This client's share of the embedded private pool (the partition is computed once per worker). */
function privateData(index: number): Dataset {
  pool ??= loadEmbeddedPart(spec.dataset, 'private', spec.seed);
  parts ??= createPartitioner(spec.partition).partition(pool.labels, spec.clients, spec.seed).clients;
  return subset(pool, parts[index]);
}

function clientDir(index: number): string {
  return join(spec.storeDir, `client-${index}`);
}

function readState(index: number): StoredState {
  const file = join(clientDir(index), 'state.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StoredState) : { clientId: null, queriesAnswered: 0 };
}

async function materialise(index: number): Promise<ClientCore> {
  const existing = alive.get(index);
  if (existing) return existing;
  const dir = clientDir(index);
  mkdirSync(dir, { recursive: true });
  const name = `client-${index}`;
  const stored = readState(index);
  const attacker = spec.attack?.attackers.includes(index) ? spec.attack : null;
  // A sybil identity answers with the one sybil attacker's teacher (its data and seed), then the same crafted matrix.
  const dataIndex = attacker?.name === 'sybil' ? attacker.attackers[0] : index;
  const core = new ClientCore(
    {
      clientName: name,
      clientIndex: dataIndex,
      clients: spec.clients,
      partition: spec.partition,
      seed: spec.seed,
      dataset: spec.dataset,
      task: MNIST_TASK,
      model: zooModelSpec(spec.teacher, MNIST_TASK.input.shape, MNIST_TASK.classes.length),
      epochs: spec.epochs,
      shareSampleCount: spec.shareSampleCount,
      loadPrivateData: spec.localOnlyReference ? undefined : () => privateData(dataIndex),
      localOnlyReference: spec.localOnlyReference,
      identity: loadClientIdentity(join(dir, `${name}.key`), name, true),
      coordinatorPublicKey: spec.coordinatorPublicKey,
      enrolmentToken: stored.clientId ? undefined : spec.tokens[index],
      teachersPerClient: spec.teachersPerClient,
      epsilonMax: spec.epsilonMax,
      ledgerPath: join(dir, 'ledger.json'),
      queryBudget: spec.queryBudget,
      // An attacker: an enrolled, correctly signing client whose teacher's answers are rewritten before they are protected.
      answerTransform: attacker ? (predictions, shape, round) => applyAttack(attacker.name, predictions, shape, { seed: spec.seed, round }) : undefined,
    },
    (event) => post({ type: 'event', client: index, event }),
    (line) => post({ type: 'log', line }),
  );
  await core.loadData();
  const teacherFile = join(dir, 'teacher.fkdw');
  const selectorFile = join(dir, 'selector.fkdw');
  const selector = existsSync(selectorFile) && stored.selector ? { blob: new Uint8Array(readFileSync(selectorFile)), ...stored.selector } : null;
  await core.importState({ teacher: existsSync(teacherFile) ? new Uint8Array(readFileSync(teacherFile)) : null, queriesAnswered: stored.queriesAnswered, selector });
  if (stored.clientId) core.resume(stored.clientId, { silent: true });
  alive.set(index, core);
  return core;
}

/** Writes the client's state back (teacher weights exactly, float32) and drops it from memory. */
function release(index: number, core: ClientCore): void {
  const dir = clientDir(index);
  const state = core.exportState();
  if (state.teacher) writeFileSync(join(dir, 'teacher.fkdw'), state.teacher);
  if (state.selector) writeFileSync(join(dir, 'selector.fkdw'), state.selector.blob);
  const selector = state.selector ? { ownCount: state.selector.ownCount, referenceCount: state.selector.referenceCount } : undefined;
  writeFileSync(join(dir, 'state.json'), JSON.stringify({ clientId: core.registeredId, queriesAnswered: state.queriesAnswered, ...(selector ? { selector } : {}) } satisfies StoredState));
  core.dispose();
  alive.delete(index);
}

/** The client's messages go to the coordinator as wire frames; its acknowledgements come back as frames. */
function linkFor(index: number): CoordinatorLink {
  return {
    send: (event, message) =>
      new Promise((resolve) => {
        const id = nextAckId++;
        pendingAcks.set(id, (frame) => resolve((decodeFrame(frame).data as unknown[])[0] as never));
        post({ type: 'emit', client: index, id, frame: encodeEvent(event, message, id) });
      }),
  };
}

async function handle(job: number, index: number, frames: WireFrame[]): Promise<void> {
  try {
    const core = await materialise(index);
    const link = linkFor(index);
    for (const frame of frames) {
      const { event, payload } = eventOf(decodeFrame(frame));
      if (event === 'auth.challenge') {
        const hello = core.helloFor(payload as never);
        if (!hello.ok) continue;
        const latest = core.helloReplied((await link.send('hello', hello.hello)) as Ack<never>);
        if (latest) await core.loadStudent(latest);
      } else if (event === 'model.published') await core.loadStudent(payload);
      else if (event === 'round.open') await core.answerRound(payload, link);
      else if (event === 'secagg') await core.continueSecureRound(payload, link);
    }
    const released = !core.inSecureRound;
    if (released) release(index, core);
    post({ type: 'done', job, client: index, released });
  } catch (error) {
    const core = alive.get(index);
    if (core) release(index, core);
    post({ type: 'done', job, client: index, released: true, error: error instanceof Error ? error.message : String(error) });
  }
}

process.on('message', (message: PoolRequest) => {
  if (message.type === 'init') {
    spec = message.spec;
    void initBackend({ log: () => undefined }).then(() => post({ type: 'ready' }));
  } else if (message.type === 'ack') {
    const resolve = pendingAcks.get(message.id);
    pendingAcks.delete(message.id);
    resolve?.(message.frame);
  } else if (message.type === 'deliver') {
    // One client at a time, in arrival order (TensorFlow.js is single-threaded in a process).
    queue = queue.then(() => handle(message.job, message.client, message.frames));
  }
});

// The pool closes the channel to stop this worker.
process.on('disconnect', () => process.exit(0));
