/**
 * Worker thread entry: trains one round's student off the coordinator's event loop, so heartbeats
 * and new connections are answered while it trains. Messages: progress per epoch, then a result or
 * an error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '@fedkd/engine';
import { trainStudentForRound, type StudentJob } from './student-round';

export type WorkerMessage =
  | { type: 'epoch'; epoch: number; epochs: number; loss: number }
  | { type: 'done'; result: Awaited<ReturnType<typeof trainStudentForRound>> }
  | { type: 'error'; message: string };

async function run(): Promise<void> {
  const port = parentPort!;
  try {
    await initBackend({ log: () => undefined });
    const result = await trainStudentForRound(workerData as StudentJob, (p) =>
      port.postMessage({ type: 'epoch', epoch: p.epoch, epochs: p.epochs, loss: p.trainLoss } satisfies WorkerMessage),
    );
    port.postMessage({ type: 'done', result } satisfies WorkerMessage);
  } catch (error) {
    port.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) } satisfies WorkerMessage);
  }
}

void run();
