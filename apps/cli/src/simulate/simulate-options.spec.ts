import { describe, expect, it } from 'vitest';
import { simulateCommand } from './simulate-command';

const simulate = () => simulateCommand('main.js').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });

describe('fedkd simulate flags', () => {
  it('takes the flags it passes on from the coordinator and the client: their checks and defaults, under FEDKD_SIM_ variables', () => {
    const help = simulate().helpInformation().replace(/\s+/g, ' ');
    expect(help).toContain('--guided-steps <n> student-guided generator: optimisation steps against the students before each round (default: 100, env: FEDKD_SIM_GUIDED_STEPS)');
    expect(help).toContain('--epsilon-max <e> each client\'s privacy budget (default: 8, env: FEDKD_SIM_EPSILON_MAX)');
    expect(help).toContain('--teacher <arch> client teacher architecture: mlp | cnn (default: "cnn", env: FEDKD_SIM_TEACHER)');
    expect(help).toContain('--no-baselines skip the teacher ensemble, centralised and FedAvg references (env: FEDKD_SIM_NO_BASELINES)');
    expect(() => simulate().parse(['--guided-copies', '9'], { from: 'user' })).toThrow("--guided-copies must be an integer in [0, 8], got '9'");
    expect(() => simulate().parse(['--query-budget', '0'], { from: 'user' })).toThrow("--query-budget must be an integer in [1, 9007199254740991], got '0'");
    expect(() => simulate().parse(['--attackers', '0.5'], { from: 'user' })).toThrow("--attackers: must be a fraction in [0, 0.5), got '0.5'");
  });
});
