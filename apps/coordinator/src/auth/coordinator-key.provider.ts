import type { Provider } from '@nestjs/common';
import { readSecretKey, type Ed25519KeyPair } from '@fedkd/privacy';
import { CONFIG } from '../config/config.provider';
import type { CoordinatorConfig } from '../config/coordinator-config';

/** Injection token of the coordinator's Ed25519 key pair (signs published models). */
export const COORDINATOR_KEY = Symbol('fedkd.coordinator.key');
export type CoordinatorKey = Ed25519KeyPair;

export const coordinatorKeyProvider: Provider = {
  provide: COORDINATOR_KEY,
  inject: [CONFIG],
  useFactory: (config: CoordinatorConfig): CoordinatorKey => {
    const key = readSecretKey(config.keyPath);
    if (!key.ok) throw new Error(`coordinator key ${config.keyPath}: ${key.message} (create one with \`fedkd keys init --name coordinator\`)`);
    return key.value;
  },
};
