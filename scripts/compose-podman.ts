/**
 * A compose file of docker/ built and run for real with podman, on machines with no Docker engine
 * and no registry: the pieces `npm run test:containers` (docker/compose.yaml) and
 * `npm run test:containers:scale` (docker/compose.scale.yaml) share.
 *
 * - podman, runc and debootstrap, installed with apt-get when absent (as root); the base images
 *   node:20-bookworm(-slim) made by docker/make-base-image.sh when missing;
 * - one image per Dockerfile the compose file builds, one build at a time, then checked: a non-root
 *   user, a HEALTHCHECK, no compiler (and for the edge client no SQLite module and no Nest);
 * - the services on a podman network of the run (service names resolve as under compose), each
 *   with its compose environment, entrypoint, command and named volumes, started in dependency
 *   order, each after its `depends_on` conditions hold (service_healthy, service_completed_successfully,
 *   service_started); published ports on free loopback ports;
 * - enrolment as README's "Docker" gives it (`enroll --client NAME` in a coordinator container, the
 *   tokens in an env file of the run that the clients' ${CLIENT_i_TOKEN} come from);
 * - removal of everything the run made (containers with their anonymous volumes, named volumes,
 *   network, temporary directory), also on failure and on Ctrl-C. Images stay, with their cache.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import { freePort } from '../apps/cli/src/simulate/process-fleet';

export interface ComposeService {
  build?: { context: string; dockerfile: string };
  entrypoint?: string | string[];
  command?: string | string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition?: string }> | string[];
  restart?: string;
}
export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Where podman runs here: the runc runtime (crun fails on rlimits and cgroups) and explicit ulimits.
 * Builds use Docker's image format: in podman's default (OCI) format HEALTHCHECK is dropped.
 */
export const PODMAN_GLOBAL = ['--runtime', 'runc'];
export const ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096'];
export const BASE_IMAGES = ['node:20-bookworm', 'node:20-bookworm-slim'];

export const root = resolve(__dirname, '..', '..');
const started = Date.now();
const timings: [string, number][] = [];
let label = 'containers';

export function say(line: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  console.log(`[${label} ${t}s] ${line}`);
}

