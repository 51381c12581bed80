import { Inject, Injectable, Optional } from '@nestjs/common';
import * as tf from '@tensorflow/tfjs';
import type { ConnectionStatus } from '../transport/connection-admission';

/** Injection token of what reports the coordinator's connections (absent when health runs alone). */
export const CONNECTION_STATUS = Symbol('fedkd.coordinator.connection-status');

export interface ConnectionStatusSource {
  status(): ConnectionStatus;
}

export interface HealthReport {
  status: 'ok';
  backend: string;
  uptimeSeconds: number;
  /** Open socket connections and refusals by reason (since start-up). */
  connections?: ConnectionStatus;
}

@Injectable()
export class HealthService {
  private readonly startedAt = Date.now();

  constructor(@Optional() @Inject(CONNECTION_STATUS) private readonly connections?: ConnectionStatusSource) {}

  report(): HealthReport {
    return {
      status: 'ok',
      backend: tf.getBackend(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      ...(this.connections ? { connections: this.connections.status() } : {}),
    };
  }
}
