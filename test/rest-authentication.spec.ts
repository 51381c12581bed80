import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { initKeys, readSecretKey, signRestRequest, verifyExport } from '@fedkd/privacy';
import { createApiToken } from '../apps/coordinator/src/auth/api-tokens';
import { DATABASE, type CoordinatorDatabase } from '../apps/coordinator/src/persistence/database.provider';
import { getJson, postJson, startTestClient, startTestCoordinator, testWorkspace, until, untilAsync, type TestCoordinator } from './support/federation-harness';

const CLI = join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
const run = promisify(execFile);

/** Runs the built `fedkd` asynchronously (the coordinator answering it runs in this process). */
async function fedkd(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function call(url: string, init: { method?: string; token?: string; authorization?: string } = {}) {
  const authorization = init.authorization ?? (init.token ? `Bearer ${init.token}` : undefined);
  const response = await fetch(url, { method: init.method ?? 'GET', headers: authorization ? { authorization } : {} });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON.
  }
  return { status: response.status, headers: response.headers, body };
}

const database = (coordinator: TestCoordinator) => coordinator.app.get<symbol, CoordinatorDatabase>(DATABASE);

describe('REST authentication', () => {
  const workspace = testWorkspace('fedkd-rest-auth-');

  it('refuses POST /rounds without an admin token (401 unknown or revoked, 403 read scope) and writes nothing; reads need a read token; /health is open', async () => {
    const coordinator = await startTestCoordinator({ databasePath: join(workspace.dir, 'closed', 'fedkd.sqlite') });
    workspace.defer(() => coordinator.stop());
    const db = database(coordinator);
    const read = (await createApiToken(db, 'dashboard', 'read')).token;
    const revokedAdmin = (await createApiToken(db, 'former-operator', 'admin')).token;
    await db.apiTokens.revoke('former-operator');

    const none = await call(`${coordinator.url}/rounds`, { method: 'POST' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(none.body).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringContaining('admin token') });
    expect(await call(`${coordinator.url}/rounds`, { method: 'POST', token: `fedkd_adm_${'A'.repeat(43)}` })).toMatchObject({ status: 401, body: { message: 'unknown API token' } });
    expect(await call(`${coordinator.url}/rounds`, { method: 'POST', token: 'not-a-token' })).toMatchObject({ status: 401 });
    expect(await call(`${coordinator.url}/rounds`, { method: 'POST', token: revokedAdmin })).toMatchObject({ status: 401, body: { message: expect.stringContaining('revoked') } });
    expect(await call(`${coordinator.url}/rounds`, { method: 'POST', token: read })).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN', message: expect.stringContaining('read scope') },
    });
    expect(await db.rounds.list({ limit: 10, offset: 0 })).toEqual([]);

    for (const path of ['/rounds', '/rounds/1', '/clients', '/models', '/models/1', '/models/1/model.json']) {
      expect(await call(`${coordinator.url}${path}`), path).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    }
    expect(await call(`${coordinator.url}/rounds`, { token: read })).toMatchObject({ status: 200, body: [] });
    expect(await call(`${coordinator.url}/clients`, { token: coordinator.adminToken })).toMatchObject({ status: 200, body: [] });
    expect(await call(`${coordinator.url}/health`)).toMatchObject({ status: 200 });

    // `fedkd admin token` on the coordinator's database: the token is shown once, listed never, and refused once revoked.
    const dbPath = join(workspace.dir, 'closed', 'fedkd.sqlite');
    const created = await fedkd(['admin', 'token', 'create', '--name', 'operator', '--scope', 'admin', '--db', dbPath]);
    expect(created.code, created.stderr).toBe(0);
    const operator = created.stdout.trim();
    expect(created.stderr).toMatch(/admin token operator \(id \d+\): shown once/);
    expect(await call(`${coordinator.url}/clients`, { token: operator })).toMatchObject({ status: 200 });
    const listed = await fedkd(['admin', 'token', 'list', '--json', '--db', dbPath]);
    expect(JSON.parse(listed.stdout)).toContainEqual(expect.objectContaining({ name: 'operator', scope: 'admin', revokedAt: null }));
    expect(listed.stdout).not.toContain(operator.slice(10));
    expect((await fedkd(['admin', 'token', 'revoke', 'operator', '--db', dbPath])).code).toBe(0);
    expect(await call(`${coordinator.url}/clients`, { token: operator })).toMatchObject({ status: 401, body: { message: expect.stringContaining('revoked') } });
  });

  it('with --public-read answers reads without a token but still refuses POST /rounds; over the per-address limit it answers 429 with Retry-After', async () => {
    const coordinator = await startTestCoordinator({ databasePath: join(workspace.dir, 'open', 'fedkd.sqlite'), publicRead: true, restRateLimitPerMinute: 4 });
    workspace.defer(() => coordinator.stop());
    expect(await call(`${coordinator.url}/rounds`)).toMatchObject({ status: 200, body: [] });
    expect(await call(`${coordinator.url}/rounds`, { method: 'POST' })).toMatchObject({ status: 401 });
    expect(await call(`${coordinator.url}/health`)).toMatchObject({ status: 200 });
    expect(await call(`${coordinator.url}/clients`)).toMatchObject({ status: 200 });
    const limited = await call(`${coordinator.url}/clients`);
    expect(limited).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED', message: expect.stringContaining('more than 4 requests') } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // The admin token does not lift the per-address limit either.
    expect(await call(`${coordinator.url}/rounds`, { method: 'POST', token: coordinator.adminToken })).toMatchObject({ status: 429 });
    expect(await database(coordinator).rounds.list({ limit: 10, offset: 0 })).toEqual([]);
  });

  it('lets an enrolled client download and check a student with signed requests (fedkd client download-model); refuses a revoked client and other routes', async () => {
    const dir = join(workspace.dir, 'federation');
    const coordinator = await startTestCoordinator({ databasePath: join(dir, 'fedkd.sqlite'), minClients: 2, proxySize: 100, studentEpochs: 1, localEpochs: 1, digestEpochs: 0 });
    workspace.defer(() => coordinator.stop());
    const identities = ['client-0', 'client-1'].map((name) => {
      const created = initKeys(join(dir, 'keys'), name);
      if (!created.ok) throw new Error(created.message);
      const key = readSecretKey(created.value.secretKeyPath);
      if (!key.ok) throw new Error(key.message);
      return key.value;
    });
    const clients = identities.map((identity, i) => startTestClient(coordinator, i, { identity, epochs: 1 }));
    workspace.defer(() => clients.forEach((c) => c.client.stop()));
    await untilAsync(async () => (await database(coordinator).identities.list()).length === 2, 30_000);
    expect(await postJson<{ state: string }>(`${coordinator.url}/rounds`)).toMatchObject({ state: 'published' });

    const coordinatorKey = join(dir, 'keys', 'coordinator.pub');
    const download = (name: string, out: string, version = '1') =>
      fedkd(['client', 'download-model', '--coordinator', coordinator.url, '--name', name, '--key', join(dir, 'keys', `${name}.key`), '--coordinator-key', coordinatorKey, '--version', version, '--out', out]);
    const out = join(dir, 'student');
    const downloaded = await download('client-0', out, 'latest');
    expect(downloaded.code, downloaded.stderr).toBe(0);
    expect(JSON.parse(downloaded.stdout)).toMatchObject({ version: 1, round: 1 });
    const files = Object.fromEntries(['model.json', 'weights.bin', 'signature.json'].map((f) => [f, new Uint8Array(readFileSync(join(out, f)))]));
    expect(verifyExport(JSON.parse(Buffer.from(files['signature.json']).toString('utf8')), files, coordinator.publicKey)).toMatchObject({ ok: true });
    const served = new Uint8Array(await (await fetch(`${coordinator.url}/models/1/weights.bin`, { headers: coordinator.authHeaders })).arrayBuffer());
    expect(Buffer.from(served).equals(Buffer.from(files['weights.bin']))).toBe(true);

    // An enrolled client's signature opens student downloads only.
    const signer = { clientName: 'client-0', secretKey: identities[0].secretKey, coordinatorPublicKey: coordinator.publicKey };
    expect(await call(`${coordinator.url}/rounds`, { authorization: signRestRequest({ method: 'GET', path: '/rounds' }, signer) })).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN' },
    });
    // A signed request is good once, for the path it names.
    const once = signRestRequest({ method: 'GET', path: '/models/1/signature.json' }, signer);
    expect(await call(`${coordinator.url}/models/1/signature.json`, { authorization: once })).toMatchObject({ status: 200 });
    expect(await call(`${coordinator.url}/models/1/signature.json`, { authorization: once })).toMatchObject({ status: 401, body: { message: expect.stringContaining('NONCE_REUSED') } });
    expect(await call(`${coordinator.url}/models/1/weights.bin`, { authorization: signRestRequest({ method: 'GET', path: '/models/1/model.json' }, signer) })).toMatchObject({
      status: 401,
      body: { message: expect.stringContaining('BAD_SIGNATURE') },
    });

    await database(coordinator).identities.revoke('client-1');
    const refused = await download('client-1', join(dir, 'refused'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/HTTP 401: UNAUTHENTICATED client client-1 is revoked/);
    expect(existsSync(join(dir, 'refused'))).toBe(false);
    // Every route's decision is checked by getJson too: the admin token reads everything.
    expect(await getJson<{ version: number }[]>(`${coordinator.url}/models`)).toMatchObject([{ version: 1 }]);
  });
});
