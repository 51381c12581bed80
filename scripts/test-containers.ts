/**
 * `npm run test:containers`: the deployment in docker/ built and run for real, with podman.
 *
 *  1. podman, runc and debootstrap: installed with apt-get when absent (as root).
 *  2. The base images node:20-bookworm(-slim), made locally by docker/make-base-image.sh when
 *     missing (no registry can be reached here).
 *  3. Each Dockerfile that docker/compose.yaml builds, built one at a time; then the images are
 *     checked: a non-root user, and the edge client's image holds no compiler and no SQLite module.
 *  4. The compose file's services on a podman network of this run (service names resolve as under
 *     compose), each with its compose environment and its own named volumes; the coordinator's
 *     ports published on loopback at a free port. The clients start once the coordinator is
 *     healthy (depends_on), with the tokens from README's enrolment (`enroll --client NAME` in the
 *     coordinator container) in an env file of this run's temporary directory.
 *  5. Waits until a round is published (GET /rounds with a read token made the README's way) and
 *     every container's health check passes, all clients connected.
 *  6. Removes the containers, volumes, network and temporary directory it made, also on failure
 *     and on Ctrl-C. The images stay: a second run reuses them and their build cache.
 *
 * Options: --rounds N (default 1), --timeout-s S (the round and health wait, default 900),
 * --keep (leave containers, volumes and the temporary directory for inspection).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../apps/cli/src/simulate/process-fleet';
import { Command } from 'commander';
import { parse } from 'yaml';
import { integerArg } from '@fedkd/command-line';

interface ComposeService {
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  restart?: string;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Where podman runs here: the runc runtime (crun fails on rlimits and cgroups) and explicit ulimits.
 * Builds use Docker's image format: in podman's default (OCI) format HEALTHCHECK is dropped.
 */
const PODMAN_GLOBAL = ['--runtime', 'runc'];
const ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];
const BASE_IMAGES = ['node:20-bookworm', 'node:20-bookworm-slim'];
/** Kept small so a run takes minutes; the compose file's own values are for real deployments. */
const COORDINATOR_OVERRIDES = { FEDKD_STUDENT_EPOCHS: '5' };
const CLIENT_OVERRIDES = { FEDKD_EPOCHS: '2' };

const root = resolve(__dirname, '..', '..');
const composePath = join(root, 'docker', 'compose.yaml');
const started = Date.now();
const timings: [string, number][] = [];

function say(line: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  console.log(`[containers ${t}s] ${line}`);
}

class Failure extends Error {}

/** Runs podman (or any command) to completion, collecting its output; throws a Failure on a non-zero exit unless `allowFail`. */
function run(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Failure(`${cmd} could not run: ${result.error.message}`);
  const out = { status: result.status ?? 1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  if (out.status !== 0 && !opts.allowFail) {
    throw new Failure(`\`${cmd} ${args.join(' ')}\` exited ${out.status}: ${(out.stderr || out.stdout).trim().split('\n').slice(-15).join('\n')}`);
  }
  return out;
}
const podman = (args: string[], opts?: { allowFail?: boolean }) => run('podman', [...PODMAN_GLOBAL, ...args], opts);

let current: ChildProcess | undefined;

/** Runs a long command with its output in `logFile`, echoing the lines `show` picks; on failure prints the log's tail. */
function runLogged(cmd: string, args: string[], logFile: string, show: (line: string) => boolean): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const log = createWriteStream(logFile);
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    current = child;
    let pending = '';
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) if (show(line)) say(`  ${line.length > 160 ? `${line.slice(0, 157)}...` : line}`);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('error', (err) => reject(new Failure(`${cmd} could not run: ${err.message}`)));
    child.on('close', (code, signal) => {
      current = undefined;
      log.end(() => {
        if (code === 0) return resolvePromise();
        const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-30).join('\n');
        reject(new Failure(`\`${cmd} ${args.join(' ')}\` ${signal ? `was killed by ${signal}` : `exited ${code}`}; last lines of ${logFile}:\n${tail}`));
      });
    });
  });
}

async function step<T>(name: string, body: () => Promise<T> | T): Promise<T> {
  say(`${name} ...`);
  const t0 = Date.now();
  const value = await body();
  const seconds = (Date.now() - t0) / 1000;
  timings.push([name, seconds]);
  say(`${name}: done in ${seconds.toFixed(1)} s`);
  return value;
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Compose's variable substitution: ${NAME}, ${NAME:-default}, ${NAME-default}, from this run's env file only. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?:(:?-)([^}]*))?\}/g, (_, name: string, op: string | undefined, fallback: string | undefined) => {
    const v = vars[name];
    if (op === ':-') return v ? v : (fallback ?? '');
    if (op === '-') return v !== undefined ? v : (fallback ?? '');
    return v ?? '';
  });
}

