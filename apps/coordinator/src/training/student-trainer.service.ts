import { Injectable } from '@nestjs/common';
import { resolve } from 'node:path';
import { compiledScript } from '@fedkd/command-line';
import { Worker } from 'node:worker_threads';
import type { StudentJob, StudentResult } from './student-round';
import type { WorkerMessage } from './student-training.worker';

/** The worker runs compiled JavaScript: beside this file when built, from dist/ under vitest. */
function workerScript(): string {
  return compiledScript(__dirname, 'student-training.worker.js', resolve(__dirname, '../../../../dist/apps/coordinator/src/training'), 'student training worker');
}

@Injectable()
export class StudentTrainerService {
  /** Trains in a fresh worker thread; rejects with the worker's reason if it fails. */
  train(job: StudentJob, onEpoch?: (epoch: number, epochs: number, loss: number) => void): Promise<StudentResult> {
    return new Promise((resolvePromise, reject) => {
      const worker = new Worker(workerScript(), { workerData: job });
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        fn();
        void worker.terminate();
      };
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'epoch') onEpoch?.(message.epoch, message.epochs, message.loss);
        else if (message.type === 'done') settle(() => resolvePromise({ ...message.result, blob: new Uint8Array(message.result.blob) }));
        else settle(() => reject(new Error(`student training failed: ${message.message}`)));
      });
      worker.on('error', (error) => settle(() => reject(new Error(`student training worker crashed: ${error.message}`))));
      worker.on('exit', (code) => settle(() => reject(new Error(`student training worker exited with code ${code}`))));
    });
  }
}
