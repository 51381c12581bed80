/**
 * Worker thread entry: trains one round's student, or makes a student-guided round's inputs, off
 * the coordinator's event loop, so heartbeats and new connections are answered meanwhile.
 * Messages: progress per epoch, then a result or an error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '@fedkd/engine';
import { trainStudentForRound, type StudentJob, type StudentResult } from './student-round';
import { makeGuidedInputs, type GuidedInputsJob, type GuidedInputsResult } from './guided-inputs';

export type WorkerMessage =
  | { type: 'epoch'; epoch: number; epochs: number; loss: number }
  | { type: 'done'; result: StudentResult | GuidedInputsResult }
  | { type: 'error'; message: string };

async function run(): Promise<void> {
  const port = parentPort!;
  try {
    await initBackend({ log: () => undefined });
    const job = workerData as StudentJob | GuidedInputsJob;
    const result =
      'kind' in job && job.kind === 'guided-inputs'
        ? await makeGuidedInputs(job)
        : await trainStudentForRound(job as StudentJob, (p) => port.postMessage({ type: 'epoch', epoch: p.epoch, epochs: p.epochs, loss: p.trainLoss } satisfies WorkerMessage));
    port.postMessage({ type: 'done', result } satisfies WorkerMessage);
  } catch (error) {
    port.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) } satisfies WorkerMessage);
  }
}

void run();
