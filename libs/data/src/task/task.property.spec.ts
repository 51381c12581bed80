import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anyValue, FUZZ_RUNS, mutatedBytes, mutatedRecord, outcome } from '../../../engine/src/fuzz-inputs.testing';
import { MNIST_TASK, parseTask, TaskError, validateTask } from './task';

/**
 * Task files under fuzzing: validateTask and parseTask (YAML and JSON) return a Task or throw
 * TaskError with one line naming the field, whatever they are given.
 */

const isTaskError = (error: unknown) => error instanceof TaskError;
const VALID = {
  name: 'digits',
  input: { shape: [28, 28, 1], scaling: { type: 'standardise', mean: [0.13], std: [0.31] } },
  classes: ['zero', 'one', 'two'],
};

function expectTaskOrTaskError(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!isTaskError(error)) throw error;
    expect((error as Error).message).not.toMatch(/\n/);
  }
}

describe('task validation under fuzzing', () => {
  it('accepts the valid tasks the mutations start from', () => {
    expect(validateTask(VALID).classes).toHaveLength(3);
    expect(parseTask(JSON.stringify(MNIST_TASK), 'mnist.json', 'json').name).toBe(MNIST_TASK.name);
  });

  it('validateTask returns a task or throws TaskError for any value', () => {
    fc.assert(fc.property(anyValue, (value) => void outcome(() => validateTask(value), isTaskError)), { numRuns: FUZZ_RUNS });
  });

  it('validateTask returns a task or throws a one-line TaskError for a task with fields removed, added or of another type', () => {
    fc.assert(fc.property(mutatedRecord(VALID), (value) => expectTaskOrTaskError(() => validateTask(value))), { numRuns: FUZZ_RUNS });
  });

  it.each(['json', 'yaml'] as const)('parseTask (%s) returns a task or throws a one-line TaskError for mutated or arbitrary text', (format) => {
    const valid = new TextEncoder().encode(format === 'json' ? JSON.stringify(VALID) : 'name: digits\ninput:\n  shape: [28, 28, 1]\nclasses: [zero, one, two]\n');
    const text = fc.oneof(
      mutatedBytes(valid).map((b) => new TextDecoder().decode(b)),
      fc.string({ maxLength: 200 }),
      mutatedRecord(VALID, fc.jsonValue()).map((v) => JSON.stringify(v) ?? ''),
    );
    fc.assert(fc.property(text, (t) => expectTaskOrTaskError(() => parseTask(t, 'task.yaml', format))), { numRuns: FUZZ_RUNS });
  });

  it('refuses YAML that expands aliases exponentially ("billion laughs") with TaskError', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let k = 1; k < 10; k++) lines.push(`${String.fromCharCode(97 + k)}: &${String.fromCharCode(97 + k)} [${Array(10).fill(`*${String.fromCharCode(96 + k)}`).join(',')}]`);
    lines.push('name: *j');
    expect(() => parseTask(lines.join('\n'), 'laughs.yaml')).toThrow(TaskError);
  });
});
