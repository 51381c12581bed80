import { Inject, Logger, type OnModuleDestroy } from '@nestjs/common';
import { WebSocketGateway, WebSocketServer, type OnGatewayConnection, type OnGatewayInit } from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import { authenticateApiToken, scopeAllows } from '../auth/api-tokens';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';
import { FederationEvents, type FederationEvent } from '../events/federation-events';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { CONNECTION_ADMISSION, type ConnectionAdmission } from '../transport/connection-admission';
import { DASHBOARD_NAMESPACE, type DashboardServerEvents } from './dashboard-protocol';
import { DashboardService } from './dashboard.service';

export type DashboardNamespace = Namespace<Record<string, never>, DashboardServerEvents>;
type DashboardSocket = Socket<Record<string, never>, DashboardServerEvents>;

/** After these events a fresh snapshot follows (last answers, epsilon, model versions, enrolled counts are derived from the database). */
const REFRESHING_EVENTS: readonly FederationEvent['type'][] = ['round.ended', 'round.answers', 'client.connected', 'client.disconnected'];
/** Snapshots after a burst of such events are sent at most this often. */
const REFRESH_DELAY_MS = 200;

/**
 * The dashboard's read-only socket.io namespace. Its own handshake check (the default namespace's
 * is the federation's hello): a read or admin API token in the handshake's `auth.token` (or none
 * with --public-read, as for REST reads); a bad one is refused with a connect_error saying why.
 * An admitted socket counts as authenticated for ConnectionAdmission (it leaves the unauthenticated
 * count and the hello timeout does not apply); a refused one never joins a namespace and is closed
 * after --hello-timeout-ms like any connection without a hello. It gets a snapshot on connect, then
 * every bus event; it may send nothing that changes anything: no handler is registered.
 */
@WebSocketGateway({ namespace: DASHBOARD_NAMESPACE, transports: ['websocket'] })
export class DashboardGateway implements OnGatewayInit, OnGatewayConnection, OnModuleDestroy {
  private readonly logger = new Logger('Dashboard');
  @WebSocketServer() namespace!: DashboardNamespace;
  private unsubscribe: (() => void) | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private lastRefusalLog = 0;

  constructor(
    @Inject(CONFIG) private readonly config: CoordinatorConfig,
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    @Inject(CONNECTION_ADMISSION) private readonly admission: ConnectionAdmission,
    private readonly dashboard: DashboardService,
    private readonly events: FederationEvents,
  ) {}

  afterInit(namespace: DashboardNamespace): void {
    namespace.use(async (socket, next) => {
      let refusal: string | null;
      try {
        refusal = await this.refusal(socket.handshake.auth);
      } catch (error) {
        this.logger.error(`could not check a dashboard connection's token: ${error instanceof Error ? error.message : String(error)}`);
        return next(Object.assign(new Error('UNAVAILABLE: the coordinator could not check the token; try again'), { data: { code: 'UNAVAILABLE' } }));
      }
      if (refusal) {
        const now = Date.now();
        if (now - this.lastRefusalLog > 10_000) this.logger.warn(`refused a dashboard connection from ${socket.handshake.address}: ${refusal}`);
        this.lastRefusalLog = now;
        return next(Object.assign(new Error(`UNAUTHENTICATED: ${refusal}`), { data: { code: 'UNAUTHENTICATED' } }));
      }
      // The engine.io connection's id, as the adapter registered it with the admission.
      this.admission.authenticated((socket.conn as unknown as { id: string }).id);
      next();
    });
    this.unsubscribe = this.events.subscribe((event) => {
      namespace.emit('event', event);
      if (REFRESHING_EVENTS.includes(event.type)) this.scheduleRefresh();
    });
  }

  async handleConnection(socket: DashboardSocket): Promise<void> {
    const snapshot = await this.snapshotOrNull();
    if (snapshot) socket.emit('snapshot', snapshot);
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
  }

  /** Why a handshake may not read the dashboard, or null. */
  private async refusal(auth: unknown): Promise<string | null> {
    if (this.config.publicRead) return null;
    const token = typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
    if (typeof token !== 'string' || token === '') {
      return 'the dashboard needs a read or admin API token: open /dashboard#token=<token> (create one with `fedkd admin token create --scope read`)';
    }
    const result = await authenticateApiToken(this.db, token);
    if (!result.ok) return result.message;
    if (!scopeAllows(result.value.scope, 'read')) return `API token ${result.value.name} has the ${result.value.scope} scope; the dashboard needs a read or admin token`;
    return null;
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(async () => {
      this.refreshTimer = null;
      if (this.namespace.sockets.size === 0) return;
      const snapshot = await this.snapshotOrNull();
      if (snapshot) this.namespace.emit('snapshot', snapshot);
    }, REFRESH_DELAY_MS);
  }

  private async snapshotOrNull() {
    try {
      return await this.dashboard.snapshot();
    } catch (error) {
      this.logger.error(`could not build the dashboard's snapshot: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    }
  }
}
