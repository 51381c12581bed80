import { Injectable } from '@nestjs/common';
import { resolve } from 'node:path';
import { compiledScript } from '@fedkd/command-line';
import { Worker } from 'node:worker_threads';
import type { StudentJob, StudentResult } from './student-round';
import type { GuidedInputsJob, GuidedInputsResult } from './guided-inputs';
import type { WorkerMessage } from './student-training.worker';

/** The worker runs compiled JavaScript: beside this file when built, from dist/ under vitest. */
function workerScript(): string {
  return compiledScript(__dirname, 'student-training.worker.js', resolve(__dirname, '../../../../dist/apps/coordinator/src/training'), 'student training worker');
}

@Injectable()
export class StudentTrainerService {
  /** Trains in a fresh worker thread; rejects with the worker's reason if it fails. */
  async train(job: StudentJob, onEpoch?: (epoch: number, epochs: number, loss: number) => void): Promise<StudentResult> {
    const result = (await this.run(job, 'student training', onEpoch)) as StudentResult;
    return { ...result, blob: new Uint8Array(result.blob) };
  }

  /** Makes a student-guided round's inputs in a fresh worker thread (the generator trains against the students there). */
  async makeGuidedInputs(job: GuidedInputsJob): Promise<GuidedInputsResult> {
    return (await this.run(job, 'student-guided generator')) as GuidedInputsResult;
  }

  private run(job: StudentJob | GuidedInputsJob, what: string, onEpoch?: (epoch: number, epochs: number, loss: number) => void): Promise<StudentResult | GuidedInputsResult> {
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
        else if (message.type === 'done') settle(() => resolvePromise(message.result));
        else settle(() => reject(new Error(`${what} failed: ${message.message}`)));
      });
      worker.on('error', (error) => settle(() => reject(new Error(`${what} worker crashed: ${error.message}`))));
      worker.on('exit', (code) => settle(() => reject(new Error(`${what} worker exited with code ${code}`))));
    });
  }
}