function dependsOn(service: ComposeService): string[] {
  if (!service.depends_on) return [];
  return Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on);
}

/** Everything this run made, removed in reverse by cleanup(). */
const made = { containers: [] as string[], volumes: [] as string[], networks: [] as string[], dirs: [] as string[] };
let keep = false;
let cleaned = false;

function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  if (current && current.exitCode === null) current.kill('SIGTERM');
  if (keep) {
    say(`--keep: left containers ${made.containers.join(' ')}, volumes, network ${made.networks.join(' ')} and ${made.dirs.join(' ')}`);
    return;
  }
  const t0 = Date.now();
  for (const name of [...made.containers].reverse()) podman(['rm', '--force', '--ignore', '--time', '2', name], { allowFail: true });
  for (const name of made.volumes) podman(['volume', 'rm', '--force', name], { allowFail: true });
  for (const name of made.networks) podman(['network', 'rm', '--force', name], { allowFail: true });
  for (const dir of made.dirs) rmSync(dir, { recursive: true, force: true });
  const left = podman(['ps', '--all', '--format', '{{.Names}}'], { allowFail: true }).stdout.split('\n').filter((n) => made.containers.includes(n));
  say(`cleanup: removed ${made.containers.length} containers, ${made.volumes.length} volumes, ${made.networks.length} network, temporary directory (${((Date.now() - t0) / 1000).toFixed(1)} s)${left.length ? `; STILL PRESENT: ${left.join(' ')}` : ''}`);
}

