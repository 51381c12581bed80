import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { LEADERSHIP, type Leadership } from '../scale/leadership';
import { RoundsService } from './rounds.service';

/** How long shutdown waits for a round that is still storing its end before the database closes. */
const ROUND_DRAIN_MS = 10_000;

/**
 * When the coordinator stops: gives up the lead (another replica takes over at once), lets the
 * round in progress, told to stop, store how it ended, then closes the database (a PostgreSQL
 * pool's connections are given back at once).
 */
@Injectable()
export class DatabaseShutdown implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');

  constructor(
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    private readonly rounds: RoundsService,
    @Inject(LEADERSHIP) private readonly leadership: Leadership,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.leadership.stop().catch((error: unknown) => this.logger.warn(`could not give up the lead: ${error instanceof Error ? error.message : String(error)}`));
    const drained = await this.rounds.stopped(ROUND_DRAIN_MS);
    if (!drained) this.logger.warn(`a round was still running ${ROUND_DRAIN_MS} ms after shutdown began; closing the database under it`);
    await this.db.close();
  }
}
