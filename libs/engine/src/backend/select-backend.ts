/**
 * Chooses the TensorFlow.js backend once per process: tfjs-node if it loads, else wasm (SIMD, with
 * the kernel fixes of ./wasm-kernels), else the pure-JS cpu backend. FEDKD_BACKEND (or
 * opts.preferred) forces one and fails loudly if it is unavailable, so a benchmark or a client
 * never silently runs 100x slower than intended.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { registerWasmKernels } from './wasm-kernels';

export type BackendName = 'node' | 'wasm' | 'cpu';

export interface BackendInfo {
  name: BackendName;
  /** wasm only: whether the SIMD build of the binary is running. */
  simd?: boolean;
  /** Why each faster backend was skipped (empty when the first choice worked). */
  fallbackReasons: string[];
}

export interface InitBackendOptions {
  preferred?: BackendName;
  /** Receives the one line announcing the choice; default: stderr. */
  log?: (line: string) => void;
}

export const BACKEND_ENV_VAR = 'FEDKD_BACKEND';
const BACKEND_NAMES: readonly BackendName[] = ['node', 'wasm', 'cpu'];
/** The engine's name for each backend. */
const TFJS_NAME: Record<BackendName, string> = { node: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };
const TFJS_NODE = '@tensorflow/tfjs-node';
const TFJS_WASM = '@tensorflow/tfjs-backend-wasm';

interface Request {
  name: BackendName;
  /** How the caller asked, for error messages: "FEDKD_BACKEND=node" or "preferred backend 'node'". */
  source: string;
}

let chosen: Promise<BackendInfo> | undefined;

export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const request = readRequest(opts.preferred);
  if (chosen === undefined) {
    const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    chosen = choose(request, log);
    // A failed attempt must not stick: the caller may fix the environment and retry.
    chosen.catch(() => (chosen = undefined));
  }
  const info = await chosen;
  if (request && request.name !== info.name) {
    throw new Error(`${request.source}, but the TensorFlow.js backend is already initialised as ${info.name}`);
  }
  // Someone (a test, say) may have switched backends since: switch back, without logging again.
  if (tf.getBackend() !== TFJS_NAME[info.name]) {
    await tf.setBackend(TFJS_NAME[info.name]);
  }
  return info;
}

function readRequest(preferred: BackendName | undefined): Request | undefined {
  if (preferred !== undefined) {
    if (!BACKEND_NAMES.includes(preferred)) {
      throw new Error(`initBackend: preferred must be one of ${BACKEND_NAMES.join(', ')}; got '${preferred}'`);
    }
    return { name: preferred, source: `preferred backend '${preferred}'` };
  }
  const raw = process.env[BACKEND_ENV_VAR];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = raw.trim().toLowerCase();
  if (!(BACKEND_NAMES as readonly string[]).includes(value)) {
    throw new Error(`${BACKEND_ENV_VAR} must be one of ${BACKEND_NAMES.join(', ')}; got '${raw}'`);
  }
  return { name: value as BackendName, source: `${BACKEND_ENV_VAR}=${value}` };
}

async function choose(request: Request | undefined, log: (line: string) => void): Promise<BackendInfo> {
  silenceNodeBackendHint();
  const order = request ? [request.name] : BACKEND_NAMES;
  const fallbackReasons: string[] = [];
  for (const name of order) {
    const outcome = await tryBackend(name);
    if (typeof outcome === 'string') {
      if (request) throw new Error(`${request.source} but ${outcome}; use ${alternatives(name)}`);
      fallbackReasons.push(`${name}: ${outcome}`);
      continue;
    }
    const info: BackendInfo = { name, ...outcome, fallbackReasons };
    log(describe(info));
    return info;
  }
  throw new Error(`no TensorFlow.js backend could be initialised: ${fallbackReasons.join('; ')}`);
}

/** Activates one backend; returns a reason string if it is unavailable. */
async function tryBackend(name: BackendName): Promise<{ simd?: boolean } | string> {
  switch (name) {
    case 'node':
      return tryNode();
    case 'wasm':
      return tryWasm();
    case 'cpu':
      return (await tf.setBackend('cpu')) ? {} : 'the cpu backend failed to initialise';
  }
}

async function tryNode(): Promise<{ simd?: boolean } | string> {
  try {
    // Optional dependency: npm drops it when its native download fails (no internet access).
    require(TFJS_NODE);
  } catch (err) {
    if (isMissingModule(err, TFJS_NODE)) {
      return `${TFJS_NODE} is not installed (it cannot install without internet access)`;
    }
    return `${TFJS_NODE} failed to load: ${errorText(err)}`;
  }
  const ok = await setBackendSafely(TFJS_NAME.node);
  return ok === true ? {} : `${TFJS_NODE} loaded but its backend failed to initialise: ${ok}`;
}

async function tryWasm(): Promise<{ simd?: boolean } | string> {
  try {
    const wasm = require(TFJS_WASM) as typeof import('@tensorflow/tfjs-backend-wasm');
    // Point the loader at the .wasm files in node_modules (it must not try to fetch them).
    wasm.setWasmPaths(path.dirname(require.resolve(TFJS_WASM)) + path.sep);
  } catch (err) {
    return `${TFJS_WASM} failed to load: ${errorText(err)}`;
  }
  const ok = await setBackendSafely(TFJS_NAME.wasm);
  if (ok !== true) return `the wasm backend failed to initialise: ${ok}`;
  registerWasmKernels();
  return { simd: (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true };
}

/** tf.setBackend either resolves false or rejects, depending on the backend; unify to a reason. */
async function setBackendSafely(name: string): Promise<true | string> {
  try {
    if (await tf.setBackend(name)) {
      await tf.ready();
      return true;
    }
    return 'tf.setBackend returned false';
  } catch (err) {
    return errorText(err);
  }
}

/**
 * The cpu backend prints "Hi, looks like you are running TensorFlow.js in Node.js ... install our
 * node backend" on first use; we already chose deliberately, so mark it as used.
 */
function silenceNodeBackendHint(): void {
  const cpu = tf.findBackend('cpu') as (tf.KernelBackend & { firstUse?: boolean }) | null;
  if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
}

function describe(info: BackendInfo): string {
  const simd = info.name === 'wasm' ? (info.simd ? ' (SIMD)' : ' (no SIMD)') : '';
  // Falling back to cpu is worth a warning; falling back from node to wasm is routine here.
  const why = info.name === 'cpu' && info.fallbackReasons.length > 0 ? `; ${info.fallbackReasons.join('; ')}` : '';
  return `fedkd: TensorFlow.js backend ${info.name}${simd}${why}`;
}

function alternatives(name: BackendName): string {
  return BACKEND_NAMES.filter((n) => n !== name).join(' or ');
}

function isMissingModule(err: unknown, moduleName: string): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === 'MODULE_NOT_FOUND' && (e.message ?? '').includes(`'${moduleName}'`);
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}
