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
 * The shared machinery (builds, compose order, enrolment, cleanup) is in compose-podman.ts.
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { integerArg } from '@fedkd/command-line';
import { ComposeRun, Failure, getJson, inspect, preparePodman, root, runContainersTest, say, step } from './compose-podman';

/** Kept small so a run takes minutes; the compose file's own values are for real deployments. */
const COORDINATOR_OVERRIDES = { FEDKD_STUDENT_EPOCHS: '5' };
const CLIENT_OVERRIDES = { FEDKD_EPOCHS: '2' };

runContainersTest('containers', async (register) => {
  const opts = new Command('test-containers')
    .description('Build docker/*.Dockerfile with podman and run docker/compose.yaml until a round is published and every health check passes')
    .option('--rounds <n>', 'FEDKD_ROUNDS for the coordinator (the compose file has 5)', integerArg('--rounds', 1), 1)
    .option('--timeout-s <s>', 'how long to wait for a published round and healthy containers', integerArg('--timeout-s', 10), 900)
    .option('--keep', 'leave the containers, volumes, network and temporary directory (for inspection)', false)
    .parse()
    .opts<{ rounds: number; timeoutS: number; keep: boolean }>();

  const run = register(new ComposeRun(join(root, 'docker', 'compose.yaml'), opts));
  await preparePodman(run.temp);
  await run.buildImages();
  await run.checkImages();

  const clients = run.clientServices();
  const { readToken } = await run.startAll({
    enrolVia: 'coordinator',
    overrides: (name) => (name === 'coordinator' ? { FEDKD_ROUNDS: String(opts.rounds), ...COORDINATOR_OVERRIDES } : clients.includes(name) ? CLIENT_OVERRIDES : {}),
  });
  const url = run.urls.get('coordinator');
  if (!url) throw new Failure("the compose file's coordinator publishes no port");

  await run.untilRoundPublished(url, readToken, opts.rounds);

  await step('health checks and connected clients', async () => {
    const until = run.deadline();
    for (const [name] of run.services) {
      await run.untilHealthy(name, until);
      say(`  ${run.containerName(name)}: ${inspect(run.containerName(name)).health}`);
    }
    const listed = await getJson<{ name: string; connected: boolean }[]>(`${url}/clients`, readToken);
    const connected = listed.filter((c) => c.connected).map((c) => c.name).sort();
    const expected = [...clients].sort();
    if (JSON.stringify(connected) !== JSON.stringify(expected)) throw new Failure(`connected clients ${connected.join(', ') || 'none'}, expected ${expected.join(', ')}`);
    say(`  GET /clients: ${connected.join(', ')} connected`);
  });
});
