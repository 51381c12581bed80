import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';
import { FederationEvents } from '../events/federation-events';
import { FEDERATION, type FederationSetup } from '../federation/federation-setup';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { isTerminalRoundState, type RoundParticipant, type RoundRecord } from '../persistence/rounds.repository';
import type { ClientRecord } from '../persistence/clients.repository';
import { clientPrivacy, reportingDelta } from '../privacy/privacy-report';
import { GRID, type Grid } from '../transport/grid';
import type { DashboardClient, DashboardRound, DashboardSnapshot } from './dashboard-protocol';

/** Rounds a snapshot carries (the chart and the timeline); older ones stay in GET /rounds. */
export const DASHBOARD_ROUNDS = 500;
/** Of those, the newest rounds whose participants are read (for the clients' last answers). */
const PARTICIPANT_ROUNDS = 50;

/**
 * The dashboard's view of the federation, built from the repositories and the grid: read only.
 * It also counts the messages the coordinator refused (from the event bus: they are not stored),
 * per client name and code, since the coordinator started.
 */
@Injectable()
export class DashboardService implements OnModuleDestroy {
  private readonly refusalsByName = new Map<string, Record<string, number>>();
  private readonly refusals: Record<string, number> = {};
  private readonly unsubscribe: () => void;

  constructor(
    @Inject(CONFIG) private readonly config: CoordinatorConfig,
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    @Inject(GRID) private readonly grid: Grid,
    @Inject(FEDERATION) private readonly federation: FederationSetup,
    events: FederationEvents,
  ) {
    this.unsubscribe = events.subscribe((event) => {
      if (event.type !== 'message.refused') return;
      const byCode = this.refusalsByName.get(event.clientName) ?? {};
      byCode[event.code] = (byCode[event.code] ?? 0) + 1;
      this.refusalsByName.set(event.clientName, byCode);
      this.refusals[event.code] = (this.refusals[event.code] ?? 0) + 1;
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  async snapshot(): Promise<DashboardSnapshot> {
    const records = await this.db.rounds.list({ limit: DASHBOARD_ROUNDS, offset: 0 });
    const participants = new Map<number, RoundParticipant[]>();
    for (const record of records.slice(0, PARTICIPANT_ROUNDS)) participants.set(record.number, (await this.db.rounds.get(record.number))?.participants ?? []);
    const stored = await this.db.models.list();
    const modelsByRound = new Map(stored.map((m) => [m.round, m]));
    const rounds = records.map((r) => roundOf(r, participants.get(r.number), modelsByRound.get(r.number)?.version ?? null)).reverse();
    const connected = new Set(this.grid.connectedClients().map((c) => c.clientId));
    const identities = await this.db.identities.list();
    const enrolled = new Set(identities.filter((i) => i.revokedAt === null).map((i) => i.clientName));
    const current = records.find((r) => !isTerminalRoundState(r.state));
    const models = stored.map((m) => {
      const metrics = m.metrics as { testAccuracy?: unknown; agreement?: unknown };
      return { version: m.version, round: m.round, sha256: m.sha256, byteLength: m.byteLength, testAccuracy: numberOrNull(metrics.testAccuracy), agreement: numberOrNull(metrics.agreement), createdAt: m.createdAt };
    });
    const task = this.federation.task;
    const known = await this.db.clients.list();
    return {
      at: Date.now(),
      federation: {
        task: { name: task.name, classes: task.classes.length, sha256: this.federation.taskSha256, source: this.federation.taskSource },
        proxy: { kind: this.config.proxy, generator: this.config.proxy === 'synthetic' ? this.config.generator : null, size: this.config.proxySize },
        metric: this.federation.evaluation ? 'testAccuracy' : 'agreement',
        minClients: this.config.minClients,
        connected: connected.size,
        enrolled: enrolled.size,
        known: known.length,
        currentRound: current ? { number: current.number, phase: current.state } : null,
        roundsTotal: await this.db.rounds.count(),
        latestModelVersion: models[0]?.version ?? null,
        refusals: { ...this.refusals },
      },
      rounds,
      clients: await this.clients(known, connected, enrolled, participants),
      models,
    };
  }

  private async clients(
    known: readonly ClientRecord[],
    connected: ReadonlySet<string>,
    enrolled: ReadonlySet<string>,
    participants: ReadonlyMap<number, RoundParticipant[]>,
  ): Promise<DashboardClient[]> {
    const delta = reportingDelta(this.config.privacy);
    // Newest round first: the first answer / problem met is the last one.
    const byClient = new Map<string, RoundParticipant[]>();
    for (const list of participants.values()) {
      for (const p of list) {
        const outcomes = byClient.get(p.clientId);
        if (outcomes) outcomes.push(p);
        else byClient.set(p.clientId, [p]);
      }
    }
    const clients: DashboardClient[] = [];
    for (const c of known) {
      const outcomes = byClient.get(c.id) ?? [];
      const answer = outcomes.find((p) => p.status === 'answered');
      const problem = outcomes.find((p) => p.status === 'rejected' || p.status === 'dropped' || p.status === 'declined');
      const privacy = await clientPrivacy(this.db, c.id, delta);
      const budgetDecline = outcomes.find((p) => p.status === 'declined' && p.reason?.startsWith('privacy budget'));
      clients.push({
        id: c.id,
        name: c.name,
        status: c.status,
        connected: connected.has(c.id),
        enrolled: enrolled.has(c.name),
        firstSeenAt: c.firstSeenAt,
        lastSeenAt: c.lastSeenAt,
        lastAnswer: answer ? { round: answer.round, at: answer.answeredAt ?? 0 } : null,
        lastProblem: problem ? { round: problem.round, status: problem.status, reason: problem.reason } : null,
        refusals: { ...(this.refusalsByName.get(c.name) ?? {}) },
        epsilon: privacy.privateRounds > 0 ? privacy.epsilon : null,
        privateRounds: privacy.privateRounds,
        budget: budgetDecline?.reason ?? null,
      });
    }
    return clients;
  }
}

function roundOf(record: RoundRecord, participants: RoundParticipant[] | undefined, modelVersion: number | null): DashboardRound {
  const metrics = (record.metrics ?? {}) as Record<string, unknown>;
  const proxy = (record.config.proxy ?? null) as { kind?: unknown; generator?: unknown } | null;
  // A failed round stores no metrics: its upload is the sum of what its participants sent.
  const uploaded = participants?.reduce((sum, p) => sum + p.bytesUploaded, 0) ?? 0;
  return {
    number: record.number,
    state: record.state,
    reason: record.reason,
    openedAt: record.openedAt,
    closedAt: record.closedAt,
    proxyKind: typeof proxy?.kind === 'string' ? proxy.kind : null,
    generator: typeof proxy?.generator === 'string' ? proxy.generator : null,
    testAccuracy: numberOrNull(metrics.testAccuracy),
    agreement: numberOrNull(metrics.agreement),
    invited: numberOrNull(metrics.invited),
    answered: numberOrNull(metrics.answered),
    bytesUp: numberOrNull(metrics.bytesUp) ?? uploaded,
    bytesDown: numberOrNull(metrics.bytesDown) ?? 0,
    timings: { ...(record.timings ?? {}) },
    modelVersion,
  };
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
