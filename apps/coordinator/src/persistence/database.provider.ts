import type { Provider } from '@nestjs/common';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';
import { openDatabase, type CoordinatorDatabase } from './coordinator-database';

export type { CoordinatorDatabase };

/** Injection token of the coordinator's open database. */
export const DATABASE = Symbol('fedkd.coordinator.database');

export const databaseProvider: Provider = {
  provide: DATABASE,
  inject: [CONFIG],
  useFactory: (config: CoordinatorConfig): Promise<CoordinatorDatabase> => openDatabase(config.databasePath),
};
