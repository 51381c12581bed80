import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';
import { FederationEvents, type FederationEvent } from '../events/federation-events';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { clientPrivacy, reportingDelta } from '../privacy/privacy-report';
import { CONNECTION_ADMISSION, type ConnectionAdmission, type RefusalKind } from '../transport/connection-admission';

/** The phases whose durations a round's `timings` report (`<phase>Ms`), in the order they run. */
export const ROUND_PHASES = ['generate', 'open', 'collect', 'aggregate', 'train', 'evaluate', 'publish', 'round'] as const;

/** Seconds: from a quick aggregation to a long training or a slow collection (deadlines are minutes). */
const PHASE_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

const REFUSAL_REASONS: Record<RefusalKind, string> = {
  perAddress: 'per_address',
  unauthenticated: 'unauthenticated',
  preAuthMessageTooLarge: 'pre_auth_message_too_large',
  helloTimeout: 'hello_timeout',
};

/**
 * The coordinator's Prometheus metrics (GET /metrics), in a registry of its own (several
 * coordinators may share a process: the tests). Counters and histograms follow the event bus;
 * what the database or the connection bookkeeping already knows (privacy spent, the latest
 * student, refused connections) is read when scraped.
 */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  readonly registry = new Registry();
  private readonly unsubscribe: () => void;
  private readonly rounds: Counter<'outcome'>;
  private readonly phaseSeconds: Histogram<'phase'>;
  private readonly bytesReceived: Counter;
  private readonly bytesSent: Counter;
  private readonly clientsConnected: Gauge;
  private readonly refused: Counter<'code'>;
  private readonly rateLimited: Counter;

  constructor(
    events: FederationEvents,
    @Inject(DATABASE) db: CoordinatorDatabase,
    @Inject(CONFIG) config: CoordinatorConfig,
    @Inject(CONNECTION_ADMISSION) admission: ConnectionAdmission,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'fedkd_' });
    this.rounds = new Counter({ name: 'fedkd_rounds_total', help: 'Rounds ended since the coordinator started, by outcome (published or failed).', labelNames: ['outcome'], registers });
    for (const outcome of ['published', 'failed']) this.rounds.inc({ outcome }, 0);
    this.phaseSeconds = new Histogram({
      name: 'fedkd_round_phase_duration_seconds',
      help: `Duration of each phase of the rounds ended since the coordinator started, in seconds (phase: ${ROUND_PHASES.join(', ')}; round is the whole round).`,
      labelNames: ['phase'],
      buckets: PHASE_BUCKETS,
      registers,
    });
    this.bytesReceived = new Counter({ name: 'fedkd_round_bytes_received_total', help: "Bytes of the clients' answers received in rounds (uploads).", registers });
    this.bytesSent = new Counter({ name: 'fedkd_round_bytes_sent_total', help: 'Bytes sent to clients in rounds: questions and published students (downloads).', registers });
    this.clientsConnected = new Gauge({ name: 'fedkd_clients_connected', help: 'Clients connected with a valid hello.', registers });
    this.refused = new Counter({ name: 'fedkd_messages_refused_total', help: "Clients' socket messages refused, by error code (RATE_LIMITED, UNAUTHENTICATED, BAD_SIGNATURE...).", labelNames: ['code'], registers });
    this.rateLimited = new Counter({ name: 'fedkd_messages_rate_limited_total', help: "Clients' socket messages refused for exceeding the per-connection rate limit (--rate-limit, --rate-limit-burst).", registers });

    new Gauge({
      name: 'fedkd_student_test_accuracy',
      help: 'Test accuracy of the latest published student on the evaluation set (absent: none published yet, or no evaluation set).',
      registers,
      async collect() {
        setOrRemove(this, await latestMetric(db, 'testAccuracy'));
      },
    });
    new Gauge({
      name: 'fedkd_student_agreement',
      help: "Agreement of the latest published student with its round's aggregated targets (absent: none published yet).",
      registers,
      async collect() {
        setOrRemove(this, await latestMetric(db, 'agreement'));
      },
    });
    new Gauge({
      name: 'fedkd_student_version',
      help: 'Version of the latest published student (0: none yet).',
      registers,
      async collect() {
        this.set((await db.models.latest())?.version ?? 0);
      },
    });
    const delta = reportingDelta(config.privacy);
    new Gauge({
      name: 'fedkd_client_epsilon',
      help: `Privacy spent by each client that answered private rounds: cumulative epsilon at delta ${delta} (RDP, classic conversion), as the coordinator accounts it from its stored privacy curves.`,
      labelNames: ['client_id', 'client'],
      registers,
      async collect() {
        this.reset();
        // The same accounting as GET /clients and the dashboard.
        for (const client of await db.clients.list()) {
          const privacy = await clientPrivacy(db, client.id, delta);
          if (privacy.privateRounds > 0) this.set({ client_id: client.id, client: client.name }, privacy.epsilon);
        }
      },
    });
    new Counter({
      name: 'fedkd_connections_refused_total',
      help: 'Socket connections refused or closed before a valid hello, by reason (per_address, unauthenticated: over the connection caps; pre_auth_message_too_large; hello_timeout).',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        const refused = admission.status().refused;
        for (const [kind, reason] of Object.entries(REFUSAL_REASONS)) this.inc({ reason }, refused[kind as RefusalKind]);
      },
    });
    new Gauge({
      name: 'fedkd_connections_open',
      help: 'Open socket connections, with or without a valid hello.',
      registers,
      collect() {
        this.set(admission.status().open);
      },
    });
    new Gauge({
      name: 'fedkd_connections_unauthenticated',
      help: 'Open socket connections still waiting for their valid hello.',
      registers,
      collect() {
        this.set(admission.status().unauthenticated);
      },
    });

    this.unsubscribe = events.subscribe((event) => this.observe(event));
  }

  /** The registry in Prometheus's text format. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  private observe(event: FederationEvent): void {
    switch (event.type) {
      case 'round.ended':
        this.rounds.inc({ outcome: event.state });
        for (const phase of ROUND_PHASES) {
          const ms = event.timings[`${phase}Ms`];
          if (typeof ms === 'number' && Number.isFinite(ms)) this.phaseSeconds.observe({ phase }, ms / 1000);
        }
        this.bytesReceived.inc(event.bytesUp);
        this.bytesSent.inc(event.bytesDown);
        break;
      case 'client.connected':
      case 'client.disconnected':
        this.clientsConnected.set(event.connected);
        break;
      case 'message.refused':
        this.refused.inc({ code: event.code });
        if (event.code === 'RATE_LIMITED') this.rateLimited.inc();
        break;
    }
  }
}

/** A metric of the latest published student, or null. */
async function latestMetric(db: CoordinatorDatabase, name: 'testAccuracy' | 'agreement'): Promise<number | null> {
  const value = (await db.models.latest())?.metrics[name];
  return typeof value === 'number' ? value : null;
}

/** An unlabelled gauge's value, or no sample at all (rather than a 0 or a NaN that could be taken for a measurement). */
function setOrRemove(gauge: Gauge, value: number | null): void {
  if (value === null) gauge.remove();
  else gauge.set(value);
}
