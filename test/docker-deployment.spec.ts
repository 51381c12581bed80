import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { getJson, tempDir, untilAsync } from './support/federation-harness';

/**
 * These machines cannot pull base images, so the deployment is tested for what can run here: the
 * compose file parses and names the real entry points, and each container's command, run directly
 * on the host with the container's environment, starts and joins a round.
 */
interface ComposeService {
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  volumes?: string[];
}

const root = join(__dirname, '..');
const compose = parse(readFileSync(join(root, 'docker/compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };

function dockerfile(service: ComposeService): string {
  return readFileSync(join(root, 'docker', service.build!.context, service.build!.dockerfile), 'utf8');
}

/** The exec-form instruction's JSON array, e.g. ENTRYPOINT ["node", "dist/..."]. */
function execForm(text: string, instruction: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith(`${instruction} [`));
  if (!line) throw new Error(`no exec-form ${instruction}`);
  return JSON.parse(line.slice(instruction.length + 1)) as string[];
}

/** A multi-line HEALTHCHECK's CMD array. */
function healthcheck(text: string): string[] {
  const joined = text.replace(/\\\n\s*/g, ' ');
  const line = joined.split('\n').find((l) => l.startsWith('HEALTHCHECK'))!;
  return JSON.parse(line.slice(line.indexOf('CMD ') + 4)) as string[];
}

/** The image's ENV lines as a record (their values are the container's defaults). */
function imageEnv(text: string): Record<string, string> {
  const joined = text.replace(/\\\n\s*/g, ' ');
  const env: Record<string, string> = {};
  for (const line of joined.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, key, value] of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[key] = value;
  }
  return env;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('docker deployment', () => {
  const clientNames = Object.keys(compose.services).filter((n) => n.startsWith('client-'));
  const processes: ChildProcess[] = [];
  const dir = tempDir('fedkd-docker-');

  afterAll(() => {
    processes.forEach((p) => p.kill('SIGKILL'));
    dir.remove();
  });

  it('compose starts one coordinator and three clients, each with its own data volume', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['client-0', 'client-1', 'client-2', 'coordinator']);
    const coordinator = compose.services.coordinator;
    expect(coordinator.volumes).toEqual(['coordinator-data:/data']);
    expect(coordinator.environment!.FEDKD_DB.startsWith('/data/')).toBe(true);
    for (const name of clientNames) {
      const client = compose.services[name];
      expect(client.volumes).toEqual([`${name}-data:/data`]);
      expect(client.environment!.FEDKD_COORDINATOR_URL).toBe('http://coordinator:8080');
      expect(client.environment!.FEDKD_CLIENT_NAME).toBe(name);
    }
    expect(Object.keys(compose.volumes).sort()).toEqual(['client-0-data', 'client-1-data', 'client-2-data', 'coordinator-data']);
  });

  it('Dockerfiles are multi-stage, build the native SQLite module, run as non-root with a health check, and name real entry points', () => {
    for (const service of [compose.services.coordinator, compose.services['client-0']]) {
      const text = dockerfile(service);
      expect(text.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
      expect(text).toMatch(/apt-get install[^\n]*python3 make g\+\+/);
      expect(text).toMatch(/^USER node$/m);
      expect(healthcheck(text)[0]).toBe('node');
      const [node, entry] = execForm(text, 'ENTRYPOINT');
      expect(node).toBe('node');
      expect(existsSync(join(root, entry))).toBe(true);
    }
  });

  it('the containers\' commands, run on this host with their environment, start and join a round', async () => {
    const port = await freePort();
    const coordinatorService = compose.services.coordinator;
    const coordinatorFile = dockerfile(coordinatorService);
    const coordinatorEnv = {
      ...process.env,
      ...imageEnv(coordinatorFile),
      ...coordinatorService.environment,
      // Only what a host needs instead of a container network and volume:
      FEDKD_HOST: '127.0.0.1',
      FEDKD_PORT: String(port),
      FEDKD_DB: join(dir.path, 'coordinator/fedkd.sqlite'),
      FEDKD_ROUNDS: '1',
      FEDKD_STUDENT_EPOCHS: '5',
    };
    const [, coordinatorEntry] = execForm(coordinatorFile, 'ENTRYPOINT');
    const spawnLogged = (entry: string, env: NodeJS.ProcessEnv) => {
      const child = spawn(process.execPath, [entry], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
      processes.push(child);
      return child;
    };
    spawnLogged(coordinatorEntry, coordinatorEnv);
    const url = `http://127.0.0.1:${port}`;

    const statusFiles: string[] = [];
    for (const name of clientNames) {
      const service = compose.services[name];
      const text = dockerfile(service);
      const statusFile = join(dir.path, name, 'status.json');
      statusFiles.push(statusFile);
      spawnLogged(execForm(text, 'ENTRYPOINT')[1], {
        ...process.env,
        ...imageEnv(text),
        ...service.environment,
        FEDKD_COORDINATOR_URL: url,
        FEDKD_STATUS_FILE: statusFile,
        FEDKD_EPOCHS: '2',
      });
    }

    await untilAsync(async () => {
      try {
        const rounds = await getJson<{ state: string }[]>(`${url}/rounds`);
        return rounds.some((r) => r.state === 'published');
      } catch {
        return false;
      }
    }, 150_000, 250);
    const clients = await getJson<{ name: string; connected: boolean }[]>(`${url}/clients`);
    expect(clients.filter((c) => c.connected).map((c) => c.name).sort()).toEqual(clientNames.sort());

    // The images' own health checks pass against the running processes.
    const coordinatorCheck = healthcheck(coordinatorFile);
    expect(spawnSync(coordinatorCheck[0] === 'node' ? process.execPath : coordinatorCheck[0], coordinatorCheck.slice(1), { env: coordinatorEnv }).status).toBe(0);
    const clientCheck = healthcheck(dockerfile(compose.services['client-0']));
    await untilAsync(async () => existsSync(statusFiles[0]), 10_000);
    expect(spawnSync(process.execPath, clientCheck.slice(1), { env: { ...process.env, FEDKD_STATUS_FILE: statusFiles[0] } }).status).toBe(0);
  }, 200_000);
});
