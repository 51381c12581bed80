import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { STUDENT_GUIDED_DEFAULTS } from '@fedkd/distill';
import { optionsToArgv, parseOptions } from '@fedkd/command-line';
import { addCoordinatorOptions, coordinatorConfigFrom, type CoordinatorFlags } from '../coordinator-command';
import { ConfigError, coordinatorFlagsSchema, replayCapacity, validateCoordinatorConfig } from './coordinator-config';

const configFrom = (args: string[]) =>
  coordinatorConfigFrom(addCoordinatorOptions(new Command('coordinator')).exitOverride().parse(['--key', 'k', ...args], { from: 'user' }).opts() as CoordinatorFlags);

describe('student-guided generator flags', () => {
  it('default to the documented values, and the replay buffer to 50,000 inputs for student-guided rounds only', () => {
    const guided = configFrom(['--proxy', 'synthetic', '--generator', 'student-guided']);
    expect(guided.studentGuided).toEqual(STUDENT_GUIDED_DEFAULTS);
    expect(guided.studentCopies).toBe(0);
    expect(replayCapacity(guided)).toBe(50_000);
    expect(replayCapacity(configFrom(['--proxy', 'synthetic', '--generator', 'strokes']))).toBe(0);
    expect(replayCapacity(configFrom(['--replay-size', '300']))).toBe(300);
  });

  it('reach the coordinator from fedkd simulate unchanged (the same flags, passed on as arguments)', () => {
    const given = ['--guided-steps', '7', '--guided-lr', '0.5', '--guided-entropy', '2', '--guided-disagreement', '3', '--guided-copies', '2', '--guided-candidates', '3', '--guided-latent', '9', '--guided-width', '5', '--replay-size', '1234', '--samples-dir', 'out/samples', '--guided-keep-generator'];
    const flags = parseOptions(coordinatorFlagsSchema, addCoordinatorOptions(new Command('simulate')).exitOverride().parse(given, { from: 'user' }).opts());
    const args = optionsToArgv(coordinatorFlagsSchema, flags);
    expect(args).toEqual(given);
    const config = configFrom(['--proxy', 'synthetic', '--generator', 'student-guided', ...args]);
    expect(config.studentGuided).toEqual({ latent: 9, width: 5, steps: 7, batchSize: STUDENT_GUIDED_DEFAULTS.batchSize, learningRate: 0.5, entropyWeight: 2, disagreementWeight: 3, reinitialise: false, candidates: 3, boundary: STUDENT_GUIDED_DEFAULTS.boundary });
    expect(config).toMatchObject({ studentCopies: 2, replaySize: 1234, samplesDir: 'out/samples' });
    // Left out, nothing is passed: the coordinator's own defaults apply.
    expect(optionsToArgv(coordinatorFlagsSchema, parseOptions(coordinatorFlagsSchema, {}))).toEqual([]);
  });

  it('refuse a question too large for one message, naming the limit', () => {
    const config = configFrom(['--proxy', 'synthetic', '--generator', 'student-guided', '--proxy-size', '30000']);
    expect(() => validateCoordinatorConfig(config)).toThrow(ConfigError);
    expect(() => validateCoordinatorConfig(config)).toThrow('proxy-size: the student-guided generator sends its inputs: 30000 inputs of 28x28 are 23520000 bytes, over the 16777216-byte limit of a round\'s question (at most 21399)');
  });
});
