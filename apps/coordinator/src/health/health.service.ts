import { Injectable } from '@nestjs/common';
import * as tf from '@tensorflow/tfjs';

export interface HealthReport {
  status: 'ok';
  backend: string;
  uptimeSeconds: number;
}

@Injectable()
export class HealthService {
  private readonly startedAt = Date.now();

  report(): HealthReport {
    return { status: 'ok', backend: tf.getBackend(), uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) };
  }
}