function onSignal(signal: NodeJS.Signals): void {
  say(`${signal}: stopping and cleaning up`);
  cleanup();
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

async function getJson<T>(url: string, token: string): Promise<T> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

/** The container's state, and its health when the image has a check. */
function inspect(name: string): { status: string; health: string; restarts: number } {
  const out = podman(['inspect', '--format', '{{.State.Status}} {{.State.Health.Status}} {{.RestartCount}}', name], { allowFail: true }).stdout.trim();
  const [status = 'missing', health = '', restarts = '0'] = out.split(' ');
  return { status, health, restarts: Number(restarts) };
}

function printLogs(names: string[]): void {
  for (const name of names) {
    const logs = podman(['logs', '--tail', '25', name], { allowFail: true });
    console.log(`----- last lines of ${name} -----\n${(logs.stdout + logs.stderr).trim()}`);
  }
}

async function main(): Promise<void> {
  const opts = new Command('test-containers')
    .description('Build docker/*.Dockerfile with podman and run docker/compose.yaml until a round is published and every health check passes')
    .option('--rounds <n>', 'FEDKD_ROUNDS for the coordinator (the compose file has 5)', integerArg('--rounds', 1), 1)
    .option('--timeout-s <s>', 'how long to wait for a published round and healthy containers', integerArg('--timeout-s', 10), 900)
    .option('--keep', 'leave the containers, volumes, network and temporary directory (for inspection)', false)
    .parse()
    .opts<{ rounds: number; timeoutS: number; keep: boolean }>();
  keep = opts.keep;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  const compose = parse(readFileSync(composePath, 'utf8'), { merge: true }) as ComposeFile;
  const runId = `fedkd-ct-${randomBytes(3).toString('hex')}`;
  const temp = mkdtempSync(join(tmpdir(), `${runId}-`));
  made.dirs.push(temp);
  say(`run ${runId}; logs and env file in ${temp}`);

  await step('podman', () => {
    if (process.getuid?.() !== 0) throw new Failure('needs root: podman runs rootful here with the runc runtime, and the base image needs debootstrap');
    const absent = ['podman', 'runc', 'debootstrap'].filter((tool) => run('sh', ['-c', `command -v ${tool}`], { allowFail: true }).status !== 0);
    if (absent.length) {
      if (run('sh', ['-c', 'command -v apt-get'], { allowFail: true }).status !== 0) throw new Failure(`${absent.join(', ')} missing and no apt-get to install them`);
      say(`installing ${absent.join(' ')} with apt-get`);
      run('apt-get', ['update']);
      const installed = spawnSync('apt-get', ['install', '-y', 'podman', 'runc', 'debootstrap'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
      if (installed.status !== 0) throw new Failure('apt-get install podman runc debootstrap failed');
    }
    say(`  ${run('podman', ['--version']).stdout.trim()}, runc ${run('runc', ['--version']).stdout.split('\n')[0].replace(/^runc version /, '')}`);
  });

  await step('base image', async () => {
    const missing = BASE_IMAGES.filter((image) => podman(['image', 'exists', image], { allowFail: true }).status !== 0);
    if (!missing.length) return say(`  ${BASE_IMAGES.join(' and ')} present`);
    say(`  ${missing.join(', ')} missing: docker/make-base-image.sh`);
    await runLogged(join(root, 'docker', 'make-base-image.sh'), [], join(temp, 'base-image.log'), (l) => l.startsWith('[make-base-image]'));
  });

  // One image per Dockerfile the compose file builds, one build at a time.
  const images = new Map<string, { tag: string; dockerfile: string; context: string }>();
  for (const service of Object.values(compose.services)) {
    if (!service.build) continue;
    const context = resolve(dirname(composePath), service.build.context);
    const dockerfile = resolve(context, service.build.dockerfile);
    if (!images.has(dockerfile)) images.set(dockerfile, { tag: `localhost/fedkd-ct-${service.build.dockerfile.replace(/^.*\//, '').replace(/\.?Dockerfile$/i, '')}:latest`, dockerfile, context });
  }
  for (const image of images.values()) {
    await step(`build ${image.tag}`, () =>
      runLogged('podman', [...PODMAN_GLOBAL, 'build', '--format', 'docker', '--network', 'host', ...ULIMITS, '--tag', image.tag, '--file', image.dockerfile, image.context], join(temp, `build-${image.tag.replace(/\W+/g, '_')}.log`), (l) => /^(\[\d+\/\d+\] )?STEP \d+\/\d+:/.test(l) || /^(COMMIT|Successfully tagged)/.test(l)),
    );
  }
  const imageOf = (service: ComposeService) => images.get(resolve(resolve(dirname(composePath), service.build!.context), service.build!.dockerfile))!.tag;

  await step('image checks', () => {
    for (const { tag, dockerfile } of images.values()) {
      const id = podman(['run', '--rm', '--network', 'none', ...ULIMITS, '--entrypoint', 'id', tag]).stdout.trim();
      if (/^uid=0\b/.test(id)) throw new Failure(`${tag} runs as root: ${id}`);
      const size = Number(podman(['image', 'inspect', '--format', '{{.Size}}', tag]).stdout.trim());
      const check = podman(['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', tag]).stdout.trim();
      if (!check || check === 'null') throw new Failure(`${tag} has no HEALTHCHECK`);
      say(`  ${tag}: ${(size / 1e6).toFixed(0)} MB, runs as ${id}, has a health check`);
      // Compilers belong to the coordinator's build stage only; the client needs no SQLite and no Nest.
      const client = /edge-client/.test(dockerfile);
      const probe = `for t in cc gcc g++ c++ make python3; do command -v $t; done; ${client ? 'ls -d node_modules/better-sqlite3 node_modules/@nestjs 2>/dev/null; ' : ''}true`;
      const found = podman(['run', '--rm', '--network', 'none', ...ULIMITS, '--entrypoint', 'sh', tag, '-c', probe]).stdout.trim();
      if (found) throw new Failure(`${tag} should hold no compiler${client ? ', SQLite module or Nest' : ''}, but has:\n${found}`);
      say(`  ${tag}: no compiler${client ? ', no better-sqlite3, no Nest' : ''}`);
    }
  });

  // The compose set: a network of this run, its named volumes, the services in depends_on order.
  const network = `${runId}-net`;
  const volumeName = (v: string) => `${runId}-${v}`;
  const containerName = (s: string) => `${runId}-${s}`;
  const vars: Record<string, string> = {};
  const envFile = join(temp, '.env');
  let url = '';

  const start = async (name: string, service: ComposeService, overrides: Record<string, string>) => {
    const args = ['run', '--detach', '--name', containerName(name), '--network', network, '--network-alias', name, ...ULIMITS];
    if (service.restart) args.push('--restart', service.restart);
    for (const [key, value] of Object.entries({ ...service.environment, ...overrides })) args.push('--env', `${key}=${interpolate(String(value), vars)}`);
    for (const mount of service.volumes ?? []) {
      const [source, ...rest] = mount.split(':');
      const named = compose.volumes && source in compose.volumes;
      args.push('--volume', [named ? volumeName(source) : resolve(dirname(composePath), source), ...rest].join(':'));
    }
    for (const mapping of service.ports ?? []) {
      const containerPort = String(mapping).split(':').pop()!;
      const hostPort = await freePort();
      args.push('--publish', `127.0.0.1:${hostPort}:${containerPort}`);
      if (name === 'coordinator') url = `http://127.0.0.1:${hostPort}`;
      say(`  ${name}: port ${containerPort} published on 127.0.0.1:${hostPort}`);
    }
    made.containers.push(containerName(name));
    podman([...args, imageOf(service)]);
  };

  /** `podman healthcheck run` until it passes (podman's own timers need systemd, absent here), failing fast if the container stops. */
  const untilHealthy = async (name: string, deadline: number) => {
    for (;;) {
      const state = inspect(containerName(name));
      if (state.status !== 'running' || state.restarts > 0) throw new Failure(`${containerName(name)} is ${state.status} (restarts: ${state.restarts})`);
      if (podman(['healthcheck', 'run', containerName(name)], { allowFail: true }).status === 0 && inspect(containerName(name)).health === 'healthy') return;
      if (Date.now() > deadline) throw new Failure(`${containerName(name)}: health check still failing after ${opts.timeoutS} s`);
      await sleep(2000);
    }
  };

  const services = Object.entries(compose.services);
  const first = services.filter(([, s]) => dependsOn(s).length === 0);
  const rest = services.filter(([, s]) => dependsOn(s).length > 0);
  const deadline = () => Date.now() + opts.timeoutS * 1000;

  await step(`start ${first.map(([n]) => n).join(', ')}`, async () => {
    podman(['network', 'create', network]);
    made.networks.push(network);
    for (const v of Object.keys(compose.volumes ?? {})) {
      made.volumes.push(volumeName(v));
      podman(['volume', 'create', volumeName(v)]);
    }
    for (const [name, service] of first) {
      await start(name, service, name === 'coordinator' ? { FEDKD_ROUNDS: String(opts.rounds), ...COORDINATOR_OVERRIDES } : {});
    }
    const until = deadline();
    for (const [name] of first) await untilHealthy(name, until);
  });
  if (!url) throw new Failure('the compose file\'s coordinator publishes no port');

  // README, "Docker": a token per client from `enroll`, into the env file the clients' ${CLIENT_i_TOKEN} come from.
  const exec = (args: string[]) => podman(['exec', containerName('coordinator'), 'node', 'dist/apps/cli/src/main.js', ...args]).stdout.trim();
  let readToken = '';
  await step('enrol clients, create read token', () => {
    const clients = rest.map(([n]) => n);
    for (const name of clients) {
      const token = exec(['enroll', '--client', name]);
      if (!token || /\s/.test(token)) throw new Failure(`enroll --client ${name} printed no token: ${JSON.stringify(token)}`);
      const match = /^client-(\d+)$/.exec(name);
      vars[match ? `CLIENT_${match[1]}_TOKEN` : `${name.toUpperCase().replace(/\W/g, '_')}_TOKEN`] = token;
    }
    writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
    readToken = exec(['admin', 'token', 'create', '--name', 'ops', '--scope', 'read']);
    if (!readToken || /\s/.test(readToken)) throw new Failure(`admin token create printed no token: ${JSON.stringify(readToken)}`);
    say(`  ${clients.length} enrolment tokens in ${envFile}; read token for GET /rounds`);
  });

  await step(`start ${rest.map(([n]) => n).join(', ')}`, async () => {
    for (const [name, service] of rest) {
      await start(name, service, CLIENT_OVERRIDES);
    }
  });

  await step(`wait for a published round (FEDKD_ROUNDS=${opts.rounds})`, async () => {
    const until = deadline();
    let last = '';
    for (;;) {
      for (const name of made.containers) {
        const state = inspect(name);
        if (state.status !== 'running' || state.restarts > 0) throw new Failure(`${name} is ${state.status} (restarts: ${state.restarts}) before a round was published`);
      }
      try {
        const rounds = await getJson<{ id?: number; round?: number; state: string }[]>(`${url}/rounds`, readToken);
        const states = rounds.map((r) => r.state).join(', ') || 'none yet';
        if (states !== last) say(`  rounds: ${states}`);
        last = states;
        if (rounds.some((r) => r.state === 'published')) return;
      } catch (err) {
        if (err instanceof Error && /: 40[13]$/.test(err.message)) throw new Failure(`${err.message}: the read token was refused`);
      }
      if (Date.now() > until) throw new Failure(`no round published after ${opts.timeoutS} s (rounds: ${last || 'none'})`);
      await sleep(2000);
    }
  });

  await step('health checks and connected clients', async () => {
    const until = deadline();
    for (const [name] of services) {
      await untilHealthy(name, until);
      say(`  ${containerName(name)}: ${inspect(containerName(name)).health}`);
    }
    const clients = await getJson<{ name: string; connected: boolean }[]>(`${url}/clients`, readToken);
    const connected = clients.filter((c) => c.connected).map((c) => c.name).sort();
    const expected = rest.map(([n]) => n).sort();
    if (JSON.stringify(connected) !== JSON.stringify(expected)) throw new Failure(`connected clients ${connected.join(', ') || 'none'}, expected ${expected.join(', ')}`);
    say(`  GET /clients: ${connected.join(', ')} connected`);
  });
}

main()
  .then(() => {
    cleanup();
    say(`PASSED in ${((Date.now() - started) / 1000).toFixed(0)} s: ${timings.map(([n, s]) => `${n} ${s.toFixed(0)} s`).join('; ')}`);
  })
  .catch((err: unknown) => {
    const message = err instanceof Failure ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    console.error(`\n[containers] FAILED: ${message}\n`);
    if (made.containers.length) printLogs(made.containers);
    cleanup();
    process.exitCode = 1;
  });
