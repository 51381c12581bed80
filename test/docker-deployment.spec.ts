import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { getJson, tempDir, untilAsync } from './support/federation-harness';
import { freePort } from '../apps/cli/src/simulate/process-fleet';

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
    expect(coordinator.volumes).toEqual(['coordinator-data:/data', 'coordinator-public:/public']);
    expect(coordinator.environment!.FEDKD_KEY.startsWith('/data/')).toBe(true);
    expect(coordinator.environment!.FEDKD_DB.startsWith('/data/')).toBe(true);
    for (const name of clientNames) {
      const client = compose.services[name];
      // Its own data and key; the coordinator's public key read-only; nothing of the coordinator's data.
      expect(client.volumes).toEqual([`${name}-data:/data`, 'coordinator-public:/coordinator:ro']);
      expect(client.environment!.FEDKD_KEY.startsWith('/data/')).toBe(true);
      expect(client.environment!.FEDKD_COORDINATOR_KEY).toBe('/coordinator/coordinator.pub');
      expect(client.environment!.FEDKD_COORDINATOR_URL).toBe('http://coordinator:8080');
      expect(client.environment!.FEDKD_CLIENT_NAME).toBe(name);
    }
    expect(Object.keys(compose.volumes).sort()).toEqual(['client-0-data', 'client-1-data', 'client-2-data', 'coordinator-data', 'coordinator-public']);
  });

  it('Dockerfiles are multi-stage, run as non-root with a health check, and name real entry points; only the coordinator builds SQLite', () => {
    for (const service of [compose.services.coordinator, compose.services['client-0']]) {
      const text = dockerfile(service);
      expect(text.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
      if (service === compose.services.coordinator) expect(text).toMatch(/apt-get install[^\n]*python3 make g\+\+/);
      // The client image installs the edge client's own dependencies: no compilers, no Nest, no SQLite.
      else expect(text).toMatch(/COPY [^\n]*apps\/edge-client\/package\.json apps\/edge-client\/package-lock\.json/);
      if (service !== compose.services.coordinator) expect(text).not.toMatch(/apt-get install/);
      expect(text).toMatch(/^USER node$/m);
      expect(healthcheck(text)[0]).toBe('node');
      const [node, entry] = execForm(text, 'ENTRYPOINT');
      expect(node).toBe('node');
      expect(existsSync(join(root, entry))).toBe(true);
    }
  });

  it('the containers\' commands, run on this host with their environment and the README\'s enrolment steps, start and join a round', async () => {
    const port = await freePort();
    const volumes = join(dir.path, 'volumes');
    /** A container path under one of the service's volume mounts, as a host path. */
    const onHost = (service: ComposeService, value: string): string => {
      for (const mount of service.volumes ?? []) {
        const [volume, target] = mount.split(':');
        if (value === target || value.startsWith(`${target}/`)) return join(volumes, volume, value.slice(target.length));
      }
      return value;
    };
    const hostEnv = (service: ComposeService, image: string, extra: Record<string, string>): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const [key, value] of Object.entries({ ...imageEnv(image), ...service.environment })) env[key] = onHost(service, value);
      return { ...env, ...extra };
    };
    const start = (entry: string, env: NodeJS.ProcessEnv, args: string[] = []) => {
      const child = spawn(process.execPath, [entry, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
      processes.push(child);
      return child;
    };
    const url = `http://127.0.0.1:${port}`;

    // 1. The coordinator container: creates its key, publishes the public half, listens.
    const coordinatorService = compose.services.coordinator;
    const coordinatorFile = dockerfile(coordinatorService);
    const coordinatorEnv = hostEnv(coordinatorService, coordinatorFile, {
      // Only what a host needs instead of a container network:
      FEDKD_HOST: '127.0.0.1',
      FEDKD_PORT: String(port),
      FEDKD_ROUNDS: '1',
      FEDKD_STUDENT_EPOCHS: '5',
    });
    start(execForm(coordinatorFile, 'ENTRYPOINT')[1], coordinatorEnv);
    await untilAsync(async () => {
      try {
        return (await fetch(`${url}/health`)).ok;
      } catch {
        return false;
      }
    }, 30_000, 100);

    // 2. README's enrolment: `enroll --client NAME` in the coordinator container, once per client.
    const tokens = clientNames.map((name) => {
      const enrolled = spawnSync(process.execPath, ['dist/apps/cli/src/main.js', 'enroll', '--client', name], { cwd: root, env: coordinatorEnv, encoding: 'utf8' });
      expect(enrolled.status).toBe(0);
      return enrolled.stdout.trim();
    });

    // README's read token for the REST API: `admin token create` in the coordinator container.
    const created = spawnSync(process.execPath, ['dist/apps/cli/src/main.js', 'admin', 'token', 'create', '--name', 'operator', '--scope', 'read'], { cwd: root, env: coordinatorEnv, encoding: 'utf8' });
    expect(created.status, created.stderr).toBe(0);
    const readToken = created.stdout.trim();

    // 3. The client containers, with their tokens as docker/.env would give them.
    const statusFiles: string[] = [];
    clientNames.forEach((name, i) => {
      const service = compose.services[name];
      const text = dockerfile(service);
      const env = hostEnv(service, text, { FEDKD_COORDINATOR_URL: url, FEDKD_EPOCHS: '2' });
      expect(service.environment!.FEDKD_ENROLMENT_TOKEN).toBe(`\${CLIENT_${i}_TOKEN:-}`);
      env.FEDKD_ENROLMENT_TOKEN = tokens[i];
      statusFiles.push(env.FEDKD_STATUS_FILE!);
      start(execForm(text, 'ENTRYPOINT')[1], env);
    });

    await untilAsync(async () => {
      try {
        const rounds = await getJson<{ state: string }[]>(`${url}/rounds`, readToken);
        return rounds.some((r) => r.state === 'published');
      } catch {
        return false;
      }
    }, 150_000, 250);
    const clients = await getJson<{ name: string; connected: boolean }[]>(`${url}/clients`, readToken);
    expect(clients.filter((c) => c.connected).map((c) => c.name).sort()).toEqual([...clientNames].sort());

    // The images' own health checks pass against the running processes.
    const coordinatorCheck = healthcheck(coordinatorFile);
    expect(spawnSync(process.execPath, coordinatorCheck.slice(1), { env: coordinatorEnv }).status).toBe(0);
    const clientCheck = healthcheck(dockerfile(compose.services['client-0']));
    await untilAsync(async () => existsSync(statusFiles[0]), 10_000);
    expect(spawnSync(process.execPath, clientCheck.slice(1), { env: { ...process.env, FEDKD_STATUS_FILE: statusFiles[0] } }).status).toBe(0);
    // Each client's secret key stayed in its own volume, readable by its owner only.
    const { statSync } = await import('node:fs');
    expect(statSync(join(volumes, 'client-0-data', 'keys', 'client-0.key')).mode & 0o077).toBe(0);
  }, 200_000);
});
