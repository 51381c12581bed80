import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { addCoordinatorOptions, coordinatorConfigFrom, type CoordinatorFlags } from '../coordinator-command';
import { ConfigError, COORDINATOR_DEFAULTS, validateCoordinatorConfig } from './coordinator-config';

const configFrom = (args: string[]) =>
  coordinatorConfigFrom(addCoordinatorOptions(new Command('coordinator')).exitOverride().parse(['--key', 'k', ...args], { from: 'user' }).opts() as CoordinatorFlags);

describe('the default aggregation rule', () => {
  it('is reputation, and the mean under secure aggregation (which reveals only the sum)', () => {
    expect(COORDINATOR_DEFAULTS.aggregation).toEqual({ name: 'reputation' });
    expect(configFrom([]).aggregation).toEqual({ name: 'reputation' });
    expect(configFrom(['--secure-agg', '--min-clients', '3']).aggregation).toEqual({ name: 'mean' });
    expect(configFrom(['--agg', 'median']).aggregation).toEqual({ name: 'median' });
  });

  it('refuses the reputation rule under secure aggregation, saying why', () => {
    const config = { ...COORDINATOR_DEFAULTS, keyPath: 'k', minClients: 3, secureAggregation: { enabled: true, threshold: null, degree: null } };
    expect(() => validateCoordinatorConfig(config)).toThrow(ConfigError);
    expect(() => validateCoordinatorConfig(config)).toThrow("secure-agg: aggregation rule reputation needs each client's predictions, but secure aggregation reveals only their sum");
  });
});
