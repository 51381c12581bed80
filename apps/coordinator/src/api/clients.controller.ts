import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { ReadAccess } from '../auth/rest-access.decorators';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';
import { clientPrivacy, reportingDelta } from '../privacy/privacy-report';
import { GRID, type Grid } from '../transport/grid';
import type { ReputationRecord } from '../persistence/reputations.repository';
import { ClientDto } from './dto';
import { ApiResult } from './openapi';

@Controller('clients')
@ApiTags('clients')
export class ClientsController {
  constructor(
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    @Inject(GRID) private readonly grid: Grid,
    @Inject(CONFIG) private readonly config: CoordinatorConfig,
  ) {}

  /**
   * Every client ever seen, with whether it is connected now, what private rounds have cost it and,
   * under the reputation rule, its reputation: whether its last round flagged it, and the evidence
   * (its agreement with the consensus, reputation and weight in every round it answered).
   */
  @Get()
  @ReadAccess()
  @ApiOperation({ summary: 'Every client ever seen: connected now, privacy spent, reputation' })
  @ApiResult(200, [ClientDto])
  async list() {
    const connected = new Set(this.grid.connectedClients().map((c) => c.clientId));
    const reputations = await this.db.reputations.historyByClient();
    const answer = [];
    for (const c of await this.db.clients.list()) {
      const privacy = await clientPrivacy(this.db, c.id, reportingDelta(this.config.privacy));
      const history = reputations.get(c.id);
      answer.push({ ...c, connected: connected.has(c.id), ...(privacy.privateRounds > 0 ? { privacy } : {}), ...(history ? { reputation: reputationEvidence(history) } : {}) });
    }
    return answer;
  }
}

/** A client's reputation as GET /clients shows it: where it stands after its last round, and every round's evidence. */
function reputationEvidence(history: readonly ReputationRecord[]) {
  const last = history[history.length - 1];
  return {
    reputation: last.reputation,
    flagged: last.flagged,
    flaggedRounds: history.filter((h) => h.flagged).map((h) => h.round),
    history: history.map(({ round, agreement, reputation, weight, flagged }) => ({ round, agreement, reputation, weight, flagged })),
  };
}
