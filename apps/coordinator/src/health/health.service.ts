import { Inject, Injectable, Optional } from '@nestjs/common';
import * as tf from '@tensorflow/tfjs';
import type { ConnectionStatus } from '../transport/connection-admission';

/** Injection token of what reports the coordinator's connections (absent when health runs alone). */
export const CONNECTION_STATUS = Symbol('fedkd.coordinator.connection-status');
/** Injection token of what says whether this process leads rounds (absent when health runs alone). */
export const REPLICA_STATUS = Symbol('fedkd.coordinator.replica-status');

export interface ConnectionStatusSource {
  status(): ConnectionStatus;
}

/** This coordinator process among its replicas. */
export interface ReplicaStatus {
  /** Host, pid and a random suffix. */
  id: string;
  /** Whether it runs the rounds now (a sole coordinator always does, once started). */
  leading: boolean;
}

export interface ReplicaStatusSource {
  status(): ReplicaStatus | null;
}

export interface HealthReport {
  status: 'ok';
  backend: string;
  uptimeSeconds: number;
  /** Open socket connections and refusals by reason (since start-up). */
  connections?: ConnectionStatus;
  /** Which replica answered, and whether it leads the rounds. */
  replica?: ReplicaStatus;
}

@Injectable()
export class HealthService {
  private readonly startedAt = Date.now();

  constructor(
    @Optional() @Inject(CONNECTION_STATUS) private readonly connections?: ConnectionStatusSource,
    @Optional() @Inject(REPLICA_STATUS) private readonly replica?: ReplicaStatusSource,
  ) {}

  report(): HealthReport {
    return {
      status: 'ok',
      backend: tf.getBackend(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      ...(this.connections ? { connections: this.connections.status() } : {}),
      ...(this.replica?.status() ? { replica: this.replica.status()! } : {}),
    };
  }
}
