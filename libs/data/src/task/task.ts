import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * The task every party of a federation loads (DESIGN.md, "The task and the user's own data"):
 * what one input is, how raw values become the model's inputs, and the ordered class names (a
 * class's position is its label index). Validated once, at start-up, into this typed object.
 */
export interface Task {
  name: string;
  input: {
    /** `[H, W, C]` for images, `[F]` for feature vectors. */
    shape: number[];
    scaling: Scaling;
  };
  /** Ordered class names; the index of a name is its label. */
  classes: string[];
}

/**
 * How a raw value (a pixel 0..255, a CSV cell) becomes a model input:
 * - `none`: as it is;
 * - `divide`: raw / by (pixels: 255);
 * - `standardise`: (raw - mean[k]) / std[k], with k the feature (for `[F]`) or the channel (for
 *   `[H, W, C]`); one value applies to every feature or channel.
 */
export type Scaling =
  | { type: 'none' }
  | { type: 'divide'; by: number }
  | { type: 'standardise'; mean: number[]; std: number[] };

/** Most classes a task may name (labels are stored as one byte). */
export const MAX_TASK_CLASSES = 256;

const positiveInteger = z.number().int().positive().max(1_000_000);

const scalingSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('divide'), by: z.number().positive() }).strict(),
  z
    .object({
      type: z.literal('standardise'),
      mean: z.array(z.number()).min(1),
      std: z.array(z.number().positive()).min(1),
    })
    .strict(),
]);

const taskSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    input: z
      .object({
        shape: z.union([z.tuple([positiveInteger]), z.tuple([positiveInteger, positiveInteger, positiveInteger])], {
          error: 'must be [H, W, C] (images) or [F] (features) of positive integers',
        }),
        scaling: scalingSchema.default({ type: 'none' }),
      })
      .strict(),
    classes: z.array(z.string().trim().min(1)).min(2).max(MAX_TASK_CLASSES),
  })
  .strict()
  .superRefine((task, ctx) => {
    const seen = new Map<string, number>();
    task.classes.forEach((name, i) => {
      if (seen.has(name)) ctx.addIssue({ code: 'custom', path: ['classes', i], message: `'${name}' repeats classes[${seen.get(name)}]` });
      seen.set(name, i);
    });
    const scaling = task.input.scaling;
    if (scaling.type === 'standardise') {
      const per = task.input.shape.length === 1 ? task.input.shape[0] : task.input.shape[2];
      const unit = task.input.shape.length === 1 ? 'features' : 'channels';
      for (const key of ['mean', 'std'] as const) {
        const length = scaling[key].length;
        if (length !== 1 && length !== per) {
          ctx.addIssue({ code: 'custom', path: ['input', 'scaling', key], message: `must hold 1 value or one per ${unit.slice(0, -1)} (${per} ${unit}), got ${length}` });
        }
      }
    }
  });

/** A task file that cannot be used: one line naming the file, the field and the problem. */
export class TaskError extends Error {
  override readonly name = 'TaskError';
}

/** Validates a parsed task (from JSON or YAML); `source` names where it came from in errors. */
export function validateTask(value: unknown, source = 'task'): Task {
  const parsed = taskSchema.safeParse(value);
  if (parsed.success) return parsed.data as Task;
  const issue = parsed.error.issues[0];
  const field = issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(top level)';
  throw new TaskError(`${source}: ${field}: ${describeIssue(issue)}`);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  return issue.message;
}

/** Parses task text: YAML (of which JSON is a subset) unless `format` says JSON. */
export function parseTask(text: string, source = 'task', format: 'json' | 'yaml' = 'yaml'): Task {
  let value: unknown;
  try {
    value = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new TaskError(`${source}: not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${(error as Error).message.split('\n')[0]}`);
  }
  return validateTask(value, source);
}

/** Reads and validates a task file (`.json`, or YAML for any other extension). */
export function loadTaskFile(path: string): Task {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TaskError(`task file ${path}: cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseTask(text, path, extname(path).toLowerCase() === '.json' ? 'json' : 'yaml');
}

/**
 * The task's identity: SHA-256 (hex) of its canonical JSON (keys sorted, no spaces), so the same
 * task written as YAML or as JSON, in any key order, has one digest.
 */
export function taskSha256(task: Task): string {
  return createHash('sha256').update(canonicalTaskJson(task)).digest('hex');
}

export function canonicalTaskJson(task: Task): string {
  return JSON.stringify(sortKeys(task));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/** Values per input: H * W * C or F. */
export function taskInputSize(task: Task): number {
  return task.input.shape.reduce((a, b) => a * b, 1);
}

/**
 * Applies the task's scaling in place to raw values laid out [count, ...shape] (row-major, channels
 * last), and returns them.
 */
export function scaleInputs(values: Float32Array, task: Task): Float32Array {
  const scaling = task.input.scaling;
  if (scaling.type === 'none') return values;
  if (scaling.type === 'divide') {
    const factor = 1 / scaling.by;
    for (let i = 0; i < values.length; i++) values[i] *= factor;
    return values;
  }
  // The innermost axis is the feature ([F]) or the channel ([H, W, C]).
  const period = task.input.shape[task.input.shape.length - 1];
  const at = (list: number[], k: number) => (list.length === 1 ? list[0] : list[k]);
  const mean = Float32Array.from({ length: period }, (_, k) => at(scaling.mean, k));
  const inverse = Float32Array.from({ length: period }, (_, k) => 1 / at(scaling.std, k));
  for (let i = 0; i < values.length; i++) {
    const k = i % period;
    values[i] = (values[i] - mean[k]) * inverse[k];
  }
  return values;
}

/** The task of the embedded MNIST sets (`embedded:mnist`, `embedded:mnist-full`): 28x28 grey digits, pixel / 255, classes '0'..'9'. */
export const MNIST_TASK: Task = Object.freeze({
  name: 'mnist',
  input: { shape: [28, 28, 1], scaling: { type: 'divide', by: 255 } },
  classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
}) as Task;
