import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { DATABASE, type CoordinatorDatabase } from '../persistence/database.provider';
import { RoundsService } from './rounds.service';

/** How long shutdown waits for a round that is still storing its end before the database closes. */
const ROUND_DRAIN_MS = 10_000;

/**
 * Closes the database when the coordinator stops (a PostgreSQL pool's connections are given back
 * at once), after the round in progress, told to stop, has stored how it ended.
 */
@Injectable()
export class DatabaseShutdown implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');

  constructor(
    @Inject(DATABASE) private readonly db: CoordinatorDatabase,
    private readonly rounds: RoundsService,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    const drained = await this.rounds.stopped(ROUND_DRAIN_MS);
    if (!drained) this.logger.warn(`a round was still running ${ROUND_DRAIN_MS} ms after shutdown began; closing the database under it`);
    await this.db.close();
  }
}
