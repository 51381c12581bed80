/**
 * `npm run test:containers:scale`: docker/compose.scale.yaml built and run for real with podman:
 * PostgreSQL, Redis, a one-shot key service, three coordinator replicas, HAProxy in front of them
 * and three edge clients that reach the replicas only through HAProxy.
 *
 *  1. podman and the base images as `npm run test:containers` prepares them (compose-podman.ts).
 *  2. Every Dockerfile the compose file builds (coordinator, edge client, postgres, redis, haproxy),
 *     one at a time, then checked: not root, a health check, no compiler.
 *  3. The services in depends_on order on a podman network of the run, each after its conditions
 *     hold: PostgreSQL and Redis healthy, the key service exited 0, the replicas healthy, the
 *     balancer healthy; POSTGRES_PASSWORD random, in the run's env file (compose: docker/.env).
 *  4. Enrolment in coordinator-1 (any replica would do: the database is shared), then the clients.
 *  5. Waits until GET /rounds through the balancer shows a published round, then until every
 *     client's status file holds that round's student (verified against the pinned shared key)
 *     and says it is connected; then every long-running container's health check passes. Prints
 *     each replica's /health connections (how the balancer spread the clients).
 *  6. Removes everything it made, also on failure and on Ctrl-C; the images stay.
 *
 * Options: --rounds N (default 1), --timeout-s S (each wait, default 900), --keep.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Command } from 'commander';
import { integerArg } from '@fedkd/command-line';
import { ComposeRun, Failure, getJson, inspect, podman, preparePodman, root, runContainersTest, say, sleep, step } from './compose-podman';

/** Kept small so a run takes minutes; the compose file's own values are for real deployments. */
const COORDINATOR_OVERRIDES = { FEDKD_STUDENT_EPOCHS: '5' };
const CLIENT_OVERRIDES = { FEDKD_EPOCHS: '2' };

interface ClientStatus {
  connected: boolean;
  clientId: string | null;
  studentVersion: number | null;
}

runContainersTest('containers-scale', async (register) => {
  const opts = new Command('test-containers-scale')
    .description('Build the images of docker/compose.scale.yaml with podman and run it until a round is published through the load balancer and every client holds it')
    .option('--rounds <n>', 'FEDKD_ROUNDS for the replicas (the compose file has 5)', integerArg('--rounds', 1), 1)
    .option('--timeout-s <s>', 'how long each wait may take (healthy services, a published round, clients holding it)', integerArg('--timeout-s', 10), 900)
    .option('--keep', 'leave the containers, volumes, network and temporary directory (for inspection)', false)
    .parse()
    .opts<{ rounds: number; timeoutS: number; keep: boolean }>();

  const run = register(new ComposeRun(join(root, 'docker', 'compose.scale.yaml'), opts));
  await preparePodman(run.temp);
  await run.buildImages();
  await run.checkImages();

  // What an operator puts in docker/.env before the first `up`.
  run.vars.POSTGRES_PASSWORD = randomBytes(16).toString('hex');
  run.writeEnvFile();
  const clients = run.clientServices();
  const replicas = run.services.filter(([n, s]) => /^coordinator-\d+$/.test(n) && s.environment?.FEDKD_ROUNDS !== undefined).map(([n]) => n);
  if (replicas.length < 2) throw new Failure(`expected coordinator replicas in the compose file, found ${replicas.join(', ') || 'none'}`);
  const { readToken } = await run.startAll({
    enrolVia: replicas[0],
    overrides: (name) => (replicas.includes(name) ? { FEDKD_ROUNDS: String(opts.rounds), ...COORDINATOR_OVERRIDES } : clients.includes(name) ? CLIENT_OVERRIDES : {}),
  });
  const url = run.urls.get('balancer');
  if (!url) throw new Failure("the compose file's balancer publishes no port");
  say(`  replicas ${replicas.join(', ')} behind ${url}`);

  const { round } = await run.untilRoundPublished(url, readToken, opts.rounds);
  const models = await getJson<{ version: number; round: number; sha256: string }[]>(`${url}/models`, readToken);
  const model = models.find((m) => m.round === round);
  if (!model) throw new Failure(`round ${round} is published but GET /models lists no version of it: ${JSON.stringify(models)}`);
  say(`  round ${round} published student version ${model.version} (sha256 ${model.sha256.slice(0, 12)}...)`);

  const statusOf = (client: string): ClientStatus | null => {
    const out = podman(['exec', run.containerName(client), 'cat', '/data/status.json'], { allowFail: true });
    try {
      return out.status === 0 ? (JSON.parse(out.stdout) as ClientStatus) : null;
    } catch {
      return null;
    }
  };
  await step(`every client holds student version ${model.version}`, async () => {
    const until = run.deadline();
    let last = '';
    for (;;) {
      const statuses = clients.map((c) => [c, statusOf(c)] as const);
      const line = statuses.map(([c, s]) => `${c}: ${s ? `${s.connected ? 'connected' : 'disconnected'}, student ${s.studentVersion ?? 'none'}` : 'no status yet'}`).join('; ');
      if (line !== last) say(`  ${line}`);
      last = line;
      if (statuses.every(([, s]) => s?.connected && s.studentVersion !== null && s.studentVersion >= model.version)) return;
      for (const c of clients) {
        const state = inspect(run.containerName(c));
        if (state.status !== 'running' || state.restarts > 0) throw new Failure(`${run.containerName(c)} is ${state.status} (restarts: ${state.restarts})`);
      }
      if (Date.now() > until) throw new Failure(`after ${opts.timeoutS} s not every client holds student version ${model.version}: ${line}`);
      await sleep(2000);
    }
  });

  await step('health checks, connections per replica', async () => {
    const until = run.deadline();
    for (const [name, service] of run.services) {
      if (service.restart === 'no') {
        say(`  ${run.containerName(name)}: one-shot, exited ${inspect(run.containerName(name)).exitCode}`);
        continue;
      }
      await run.untilHealthy(name, until);
      say(`  ${run.containerName(name)}: ${inspect(run.containerName(name)).health}`);
    }
    for (const replica of replicas) {
      const health = podman(['exec', run.containerName(replica), 'node', '-e', "fetch('http://127.0.0.1:8080/health').then(r=>r.text()).then(t=>console.log(t))"]).stdout.trim();
      let shown = health;
      try {
        const parsed = JSON.parse(health) as { connections?: { open?: number } } & Record<string, unknown>;
        shown = `open connections ${parsed.connections?.open ?? '?'}; ${JSON.stringify(Object.fromEntries(Object.entries(parsed).filter(([k]) => k !== 'connections')))}`;
      } catch {
        // not JSON: shown as it is
      }
      say(`  ${replica} /health: ${shown.length > 300 ? `${shown.slice(0, 297)}...` : shown}`);
    }
    const listed = await getJson<{ name: string; connected: boolean }[]>(`${url}/clients`, readToken).catch((err: Error) => err);
    say(`  GET /clients through the balancer: ${listed instanceof Error ? listed.message : listed.map((c) => `${c.name} ${c.connected ? 'connected' : 'not connected'}`).join(', ')}`);
  });
});
