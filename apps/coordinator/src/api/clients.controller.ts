import { Controller, Get, Inject } from '@nestjs/common';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { SocketGrid } from '../transport/socket-grid';

@Controller('clients')
export class ClientsController {
  constructor(
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    private readonly grid: SocketGrid,
  ) {}

  /** Every client ever seen, with whether it is connected now. */
  @Get()
  list() {
    const connected = new Set(this.grid.connectedClients().map((c) => c.clientId));
    return this.db.clients.list().map((c) => ({ ...c, connected: connected.has(c.id) }));
  }
}
