import { Controller, Get, Inject } from '@nestjs/common';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { ReadAccess } from '../auth/rest-access.decorators';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';
import { clientPrivacy } from '../privacy/privacy-report';
import { GRID, type Grid } from '../transport/grid';

@Controller('clients')
export class ClientsController {
  constructor(
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    @Inject(GRID) private readonly grid: Grid,
    @Inject(CONFIG) private readonly config: CoordinatorConfig,
  ) {}

  /** Every client ever seen, with whether it is connected now and what private rounds have cost it. */
  @Get()
  @ReadAccess()
  list() {
    const connected = new Set(this.grid.connectedClients().map((c) => c.clientId));
    return this.db.clients.list().map((c) => {
      const privacy = clientPrivacy(this.db, c.id, this.config.privacy?.delta ?? 1e-5);
      return { ...c, connected: connected.has(c.id), ...(privacy.privateRounds > 0 ? { privacy } : {}) };
    });
  }
}
