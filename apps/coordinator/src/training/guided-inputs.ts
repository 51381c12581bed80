import { decodeWeights, instantiateModel, setModelWeights, type ModelSpec } from '@fedkd/engine';
import * as tfjs from '@tensorflow/tfjs';
import { buildStudentGuidedGenerator, studentGuidedQuestion, type StudentGuidedOptions, type StudentGuidedReport } from '@fedkd/distill';
import type * as tf from '@tensorflow/tfjs';

/** A student-guided round's question, made in the worker: plain data, so it can cross threads. */
export interface GuidedInputsJob {
  kind: 'guided-inputs';
  round: number;
  spec: ModelSpec;
  /** The latest published student first, then its copies (null: fresh weights from `studentSeed + k`, as the student's first round would start). */
  students: (Uint8Array | null)[];
  studentSeed: number;
  classes: number;
  count: number;
  /** Seed of this round's generator and latents. */
  seed: number;
  options: StudentGuidedOptions;
  /** The last round's generator weights, to continue from (`reinitialise: false`); null: fresh ones. */
  generatorWeights: Float32Array[] | null;
}

export interface GuidedInputsResult {
  inputShape: number[];
  /** [count x ...inputShape] uint8 pixels (value q / 255): the round's question. */
  pixels: Uint8Array;
  /** The class each input was generated for (classes in turn). */
  intendedClasses: Int32Array;
  report: StudentGuidedReport;
  /** The trained generator's weights (for the next round when it is not re-initialised). */
  generatorWeights: Float32Array[];
}

/**
 * Trains the generator (fresh each round, as IDEAL does, unless the job carries the last round's
 * weights) against the coordinator's own students and makes the round's inputs. The teachers are
 * not involved: they are asked about these inputs afterwards, like any proxy.
 */
export async function makeGuidedInputs(job: GuidedInputsJob): Promise<GuidedInputsResult> {
  const students: tf.LayersModel[] = [];
  let generator: tf.LayersModel | null = null;
  try {
    for (const [k, blob] of job.students.entries()) {
      const model = await instantiateModel(job.spec, job.studentSeed + copySeedOffset(k));
      if (blob) setModelWeights(model, decodeWeights(blob).weights);
      students.push(model);
    }
    const inputShape = (students[0].inputs[0].shape.slice(1) as number[]).map(Number);
    generator = buildStudentGuidedGenerator(inputShape, job.classes, job.options, job.seed);
    if (job.generatorWeights) setGeneratorWeights(generator, job.generatorWeights);
    const made = await studentGuidedQuestion(generator, students, job.classes, job.options, job.count, job.seed);
    return { ...made, generatorWeights: generator.getWeights().map((w) => w.dataSync() as Float32Array) };
  } finally {
    generator?.dispose();
    for (const s of students) s.dispose();
  }
}

/** Student copy k starts from the weights of seed `studentSeed + copySeedOffset(k)` (k = 0: the student itself). */
export function copySeedOffset(k: number): number {
  return k === 0 ? 0 : 7919 * k;
}

function setGeneratorWeights(generator: tf.LayersModel, weights: Float32Array[]): void {
  const shapes = generator.getWeights().map((w) => w.shape);
  if (weights.length !== shapes.length || weights.some((w, i) => w.length !== shapes[i].reduce((a, b) => a * b, 1))) {
    throw new RangeError('the last round\'s generator weights do not fit this generator (were --generator-latent or --generator-width changed?)');
  }
  const tensors = weights.map((w, i) => tfjs.tensor(w, shapes[i]));
  generator.setWeights(tensors);
  tfjs.dispose(tensors);
}
