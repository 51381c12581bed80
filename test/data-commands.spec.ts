import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPartitioner, loadEmbeddedPart, loadTaskFile, MNIST_TASK, readData, subset, taskSha256 } from '@fedkd/data';
import { testWorkspace } from './support/federation-harness';

/** The data commands a new user runs first, and the one-line errors of bad task files and data. */
const CLI = join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');

function fedkd(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('fedkd data export and fedkd task check', () => {
  const { dir } = testWorkspace('fedkd-data-commands-');

  it('exports an embedded data set as NPY files that read back as the same partition, with the task file and the next commands', async () => {
    const out = join(dir, 'npy');
    const run = fedkd('data', 'export', '--dataset', 'embedded:mnist', '--clients', '2', '--partition', 'iid', '--format', 'npy', '--out', out);
    expect(run.status, run.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['client-0', 'client-1', 'eval', 'proxy', 'task.yaml']);
    expect(readdirSync(join(out, 'proxy'))).toEqual(['inputs.npy']);
    expect(readdirSync(join(out, 'eval')).sort()).toEqual(['inputs.npy', 'labels.npy']);
    const task = loadTaskFile(join(out, 'task.yaml'));
    expect(taskSha256(task)).toBe(taskSha256(MNIST_TASK));
    expect(run.stdout).toContain(`fedkd coordinator --task ${join(out, 'task.yaml')} --proxy-data npy:${join(out, 'proxy')} --eval-data npy:${join(out, 'eval')}`);

    const pool = loadEmbeddedPart('mnist', 'private', 0);
    const expected = subset(pool, createPartitioner({ name: 'iid' }).partition(pool.labels, 2, 0).clients[1]);
    const read = await readData(join(out, 'client-1'), { task, labelled: true });
    expect(read.inputs.count).toBe(expected.count);
    expect(Array.from(read.labels!)).toEqual(Array.from(expected.labels));
    let worst = 0;
    for (let i = 0; i < expected.values.length; i++) worst = Math.max(worst, Math.abs(read.inputs.values[i] - expected.values[i]));
    // The package stores k/255 to 3 decimals; the files hold k itself.
    expect(worst).toBeLessThan(1e-3);
  });

  it.each(['image-folder', 'csv', 'idx'])('exports %s files that task check reads with no problem, counting every class', (format) => {
    const out = join(dir, format);
    expect(fedkd('data', 'export', '--clients', '2', '--format', format, '--out', out).status).toBe(0);
    const check = fedkd('task', 'check', join(out, 'task.yaml'), '--data', join(out, 'client-0'));
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/inputs \[28, 28, 1\], scaling: divide by 255/);
    expect(check.stdout).toMatch(/raw values 0 \.\. 255; after scaling 0(\.0+)? \.\. 1(\.0+)?/);
    expect(check.stdout).toMatch(/per class: 0 \d+, 1 \d+, 2 \d+, 3 \d+, 4 \d+, 5 \d+, 6 \d+, 7 \d+, 8 \d+, 9 \d+/);
    expect(check.stdout).toContain('no problems found');
    const proxy = fedkd('task', 'check', join(out, 'task.yaml'), '--data', join(out, 'proxy'), '--unlabelled');
    expect(proxy.status).toBe(0);
    expect(proxy.stdout).toMatch(/\(unlabelled\): 2000 inputs of \[28, 28, 1\]/);
  });

  it('task check lists every problem of a CSV with its line and column, counts the good rows, and exits 1', () => {
    const task = join(dir, 'sensors.yaml');
    writeFileSync(task, 'name: sensors\ninput:\n  shape: [3]\nclasses: [low, high]\n');
    const csv = join(dir, 'sensors.csv');
    writeFileSync(csv, 'a,b,c,label\n1,2,3,low\n4,x,6,high\n7,8,9,medium\n1,2,low\n5,5,5,high\n');
    const check = fedkd('task', 'check', task, '--data', csv);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('3 problems:');
    expect(check.stdout).toContain(`${csv}:3:2: 'x' is not a number`);
    expect(check.stdout).toMatch(new RegExp(`${csv}:4: label 'medium' is not among the task's classes`));
    expect(check.stdout).toContain(`${csv}:5: 3 columns, the header has 4`);
    expect(check.stdout).toMatch(/2 inputs of \[3\]/);
    expect(check.stdout).toMatch(/per class: low 1, high 1/);
  });

  it.each([
    ['a shape of two numbers', 'name: t\ninput:\n  shape: [28, 28]\nclasses: [a, b]\n', /input\.shape: must be \[H, W, C\] \(images\) or \[F\] \(features\)/],
    ['one class', 'name: t\ninput:\n  shape: [4]\nclasses: [a]\n', /classes: /],
    ['a repeated class', 'name: t\ninput:\n  shape: [4]\nclasses: [a, b, a]\n', /classes\[2\]: 'a' repeats classes\[0\]/],
    ['an unknown field', 'name: t\ninput:\n  shape: [4]\nclasses: [a, b]\nlabels: 3\n', /\(top level\): unknown field 'labels'/],
    ['a std per channel of the wrong length', 'name: t\ninput:\n  shape: [8, 8, 3]\n  scaling: {type: standardise, mean: [0], std: [1, 2]}\nclasses: [a, b]\n', /input\.scaling\.std: must hold 1 value or one per channel \(3 channels\), got 2/],
    ['text that is not YAML', 'name: [unclosed\n', /not valid YAML/],
  ])('a task file with %s stops the coordinator and task check with one line naming the field', (_, text, reason) => {
    const file = join(dir, `bad-${text.length}.yaml`);
    writeFileSync(file, text);
    for (const run of [fedkd('task', 'check', file), fedkd('coordinator', '--task', file, '--db', join(dir, 'never.sqlite'), '--key', join(dir, 'no.key'))]) {
      expect(run.status).toBe(1);
      const lines = run.stderr.trim().split('\n').filter((l) => !l.startsWith('fedkd: TensorFlow.js backend'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(file);
      expect(lines[0]).toMatch(reason);
    }
    expect(existsSync(join(dir, 'never.sqlite'))).toBe(false);
  });

  it('a coordinator whose task the embedded data cannot serve asks for --proxy-data, naming both shapes', () => {
    const file = join(dir, 'features.yaml');
    writeFileSync(file, 'name: features\ninput:\n  shape: [12]\nclasses: [a, b, c]\n');
    const keys = join(dir, 'keys');
    expect(fedkd('keys', 'init', '--dir', keys, '--name', 'coordinator').status).toBe(0);
    const run = fedkd('coordinator', '--task', file, '--db', join(dir, 'c.sqlite'), '--key', join(keys, 'coordinator.key'), '--port', '0');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/the task features takes \[12\] with 3 classes, but embedded:mnist holds 28x28x1 digits of 10 classes: give --proxy-data/);
  });

  it('a client whose data file is missing stops with one line naming it', () => {
    const run = fedkd('client', '--data', join(dir, 'nowhere.csv'), '--coordinator-public-key', Buffer.alloc(32, 1).toString('base64'), '--key', join(dir, 'k', 'c.key'), '--create-key');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(join(dir, 'nowhere.csv'));
  });
});
