import { describe, expect, it } from 'vitest';
import { COORDINATOR_DEFAULTS, validateCoordinatorConfig, type CoordinatorConfig } from './coordinator-config';

const check = (overrides: Partial<CoordinatorConfig>) => () => validateCoordinatorConfig({ ...COORDINATOR_DEFAULTS, ...overrides });

describe('availability options', () => {
  it('accepts the defaults and a target of answers at least the answers a round needs', () => {
    expect(check({})).not.toThrow();
    expect(check({ minClients: 2, targetAnswers: 2, overSelection: 1.5 })).not.toThrow();
  });

  it.each<[string, Partial<CoordinatorConfig>, string]>([
    ['a target below --min-answers', { minAnswers: 3, targetAnswers: 2 }, 'target-answers: must be an integer in [3, '],
    ['an over-selection below 1', { targetAnswers: 2, overSelection: 0.9 }, 'over-selection: must be in [1, 10], got 0.9'],
    [
      'a target with secure aggregation',
      { minClients: 3, targetAnswers: 3, secureAggregation: { enabled: true, threshold: null, degree: null } },
      'target-answers: cannot close a secure-aggregation round early',
    ],
    ['a pre-authentication cap above --max-message-bytes', { maxMessageBytes: 65_536, preAuthMaxMessageBytes: 65_537 }, 'pre-auth-max-message-bytes: must be an integer in [1024, 65536], got 65537'],
    ['no connection per address', { maxConnectionsPerAddress: 0 }, 'max-connections-per-address: must be an integer in [1, '],
    ['a hello timeout of 10 minutes and more', { helloTimeoutMs: 600_001 }, 'hello-timeout-ms: must be an integer in [100, 600000]'],
  ])('refuses %s, naming the option', (_, overrides, message) => {
    expect(check(overrides)).toThrow(message);
  });
});
