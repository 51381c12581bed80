import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTaskFile, type Task } from '@fedkd/data';
import * as tf from '@tensorflow/tfjs';
import { SeededRng, zooModelSpec } from '@fedkd/engine';
import { writeKerasMlpFixture } from '../libs/engine/src/models/keras-fixture.testing';
import { startTestClient, startTestCoordinator, testWorkspace, until } from './support/federation-harness';

/**
 * A non-image federation: sensor readings in CSV files, 8 features, 3 named classes, MLP teachers
 * and student sized to the task. The data follow a known rule (the class is the largest of three
 * fixed linear scores of the readings), so what a student can reach is known: chance is 1/3.
 */
const FEATURES = 8;
const CLASSES = ['idle', 'normal', 'overload'];
const HEADER = [...Array.from({ length: FEATURES }, (_, f) => `sensor_${f}`), 'state'];

/** Readings around 20 (spread 5) and their class under the rule. */
function readings(rows: number, seed: number): { x: number[][]; y: number[] } {
  const rule = new SeededRng(1234).fork('rule');
  const weights = Array.from({ length: CLASSES.length }, () => Array.from({ length: FEATURES }, () => rule.normal()));
  const rng = new SeededRng(seed).fork('readings');
  const x: number[][] = [];
  const y: number[] = [];
  for (let r = 0; r < rows; r++) {
    const z = Array.from({ length: FEATURES }, () => rng.normal());
    const scores = weights.map((w) => w.reduce((s, wf, f) => s + wf * z[f], 0));
    x.push(z.map((v) => Number((20 + 5 * v).toFixed(3))));
    y.push(scores.indexOf(Math.max(...scores)));
  }
  return { x, y };
}

function writeCsv(path: string, rows: number, seed: number, labelled: boolean): void {
  const { x, y } = readings(rows, seed);
  const header = labelled ? HEADER : HEADER.slice(0, -1);
  const lines = x.map((row, r) => [...row.map(String), ...(labelled ? [CLASSES[y[r]]] : [])].join(','));
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `${header.join(',')}\n${lines.join('\n')}\n`);
}

describe('a tabular federation from CSV files', () => {
  const workspace = testWorkspace('fedkd-tabular-');
  const dir = workspace.dir;
  const taskFile = join(dir, 'task.json');
  writeFileSync(
    taskFile,
    JSON.stringify({ name: 'pump-states', input: { shape: [FEATURES], scaling: { type: 'standardise', mean: [20], std: [5] } }, classes: CLASSES }),
  );
  for (let i = 0; i < 3; i++) writeCsv(join(dir, `client-${i}.csv`), 600, 10 + i, true);
  writeCsv(join(dir, 'proxy.csv'), 1000, 20, false);
  writeCsv(join(dir, 'eval.csv'), 1000, 30, true);

  async function federation(name: string, evalData: string | null, student: Partial<{ studentModel: string; studentInit: 'fresh' | 'keep' }> = {}) {
    const task: Task = loadTaskFile(taskFile);
    const coordinator = await startTestCoordinator({
      databasePath: join(dir, name, 'fedkd.sqlite'),
      taskPath: taskFile,
      proxyData: join(dir, 'proxy.csv'),
      evalData,
      labelColumn: 'state',
      proxySize: 1000,
      minClients: 3,
      studentEpochs: 30,
      ...student,
    });
    workspace.defer(() => coordinator.stop());
    const clients = [0, 1, 2].map((i) =>
      startTestClient(coordinator, i, { task, data: join(dir, `client-${i}.csv`), labelColumn: 'state', model: zooModelSpec('mlp', task.input.shape, CLASSES.length), epochs: 20 }),
    );
    workspace.defer(() => clients.forEach((c) => c.client.stop()));
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'three clients');
    return { coordinator, clients };
  }

  it('trains MLP teachers and an MLP student that classify the readings far above chance', async () => {
    const { coordinator } = await federation('evaluated', join(dir, 'eval.csv'));
    expect(coordinator.federation.student.spec).toMatchObject({ kind: 'mlp', inputShape: [FEATURES], classes: 3 });
    const summary = await coordinator.rounds.runRound();
    expect(summary.state).toBe('published');
    // Chance is 0.33; the rule is linear and the readings plentiful, so a working federation lands well above 0.8.
    process.stdout.write(`tabular federation, 3 CSV clients, one round: student test accuracy ${summary.testAccuracy?.toFixed(3)}\n`);
    expect(summary.testAccuracy).toBeGreaterThan(0.8);
  });

  it('trains a user\'s own model.json student, which every client loads and stock TF.js loads from the coordinator; without an evaluation set it reports agreement', async () => {
    // The user's student: a Keras-style model.json (8 -> 32 relu -> 3 softmax), from fresh weights (its layers' initialisers).
    const keras = writeKerasMlpFixture(join(dir, 'student'), { features: FEATURES, hidden: 32, classes: CLASSES.length });
    const { coordinator, clients } = await federation('unevaluated', null, { studentModel: keras.modelJsonPath, studentInit: 'fresh' });
    expect(coordinator.federation.evaluation).toBeNull();
    expect(coordinator.federation.student.spec.kind).toBe('layers');
    const summary = await coordinator.rounds.runRound();
    expect(summary).toMatchObject({ state: 'published', testAccuracy: null });
    expect(summary.agreement).toBeGreaterThan(0.8);
    for (const c of clients) await c.waitFor((e) => e.event === 'model' && e.ok && e.version === 1, 30_000);
    const stock = await tf.loadLayersModel(tf.io.http(`${coordinator.url}/models/1/model.json`, { requestInit: { headers: coordinator.authHeaders } }));
    expect(stock.inputs[0].shape).toEqual([null, FEATURES]);
    expect(stock.outputs[0].shape).toEqual([null, CLASSES.length]);
    stock.dispose();
    const models = (await (await fetch(`${coordinator.url}/models`, { headers: coordinator.authHeaders })).json()) as { metrics: Record<string, number> }[];
    expect(Object.keys(models[0].metrics)).toContain('agreement');
    expect(Object.keys(models[0].metrics)).not.toContain('testAccuracy');
  });
});
