import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Logger, type Provider } from '@nestjs/common';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';
import { isPostgresUrl } from '../persistence/sql-dialect';
import { LeaderElection, PostgresLease } from './leader-lease';

/**
 * Who runs rounds (DESIGN.md, scale-out): exactly one coordinator process at a time. The others
 * serve sockets, REST and the dashboard, and forward their clients' round messages to it.
 */
export interface Leadership {
  /** This process's name among the replicas (host, pid and a random suffix). */
  readonly replicaId: string;
  /** Whether other processes may lead the same federation (replicas on one PostgreSQL database). */
  readonly shared: boolean;
  /** Whether this process leads rounds now. */
  readonly leading: boolean;
  /**
   * Calls `elected` whenever this process starts leading (at once if it already does) and
   * `deposed` when it stops; returns a function that unsubscribes.
   */
  follow(listener: { elected(): void; deposed(reason: string): void }): () => void;
  /** Starts taking part (a sole coordinator leads from here on). */
  start(): void;
  /** Stops taking part; a leader gives its lease up so that another replica takes over at once. */
  stop(): Promise<void>;
}

type Listener = Parameters<Leadership['follow']>[0];

function newReplicaId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** One coordinator (a SQLite file, or PostgreSQL without replicas): it always leads. */
export class SoleLeadership implements Leadership {
  readonly replicaId = newReplicaId();
  readonly shared = false;
  private started = false;
  private readonly listeners = new Set<Listener>();

  get leading(): boolean {
    return this.started;
  }

  follow(listener: Listener): () => void {
    this.listeners.add(listener);
    if (this.started) listener.elected();
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const l of this.listeners) l.elected();
  }

  async stop(): Promise<void> {
    this.started = false;
  }
}

/** Replicas on PostgreSQL: the one holding the lease (leader-lease.ts) leads. */
export class LeaseLeadership implements Leadership {
  readonly replicaId = newReplicaId();
  readonly shared = true;
  private readonly logger = new Logger('Leadership');
  private readonly listeners = new Set<Listener>();
  private readonly election: LeaderElection;

  constructor(
    private readonly lease: PostgresLease,
    leaseMs: number,
  ) {
    this.election = new LeaderElection(lease, this.replicaId, leaseMs, {
      elected: (term) => {
        this.logger.log(`replica ${this.replicaId} leads rounds (term ${term})`);
        for (const l of this.listeners) l.elected();
      },
      deposed: (reason) => {
        this.logger.warn(`replica ${this.replicaId} no longer leads rounds: ${reason}`);
        for (const l of this.listeners) l.deposed(reason);
      },
    });
  }

  get leading(): boolean {
    return this.election.leading;
  }

  follow(listener: Listener): () => void {
    this.listeners.add(listener);
    if (this.leading) listener.elected();
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.election.start();
  }

  async stop(): Promise<void> {
    await this.election.stop();
    await this.lease.close();
  }
}

/** Injection token of the coordinator's Leadership. */
export const LEADERSHIP = Symbol('fedkd.coordinator.leadership');
/** Injection token of the ReplicaRole that GET /health reads. */
export const REPLICA_ROLE = Symbol('fedkd.coordinator.replica-role');

/** This process's role as GET /health reports it, filled in once the Leadership exists. */
export class ReplicaRole {
  leadership: Leadership | null = null;

  status(): { id: string; leading: boolean } | null {
    return this.leadership ? { id: this.leadership.replicaId, leading: this.leadership.leading } : null;
  }
}

/** A lease in PostgreSQL when the database is PostgreSQL (replicas possible); otherwise a sole coordinator. */
export const leadershipProvider: Provider = {
  provide: LEADERSHIP,
  inject: [CONFIG, REPLICA_ROLE],
  useFactory: async (config: CoordinatorConfig, role: ReplicaRole): Promise<Leadership> => {
    if (!isPostgresUrl(config.databasePath)) {
      if (config.redisUrl) new Logger('Leadership').warn('--redis-url with a SQLite --db: this process runs its own rounds on its own file and shares only broadcasts; replicas of one federation need a postgres:// --db');
      return (role.leadership = new SoleLeadership());
    }
    const lease = await PostgresLease.open(config.databasePath, { timeoutMs: Math.max(1_000, Math.floor(config.leaderLeaseMs / 2)) });
    return (role.leadership = new LeaseLeadership(lease, config.leaderLeaseMs));
  },
};
