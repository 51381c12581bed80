/**
 * One worker of `privacy-curve`: trains the teachers of a range of the disjoint shards and returns
 * their votes on the public proxy inputs (and each teacher's accuracy on a slice of the test digits,
 * for the report). Forked by privacy-curve.ts; talks over the IPC channel only.
 */
import { initBackend, predictAll, zooModelSpec, type ModelSpec, type ZooModelName } from '@fedkd/engine';
import { loadEmbeddedPart, subset, type EmbeddedDatasetName } from '@fedkd/data';
import { evaluateAccuracy, trainTeacherEnsemble } from '@fedkd/distill';
import { teacherVotes } from '@fedkd/privacy';

export interface TeacherJob {
  dataset: EmbeddedDatasetName;
  seed: number;
  teachers: number;
  teacher: ZooModelName;
  teacherEpochs: number;
  augmented: boolean;
  first: number;
  end: number;
  /** How many test digits each teacher is scored on (the report's mean teacher accuracy). */
  scoreOn: number;
}

export interface TeacherJobResult {
  votes: Float64Array;
  accuracies: number[];
}

/** The teachers: the zoo's MLP, or its small CNN with a dense 128 layer before the logits. */
export function teacherSpec(name: ZooModelName): ModelSpec {
  const spec = zooModelSpec(name, [28, 28, 1], 10);
  return spec.kind === 'cnn' ? { ...spec, hidden: [128] } : spec;
}

async function run(job: TeacherJob): Promise<TeacherJobResult> {
  await initBackend({ log: () => undefined });
  const pool = loadEmbeddedPart(job.dataset, 'private', job.seed);
  const proxy = loadEmbeddedPart(job.dataset, 'proxy', job.seed);
  const test = loadEmbeddedPart(job.dataset, 'test', job.seed);
  const scored = subset(test, Array.from({ length: Math.min(job.scoreOn, test.count) }, (_, i) => i));
  const votes = new Float64Array(proxy.count * 10);
  const accuracies: number[] = [];
  // One teacher at a time: train it, count its votes, score it, free it.
  for (let t = job.first; t < job.end; t++) {
    const [model] = await trainTeacherEnsemble({
      spec: teacherSpec(job.teacher),
      data: pool,
      teachers: job.teachers,
      epochs: job.teacherEpochs,
      seed: job.seed,
      range: { first: t, end: t + 1 },
      augmented: job.augmented,
    });
    const own = teacherVotes([predictAll(model, proxy)], proxy.count, 10);
    for (let i = 0; i < votes.length; i++) votes[i] += own[i];
    accuracies.push(evaluateAccuracy(model, scored, scored.labels));
    model.dispose();
    process.send!({ kind: 'progress', done: t + 1 - job.first });
  }
  return { votes, accuracies };
}

process.on('message', (job: TeacherJob) => {
  run(job).then(
    (result) => process.send!({ kind: 'done', result }, () => process.exit(0)),
    (error: unknown) => process.send!({ kind: 'error', message: error instanceof Error ? error.message : String(error) }, () => process.exit(1)),
  );
});
