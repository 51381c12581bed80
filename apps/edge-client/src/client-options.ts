import { z } from 'zod';
import { parsePartitionerSpec } from '@fedkd/data';
import { ZOO_MODEL_NAMES } from '@fedkd/engine';
import { checkedString, embeddedDatasetField } from '@fedkd/command-line';

/**
 * Every flag of `fedkd client`, the one source of its name, environment variable (FEDKD_ and the
 * flag's name, or `env`), default, help text and checks.
 */
export const clientFlagsSchema = z.object({
  coordinator: z.string().default('http://127.0.0.1:8080').meta({ arg: 'url', env: 'COORDINATOR_URL', description: 'coordinator URL' }),
  name: z.string().optional().meta({ arg: 'name', env: 'CLIENT_NAME', description: 'client name (default client-<index>)' }),
  task: z.string().optional().meta({ arg: 'file', description: "the federation's task file (JSON or YAML); its SHA-256 must be the coordinator's (default: the --dataset's task)" }),
  data: z.string().optional().meta({ arg: 'spec', description: "this client's private data: FORMAT:PATH (idx, npy, csv, image-folder) or a path (format inferred); never leaves this machine" }),
  labelColumn: z.string().min(1).default('label').meta({ arg: 'name', description: 'CSV data: the column holding the label' }),
  dataset: embeddedDatasetField().default('mnist').meta({ arg: 'name', description: 'demos and simulation without --data: the embedded data set whose private pool is partitioned (embedded:mnist | embedded:mnist-full)' }),
  teacherModel: z.string().optional().meta({ arg: 'path', description: 'the teacher: a TF.js LayersModel model.json (e.g. converted from Keras); default: a zoo model (--model) trained here' }),
  fineTuneEpochs: z.coerce.number().int().min(0).default(0).meta({ arg: 'n', description: 'epochs of fine-tuning --teacher-model on the private data (0: frozen, also in the rounds)' }),
  holdout: z.coerce.number().min(0).lt(1).default(0).meta({ arg: 'fraction', description: "share of the private data held out to report the teacher's accuracy, locally only (0: none)" }),
  index: z.coerce.number().int().min(0).default(0).meta({ arg: 'i', env: 'CLIENT_INDEX', description: "this client's index in the federation (0-based): its embedded partition, and seeds" }),
  clients: z.coerce.number().int().min(1).default(5).meta({ arg: 'k', description: 'number of clients the private pool is partitioned for' }),
  partition: checkedString(parsePartitionerSpec).default('dirichlet:0.5').meta({ arg: 'spec', description: 'iid | dirichlet:ALPHA | shards:N' }),
  seed: z.coerce.number().int().min(0).default(0).meta({ arg: 'n', description: "the federation's seed (split and partition)" }),
  model: z.enum(ZOO_MODEL_NAMES).default('mlp').meta({ arg: 'arch', description: `zoo teacher architecture, sized to the task: ${ZOO_MODEL_NAMES.join(' | ')}` }),
  epochs: z.coerce.number().int().min(1).default(10).meta({ arg: 'n', description: 'epochs of training a zoo teacher on the private data' }),
  ackTimeoutMs: z.coerce.number().int().min(100).default(30_000).meta({ arg: 'ms', description: 'how long to wait for the coordinator to acknowledge a message' }),
  key: z.string().optional().meta({ arg: 'file', description: "this client's Ed25519 secret key (default ./keys/<name>.key)" }),
  coordinatorKey: z.string().optional().meta({ arg: 'file', description: "the coordinator's public key file, pinned (or --coordinator-public-key)" }),
  coordinatorPublicKey: z.string().optional().meta({ arg: 'base64', description: "the coordinator's public key, pinned, as printed by `fedkd keys init`" }),
  enrolmentToken: z.string().optional().meta({ arg: 'token', description: 'one-time token from `fedkd enroll --client <name>` (first contact only)' }),
  createKey: z.boolean().default(false).meta({ description: 'create the key pair if the key file does not exist yet' }),
  teachersPerClient: z.coerce.number().int().min(1).max(10_000).default(1).meta({ arg: 'm', description: 'private rounds: teachers on disjoint shards of the private data (PATE)' }),
  epsilonMax: z.coerce.number().positive().default(8).meta({ arg: 'e', description: "privacy budget: decline private rounds that would spend more (epsilon at the round's delta)" }),
  ledger: z.string().optional().meta({ arg: 'file', description: 'privacy ledger file, kept across restarts (default ./ledgers/<name>.json)' }),
  queryBudget: z.coerce.number().int().min(1).optional().meta({ arg: 'n', description: 'most proxy inputs (teacher queries) this client answers over its run; later rounds are declined (default: no limit)' }),
  tlsCa: z.string().optional().meta({ arg: 'file', description: 'PEM certificate to trust for an https:// coordinator (private CA or self-signed)' }),
  statusFile: z.string().optional().meta({ arg: 'path', description: 'JSON file rewritten on every connection change (for container health checks)' }),
  secaggAcceptUnsafeThreshold: z.boolean().default(false).meta({
    description: 'UNSAFE: take part in secure rounds whose threshold is half of the neighbours or fewer (coordinator --secagg-unsafe-threshold); declined by default',
  }),
  shareSampleCount: z.boolean().default(false).meta({ description: 'tell the coordinator how many private samples this client has (for weighted aggregation)' }),
});
