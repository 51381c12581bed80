import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderElection, PostgresLease } from './leader-lease';
import { startPostgres, type PostgresServer } from '../../../../test/support/postgres-server';

/** An election whose elections and depositions are recorded. */
function contender(lease: PostgresLease, holder: string, leaseMs: number) {
  const log: string[] = [];
  const election = new LeaderElection(lease, holder, leaseMs, { elected: (term) => log.push(`elected ${term}`), deposed: (why) => log.push(`deposed: ${why}`) });
  return { election, log, lease };
}

async function until(probe: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the leader lease on a real PostgreSQL server', () => {
  let server: PostgresServer;
  const opened: PostgresLease[] = [];
  const open = async (name = 'rounds') => {
    const lease = await PostgresLease.open(server.url, { name });
    opened.push(lease);
    return lease;
  };

  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);

  afterAll(async () => {
    for (const lease of opened) await lease.close().catch(() => undefined);
    await server?.stop();
  });

  it('is held by one holder at a time, renewed by it, and taken by another only once it has expired', async () => {
    const [a, b] = [await open('direct'), await open('direct')];
    expect(await a.acquire('replica-a', 60_000)).toBe(1);
    expect(await b.acquire('replica-b', 60_000)).toBeNull();
    expect(await a.acquire('replica-a', 60_000)).toBe(1);
    expect(await b.holder()).toEqual({ holder: 'replica-a', term: 1 });
    // A short lease, then its expiry: the next taker gets a new term.
    expect(await a.acquire('replica-a', 300)).toBe(1);
    await until(async () => (await b.holder()) === null, 5_000, 'the lease to expire');
    expect(await b.acquire('replica-b', 60_000)).toBe(2);
    expect(await a.acquire('replica-a', 60_000)).toBeNull();
    // Released: taken at once, without waiting for the expiry.
    await b.release('replica-b');
    expect(await a.acquire('replica-a', 60_000)).toBe(3);
  });

  it('elects exactly one of three replicas; when the leader dies another takes over under a new term, and the dead one rejoins as a follower', async () => {
    const leaseMs = 600;
    const replicas = await Promise.all(['r0', 'r1', 'r2'].map(async (name) => contender(await open(), name, leaseMs)));
    replicas.forEach((r) => r.election.start());
    await until(() => replicas.some((r) => r.election.leading), 10_000, 'a leader');
    // A few renewal periods later there is still exactly one leader, the same one.
    const first = replicas.find((r) => r.election.leading)!;
    await new Promise((r) => setTimeout(r, 3 * leaseMs));
    expect(replicas.filter((r) => r.election.leading)).toEqual([first]);
    expect(first.log).toEqual(['elected 1']);

    // The leader is cut off without releasing (as under SIGKILL: its connections are gone): its heartbeats fail, its lease runs out.
    const firstTerm = first.election.currentTerm!;
    await first.lease.close();
    await until(() => !first.election.leading, 5 * leaseMs, 'the cut-off leader to notice');
    expect(first.log[1]).toMatch(/^deposed: could not renew the leader lease/);
    const others = replicas.filter((r) => r !== first);
    await until(() => others.some((r) => r.election.leading), 10 * leaseMs, 'another leader');
    const second = others.find((r) => r.election.leading)!;
    expect(second.election.currentTerm).toBe(firstTerm + 1);
    expect(others.filter((r) => r.election.leading)).toHaveLength(1);

    // The old leader comes back (a restarted process, same name or not): it follows.
    const back = contender(await open(), first.election.holder, leaseMs);
    back.election.start();
    await new Promise((r) => setTimeout(r, 3 * leaseMs));
    expect(back.election.leading).toBe(false);
    expect(back.log).toEqual([]);

    // A clean stop hands over at once.
    await second.election.stop();
    await until(() => [...others, back].some((r) => r !== second && r.election.leading), 5 * leaseMs, 'a leader after the clean stop');
    for (const r of [first, ...others, back]) await r.election.stop();
  });

  it('deposes a leader that loses the lease to another holder', async () => {
    const leaseMs = 600;
    const lease = await open('deposed');
    const replica = contender(lease, 'r0', leaseMs);
    replica.election.start();
    await until(() => replica.election.leading, 5_000, 'the leader');
    // Another holder takes the row over (as after a pause longer than the lease).
    const other = await open('deposed');
    await lease.release('r0');
    expect(await other.acquire('intruder', 60_000)).toBe(2);
    await until(() => !replica.election.leading, 5 * leaseMs, 'the deposition');
    expect(replica.log).toEqual(['elected 1', 'deposed: another replica holds the leader lease']);
    await replica.election.stop();
  });

  it('refuses a lease too short to renew', async () => {
    const lease = await open();
    expect(() => new LeaderElection(lease, 'r', 100, { elected: () => undefined, deposed: () => undefined })).toThrow('leader lease: must be an integer of at least 300 ms, got 100');
  });
});