export class Failure extends Error {}
/** A command of the run was stopped by a signal (Ctrl-C reaches the whole process group). */
export class Interrupted extends Failure {
  constructor(
    readonly signal: NodeJS.Signals,
    what: string,
  ) {
    super(`${what} was stopped by ${signal}`);
  }
}
const STOP_SIGNALS: readonly string[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs podman (or any command) to completion, collecting its output; throws a Failure on a non-zero
 * exit unless `allowFail`. In a session of its own (`setsid --wait`): a Ctrl-C at the terminal
 * reaches this script alone, which lets the command finish, then removes what the run made.
 */
export function run(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): { status: number; stdout: string; stderr: string } {
  const result = spawnSync('setsid', ['--wait', cmd, ...args], { encoding: 'utf8', input: opts.input, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Failure(`setsid (util-linux) could not run ${cmd}: ${result.error.message}`);
  if (result.status !== 0 && /^setsid: failed to execute/.test(result.stderr ?? '')) throw new Failure(`${cmd} could not run: ${result.stderr.trim()}`);
  if (result.signal && STOP_SIGNALS.includes(result.signal)) throw new Interrupted(result.signal, `\`${cmd} ${args.slice(0, 4).join(' ')} ...\``);
  const out = { status: result.status ?? 1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  if (out.status !== 0 && !opts.allowFail) {
    throw new Failure(`\`${cmd} ${args.join(' ')}\` exited ${out.status}: ${(out.stderr || out.stdout).trim().split('\n').slice(-15).join('\n')}`);
  }
  return out;
}
export const podman = (args: string[], opts?: { allowFail?: boolean }) => run('podman', [...PODMAN_GLOBAL, ...args], opts);

let current: ChildProcess | undefined;
/** While a build runs: the storage-only (build) containers that existed before it. */
let buildingSince: Set<string> | undefined;
const externalContainers = () => new Set(podman(['ps', '--all', '--external', '--format', '{{.ID}}'], { allowFail: true }).stdout.split('\n').filter(Boolean));

/** Runs a long command with its output in `logFile`, echoing the lines `show` picks; on failure prints the log's tail. */
export function runLogged(cmd: string, args: string[], logFile: string, show: (line: string) => boolean): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const log = createWriteStream(logFile);
    // Its own process group: a Ctrl-C reaches this script, whose cleanup stops the command.
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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

export async function step<T>(name: string, body: () => Promise<T> | T): Promise<T> {
  say(`${name} ...`);
  const t0 = Date.now();
  const value = await body();
  const seconds = (Date.now() - t0) / 1000;
  timings.push([name, seconds]);
  say(`${name}: done in ${seconds.toFixed(1)} s`);
  return value;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Compose's variable substitution: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, from this run's env file only. */
export function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g, (_, name: string, op: string | undefined, arg: string | undefined) => {
    const v = vars[name];
    if (op === ':-') return v ? v : (arg ?? '');
    if (op === '-') return v !== undefined ? v : (arg ?? '');
    if ((op === ':?' && !v) || (op === '?' && v === undefined)) throw new Failure(`\${${name}} is required: ${arg || 'unset'}`);
    return v ?? '';
  });
}

/** The services a service waits for, with the condition each must meet (compose's default: service_started). */
export function dependsOn(service: ComposeService): { name: string; condition: string }[] {
  if (!service.depends_on) return [];
  if (Array.isArray(service.depends_on)) return service.depends_on.map((name) => ({ name, condition: 'service_started' }));
  return Object.entries(service.depends_on).map(([name, d]) => ({ name, condition: d?.condition ?? 'service_started' }));
}

export async function getJson<T>(url: string, token: string): Promise<T> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

/** The container's state, its exit code, and its health when the image has a check. */
export function inspect(name: string): { status: string; health: string; restarts: number; exitCode: number } {
  const out = podman(['inspect', '--format', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}} {{.State.Health.Status}}', name], { allowFail: true }).stdout.trim();
  const [status = 'missing', restarts = '0', exitCode = '0', health = ''] = out.split(' ');
  return { status, health, restarts: Number(restarts), exitCode: Number(exitCode) };
}

export function printLogs(names: string[]): void {
  for (const name of names) {
    const logs = podman(['logs', '--tail', '25', name], { allowFail: true });
    console.log(`----- last lines of ${name} -----\n${(logs.stdout + logs.stderr).trim()}`);
  }
}

/** podman and runc (and debootstrap for the base image), installed with apt-get when absent; then the base images. */
export async function preparePodman(temp: string): Promise<void> {
  await step('podman', () => {
    if (process.getuid?.() !== 0) throw new Failure('needs root: podman runs rootful here with the runc runtime, and the base image needs debootstrap');
    const absent = ['podman', 'runc', 'debootstrap'].filter((tool) => run('sh', ['-c', `command -v ${tool}`], { allowFail: true }).status !== 0);
    if (absent.length) {
      if (run('sh', ['-c', 'command -v apt-get'], { allowFail: true }).status !== 0) throw new Failure(`${absent.join(', ')} missing and no apt-get to install them (Debian packages: podman runc debootstrap)`);
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
}

/** One run of a compose file: its images, network, volumes and containers, and their removal. */
export class ComposeRun {
  readonly compose: ComposeFile;
  readonly runId = `fedkd-ct-${randomBytes(3).toString('hex')}`;
  readonly temp: string;
  readonly network: string;
  /** The env file's variables (tokens, passwords): what compose would read from docker/.env. */
  readonly vars: Record<string, string> = {};
  readonly envFile: string;
  /** Published ports: service -> http://127.0.0.1:PORT of its first published port. */
  readonly urls = new Map<string, string>();
  private readonly images = new Map<string, { tag: string; dockerfile: string; context: string }>();
  private readonly made = { containers: [] as string[], volumes: [] as string[], networks: [] as string[], dirs: [] as string[] };
  private cleaning: Promise<void> | undefined;

  constructor(
    readonly composePath: string,
    readonly opts: { timeoutS: number; keep: boolean },
  ) {
    this.compose = parse(readFileSync(composePath, 'utf8'), { merge: true }) as ComposeFile;
    this.temp = mkdtempSync(join(tmpdir(), `${this.runId}-`));
    this.made.dirs.push(this.temp);
    this.network = `${this.runId}-net`;
    this.envFile = join(this.temp, '.env');
    say(`run ${this.runId} of ${composePath.replace(`${root}/`, '')}; logs and env file in ${this.temp}`);
  }

  containerName = (service: string) => `${this.runId}-${service}`;
  volumeName = (volume: string) => `${this.runId}-${volume}`;
  get containers(): string[] {
    return [...this.made.containers];
  }
  get services(): [string, ComposeService][] {
    return Object.entries(this.compose.services);
  }
  deadline(): number {
    return Date.now() + this.opts.timeoutS * 1000;
  }

  /** The services that enrol: their environment takes a token from the env file. */
  clientServices(): string[] {
    return this.services.filter(([, s]) => /^\$\{\w+/.test(s.environment?.FEDKD_ENROLMENT_TOKEN ?? '')).map(([n]) => n);
  }

  /** One image per Dockerfile the compose file builds, one build at a time. */
  async buildImages(): Promise<void> {
    for (const service of Object.values(this.compose.services)) {
      if (!service.build) throw new Failure('every service must build from a Dockerfile here (no registry to pull images from)');
      const context = resolve(dirname(this.composePath), service.build.context);
      const dockerfile = resolve(context, service.build.dockerfile);
      if (!this.images.has(dockerfile)) this.images.set(dockerfile, { tag: `localhost/fedkd-ct-${service.build.dockerfile.replace(/^.*\//, '').replace(/\.?Dockerfile$/i, '')}:latest`, dockerfile, context });
    }
    for (const image of this.images.values()) {
      buildingSince = externalContainers();
      await step(`build ${image.tag}`, () =>
        runLogged('podman', [...PODMAN_GLOBAL, 'build', '--format', 'docker', '--network', 'host', ...ULIMITS, '--tag', image.tag, '--file', image.dockerfile, image.context], join(this.temp, `build-${image.tag.replace(/\W+/g, '_')}.log`), (l) => /^(\[\d+\/\d+\] )?STEP \d+\/\d+:/.test(l) || /^(COMMIT|Successfully tagged)/.test(l)),
      );
      buildingSince = undefined;
    }
  }

  imageOf(service: ComposeService): string {
    return this.images.get(resolve(resolve(dirname(this.composePath), service.build!.context), service.build!.dockerfile))!.tag;
  }

  /** Every image: not root, a health check, no compiler; the edge client's also no SQLite module and no Nest. */
  async checkImages(): Promise<void> {
    await step('image checks', () => {
      for (const { tag, dockerfile } of this.images.values()) {
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
  }

  /** The run's network and named volumes. */
  createNetworkAndVolumes(): void {
    podman(['network', 'create', this.network]);
    this.made.networks.push(this.network);
    for (const v of Object.keys(this.compose.volumes ?? {})) {
      this.made.volumes.push(this.volumeName(v));
      podman(['volume', 'create', this.volumeName(v)]);
    }
  }

  /** `podman run` of one service as compose would start it, with `overrides` added to its environment. */
  async start(name: string, overrides: Record<string, string> = {}): Promise<void> {
    const service = this.compose.services[name];
    const args = ['run', '--detach', '--name', this.containerName(name), '--network', this.network, '--network-alias', name, ...ULIMITS];
    if (service.restart && service.restart !== 'no') args.push('--restart', service.restart);
    if (service.entrypoint !== undefined) args.push('--entrypoint', Array.isArray(service.entrypoint) ? JSON.stringify(service.entrypoint) : service.entrypoint);
    for (const [key, value] of Object.entries({ ...service.environment, ...overrides })) args.push('--env', `${key}=${interpolate(String(value), this.vars)}`);
    for (const mount of service.volumes ?? []) {
      const [source, ...rest] = mount.split(':');
      const named = this.compose.volumes && source in this.compose.volumes;
      args.push('--volume', [named ? this.volumeName(source) : resolve(dirname(this.composePath), source), ...rest].join(':'));
    }
    for (const mapping of service.ports ?? []) {
      const containerPort = String(mapping).split(':').pop()!;
      const hostPort = await freePort();
      args.push('--publish', `127.0.0.1:${hostPort}:${containerPort}`);
      if (!this.urls.has(name)) this.urls.set(name, `http://127.0.0.1:${hostPort}`);
      say(`  ${name}: port ${containerPort} published on 127.0.0.1:${hostPort}`);
    }
    args.push(this.imageOf(service));
    // compose's `command`: a list is the arguments as they are; a string is split on white space.
    if (service.command !== undefined) args.push(...(Array.isArray(service.command) ? service.command : service.command.trim().split(/\s+/)));
    this.made.containers.push(this.containerName(name));
    podman(args);
  }

  /** `podman healthcheck run` until it passes (podman's own timers need systemd, absent here), failing fast if the container stops. */
  async untilHealthy(name: string, deadline: number): Promise<void> {
    const container = this.containerName(name);
    for (;;) {
      const state = inspect(container);
      if (state.status !== 'running' || state.restarts > 0) throw new Failure(`${container} is ${state.status} (exit code ${state.exitCode}, restarts: ${state.restarts})`);
      if (podman(['healthcheck', 'run', container], { allowFail: true }).status === 0 && inspect(container).health === 'healthy') return;
      if (Date.now() > deadline) throw new Failure(`${container}: health check still failing after ${this.opts.timeoutS} s`);
      await sleep(2000);
    }
  }

  /** A one-shot service: until it has exited, which must be with status 0. */
  async untilCompleted(name: string, deadline: number): Promise<void> {
    const container = this.containerName(name);
    for (;;) {
      const state = inspect(container);
      if (state.status === 'exited' || state.status === 'stopped') {
        if (state.exitCode !== 0) throw new Failure(`${container} exited with ${state.exitCode}`);
        return;
      }
      if (state.status === 'missing') throw new Failure(`${container} is missing`);
      if (Date.now() > deadline) throw new Failure(`${container} still ${state.status} after ${this.opts.timeoutS} s`);
      await sleep(1000);
    }
  }

  /** Until every `depends_on` condition of the service holds. */
  async untilDependencies(name: string, deadline: number): Promise<void> {
    for (const dep of dependsOn(this.compose.services[name])) {
      if (dep.condition === 'service_healthy') await this.untilHealthy(dep.name, deadline);
      else if (dep.condition === 'service_completed_successfully') await this.untilCompleted(dep.name, deadline);
      else if (dep.condition !== 'service_started') throw new Failure(`${name}: depends_on condition ${dep.condition} is not supported here`);
    }
  }

  /** The services in start order: each wave depends only on earlier waves. */
  waves(): string[][] {
    const placed = new Set<string>();
    const waves: string[][] = [];
    while (placed.size < this.services.length) {
      const wave = this.services.filter(([n, s]) => !placed.has(n) && dependsOn(s).every((d) => placed.has(d.name))).map(([n]) => n);
      if (!wave.length) throw new Failure(`depends_on has a cycle or names an unknown service among ${this.services.filter(([n]) => !placed.has(n)).map(([n]) => n).join(', ')}`);
      wave.forEach((n) => placed.add(n));
      waves.push(wave);
    }
    return waves;
  }

  /** `fedkd ...` in a service's container. */
  exec(service: string, args: string[]): string {
    return podman(['exec', this.containerName(service), 'node', 'dist/apps/cli/src/main.js', ...args]).stdout.trim();
  }

  /**
   * Starts every service in dependency order, each wave after its conditions hold. Before the first
   * client starts: README's enrolment in `enrolVia` (once it is healthy), a token per client in the
   * run's env file, and a read token for the REST API, which this returns.
   */
  async startAll(options: { enrolVia: string; overrides: (name: string, service: ComposeService) => Record<string, string> }): Promise<{ readToken: string }> {
    const clients = this.clientServices();
    let readToken = '';
    await step('network and volumes', () => this.createNetworkAndVolumes());
    for (const wave of this.waves()) {
      if (!readToken && wave.some((n) => clients.includes(n))) {
        readToken = await step('enrol clients, create read token', async () => {
          await this.untilHealthy(options.enrolVia, this.deadline());
          for (const name of clients) {
            const token = this.exec(options.enrolVia, ['enroll', '--client', name]);
            if (!token || /\s/.test(token)) throw new Failure(`enroll --client ${name} printed no token: ${JSON.stringify(token)}`);
            const match = /\$\{(\w+)/.exec(this.compose.services[name].environment!.FEDKD_ENROLMENT_TOKEN);
            this.vars[match![1]] = token;
          }
          this.writeEnvFile();
          const read = this.exec(options.enrolVia, ['admin', 'token', 'create', '--name', 'ops', '--scope', 'read']);
          if (!read || /\s/.test(read)) throw new Failure(`admin token create printed no token: ${JSON.stringify(read)}`);
          say(`  ${clients.length} enrolment tokens (made in ${options.enrolVia}) in ${this.envFile}; read token for the REST API`);
          return read;
        });
      }
      await step(`start ${wave.join(', ')}`, async () => {
        const deadline = this.deadline();
        for (const name of wave) await this.untilDependencies(name, deadline);
        for (const name of wave) await this.start(name, options.overrides(name, this.compose.services[name]));
      });
    }
    return { readToken };
  }

  writeEnvFile(): void {
    writeFileSync(this.envFile, Object.entries(this.vars).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
  }

  /** Until GET /rounds (with the read token) shows a published round, failing fast if any container stops or restarts. */
  async untilRoundPublished(url: string, readToken: string, rounds: number): Promise<{ round: number }> {
    return step(`wait for a published round (FEDKD_ROUNDS=${rounds})`, async () => {
      const until = this.deadline();
      let last = '';
      for (;;) {
        for (const [name, service] of this.services) {
          const state = inspect(this.containerName(name));
          const oneShot = service.restart === 'no' && state.status === 'exited' && state.exitCode === 0;
          if (!oneShot && (state.status !== 'running' || state.restarts > 0)) throw new Failure(`${this.containerName(name)} is ${state.status} (restarts: ${state.restarts}) before a round was published`);
        }
        try {
          const list = await getJson<{ number: number; state: string }[]>(`${url}/rounds`, readToken);
          const states = list.map((r) => r.state).join(', ') || 'none yet';
          if (states !== last) say(`  rounds: ${states}`);
          last = states;
          const published = list.find((r) => r.state === 'published');
          if (published) return { round: published.number };
        } catch (err) {
          if (err instanceof Error && /: 40[13]$/.test(err.message)) throw new Failure(`${err.message}: the read token was refused`);
        }
        if (Date.now() > until) throw new Failure(`no round published after ${this.opts.timeoutS} s (rounds: ${last || 'none'})`);
        await sleep(2000);
      }
    });
  }

  /**
   * Removes what the run made (unless --keep); one removal however often it is called. A build in
   * progress is stopped first, and the working containers it leaves are removed.
   */
  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      const build = current;
      if (build && build.exitCode === null && build.signalCode === null) {
        say('stopping the build in progress');
        const exited = new Promise((r) => build.once('close', r));
        build.kill('SIGTERM');
        await Promise.race([exited, sleep(20_000)]);
      }
      if (buildingSince) {
        // The storage-only containers that appeared during the interrupted build: its working containers.
        const added = [...externalContainers()].filter((id) => !buildingSince!.has(id));
        if (added.length) podman(['rm', '--force', ...added], { allowFail: true });
        say(`removed ${added.length} working containers of the interrupted build`);
      }
      if (this.opts.keep) {
        say(`--keep: left containers ${this.made.containers.join(' ')}, volumes, network ${this.made.networks.join(' ')} and ${this.made.dirs.join(' ')}`);
        return;
      }
      const t0 = Date.now();
      // --volumes: the anonymous volumes of images' VOLUME paths that compose mounts nothing on.
      for (const name of [...this.made.containers].reverse()) podman(['rm', '--force', '--volumes', '--ignore', '--time', '2', name], { allowFail: true });
      for (const name of this.made.volumes) podman(['volume', 'rm', '--force', name], { allowFail: true });
      for (const name of this.made.networks) podman(['network', 'rm', '--force', name], { allowFail: true });
      for (const dir of this.made.dirs) rmSync(dir, { recursive: true, force: true });
      const left = this.made.containers.length ? podman(['ps', '--all', '--format', '{{.Names}}'], { allowFail: true }).stdout.split('\n').filter((n) => this.made.containers.includes(n)) : [];
      say(`cleanup: removed ${this.made.containers.length} containers, ${this.made.volumes.length} volumes, ${this.made.networks.length} network, temporary directory (${((Date.now() - t0) / 1000).toFixed(1)} s)${left.length ? `; STILL PRESENT: ${left.join(' ')}` : ''}`);
    })();
    return this.cleaning;
  }
}

/**
 * Runs a containers test: `body` gets a ComposeRun to register (for cleanup on Ctrl-C), and the
 * outcome is printed with each step's time: PASSED, or FAILED with the reason and every
 * container's last log lines (exit status 1). Everything made is removed in both cases.
 */
export function runContainersTest(name: string, body: (register: (r: ComposeRun) => ComposeRun) => Promise<void>): void {
  label = name;
  let composeRun: ComposeRun | undefined;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping and cleaning up`);
    void (composeRun?.cleanup() ?? Promise.resolve()).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  body((r) => (composeRun = r))
    .then(async () => {
      await composeRun?.cleanup();
      say(`PASSED in ${((Date.now() - started) / 1000).toFixed(0)} s: ${timings.map(([n, s]) => `${n} ${s.toFixed(0)} s`).join('; ')}`);
    })
    .catch(async (err: unknown) => {
      if (err instanceof Interrupted || stopping) return onSignal(err instanceof Interrupted ? err.signal : 'SIGINT');
      const message = err instanceof Failure ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
      console.error(`\n[${name}] FAILED: ${message}\n`);
      if (composeRun?.containers.length) printLogs(composeRun.containers);
      await composeRun?.cleanup();
      say(`timings: ${timings.map(([n, s]) => `${n} ${s.toFixed(0)} s`).join('; ')}`);
      process.exitCode = 1;
    });
}
