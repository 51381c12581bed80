import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { io } from 'socket.io-client';
import { federationParser } from '@fedkd/protocol';
import { createApiToken } from '../apps/coordinator/src/auth/api-tokens';
import { dashboardDir } from '../apps/coordinator/src/dashboard/dashboard.controller';
import { DATABASE, type CoordinatorDatabase } from '../apps/coordinator/src/persistence/database.provider';
import { CONNECTION_ADMISSION, type ConnectionAdmission } from '../apps/coordinator/src/transport/connection-admission';
import { FederationEvents, type FederationEvent } from '../apps/coordinator/src/events/federation-events';
import { postJson, startTestClient, startTestCoordinator, testWorkspace, until, type TestCoordinator } from './support/federation-harness';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** README's picture is taken by this test: `FEDKD_DASHBOARD_SCREENSHOT=docs/dashboard.png npx vitest run test/dashboard-browser.spec.ts`. */
const SCREENSHOT = process.env.FEDKD_DASHBOARD_SCREENSHOT;

/** Chromium, or a failure saying how to get it. */
async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: the dashboard test needs a real browser. Install Debian's chromium (\`apt-get install chromium\`) or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: CHROMIUM });
}

function assertDashboardBuilt(): void {
  const index = join(dashboardDir(), 'index.html');
  if (!existsSync(index)) throw new Error(`the dashboard is not built (no ${index}): run \`npm run -s build\` first`);
}

/** Everything that went wrong on a page: console errors, uncaught exceptions, failed or refused requests. */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ''}`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  return problems;
}

function percent(value: number): string {
  return `${(value * 100).toFixed(1)} %`;
}

describe('the dashboard in a headless browser', () => {
  const workspace = testWorkspace('fedkd-dashboard-');
  let browser: Browser;
  let context: BrowserContext;
  let coordinator: TestCoordinator;
  let readToken: string;
  const seen: FederationEvent[] = [];

  beforeAll(async () => {
    assertDashboardBuilt();
    browser = await launchChromium();
    workspace.defer(() => browser.close());
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    // A short hello timeout: a refused dashboard socket is closed after it like any connection without a hello.
    coordinator = await startTestCoordinator({ databasePath: `${workspace.dir}/public/fedkd.sqlite`, minClients: 2, studentEpochs: 2, helloTimeoutMs: 4_000 });
    workspace.defer(() => coordinator.stop());
    coordinator.app.get(FederationEvents).subscribe((e) => seen.push(e));
    readToken = (await createApiToken(coordinator.app.get<symbol, CoordinatorDatabase>(DATABASE), 'dashboard-reader', 'read')).token;
    for (let i = 0; i < 2; i++) {
      const client = startTestClient(coordinator, i, { epochs: 1 });
      workspace.defer(() => client.client.stop());
    }
    await until(() => seen.filter((e) => e.type === 'client.connected').length === 2, 60_000, 'two clients to connect');
  });

  it('shows the federation live as two rounds publish: timeline, chart, accuracy, clients and a model download', async () => {
    const page = await context.newPage();
    const problems = watchProblems(page);
    const admission = coordinator.app.get<symbol, ConnectionAdmission>(CONNECTION_ADMISSION);
    const unauthenticatedBefore = admission.status().unauthenticated;
    await page.goto(`${coordinator.url}/dashboard#token=${readToken}`);
    await page.waitForSelector('#connection-state:text("live")');
    // The token left the address bar; the socket counts as authenticated (not waiting for a hello).
    expect(page.url()).not.toContain('token');
    expect(admission.status().unauthenticated).toBe(unauthenticatedBefore);
    await page.waitForSelector('#clients-count:has-text("2 connected")');
    for (const name of ['client-0', 'client-1']) await page.waitForSelector(`#clients tr[data-client="${name}"][data-connected="true"]`);
    expect(await page.textContent('#current-round')).toContain('idle');

    for (const round of [1, 2]) {
      const summary = await postJson<{ round: number; state: string; testAccuracy: number; modelVersion: number }>(`${coordinator.url}/rounds`);
      expect(summary).toMatchObject({ round, state: 'published' });
      const row = `#rounds tr[data-round="${round}"][data-state="published"]`;
      await page.waitForSelector(row, { timeout: 15_000 });
      expect(await page.textContent(`${row} td.metric`)).toBe(percent(summary.testAccuracy));
      expect(await page.textContent(`${row} .phase-text`)).toMatch(/collect .* train .*total/);
      await page.waitForSelector(`#chart-rounds[data-points="${round}"]`);
      await page.waitForSelector(`#chart-bytes[data-points="${round}"]`);
      await page.waitForSelector(`#latest-accuracy:has-text("${percent(summary.testAccuracy)}")`);
      await page.waitForSelector(`#models tr[data-version="${summary.modelVersion}"]`);
      // The clients' last answers come with the snapshot that follows the round.
      await page.waitForSelector(`#clients tr[data-client="client-0"]:has-text("round ${round}")`);
    }
    expect(await page.locator('#chart-rounds canvas').count()).toBeGreaterThan(0);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#models a[data-version="2"][data-file="model.json"]')]);
    const saved = await download.path();
    const modelJson = JSON.parse(readFileSync(saved, 'utf8')) as { modelTopology?: unknown; weightsManifest?: { paths: string[] }[] };
    expect(modelJson.modelTopology).toBeDefined();
    expect(modelJson.weightsManifest?.[0].paths).toEqual(['weights.bin']);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a clear error for a wrong token or none, and serves no data without one', async () => {
    const page = await context.newPage();
    await page.goto(`${coordinator.url}/dashboard#token=fedkd_read_${'x'.repeat(43)}`);
    await page.waitForSelector('#dashboard-error');
    expect(await page.textContent('#dashboard-error')).toContain('unknown API token');
    expect(await page.locator('#rounds').count()).toBe(0);
    await page.close();

    const fresh = await browser.newContext();
    const bare = await fresh.newPage();
    await bare.goto(`${coordinator.url}/dashboard`);
    await bare.waitForSelector('#dashboard-error');
    expect(await bare.textContent('#dashboard-error')).toContain('needs a read or admin API token');
    // The token form recovers the page without a reload.
    await bare.fill('.token-form input', readToken);
    await bare.click('.token-form button');
    await bare.waitForSelector('#rounds tr[data-round="2"]');
    await fresh.close();

    // The namespace itself: a snapshot for a read token; a bad one refused, naming the problem; nothing a reader sends is handled.
    const admission = coordinator.app.get<symbol, ConnectionAdmission>(CONNECTION_ADMISSION);
    const connect = (token: string) => io(`${coordinator.url}/dashboard`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, parser: federationParser });
    await until(() => admission.status().unauthenticated === 0, 10_000, "the closed pages' connections to go");
    const refused = connect('fedkd_adm_nope');
    const closed = new Promise<void>((resolve) => refused.io.once('close', () => resolve()));
    const error = await new Promise<Error>((resolve) => refused.once('connect_error', resolve));
    expect(error.message).toBe('UNAUTHENTICATED: the bearer token is not a fedkd API token (fedkd_adm_... or fedkd_read_...)');
    expect(admission.status().unauthenticated).toBe(1);
    // Its connection joined no namespace: the coordinator closes it at the hello timeout.
    await closed;
    await until(() => admission.status().unauthenticated === 0, 2_000, 'the refused connection to be forgotten');
    const reader = connect(readToken);
    const snapshot = await new Promise<{ rounds: { number: number }[]; clients: { name: string }[] }>((resolve) => reader.once('snapshot', resolve));
    expect(snapshot.rounds.map((r) => r.number)).toEqual([1, 2]);
    expect(snapshot.clients.map((c) => c.name)).toEqual(['client-0', 'client-1']);
    expect(admission.status().unauthenticated).toBe(0);
    const before = seen.length;
    await expect(reader.timeout(500).emitWithAck('round.start', {})).rejects.toThrow(/timed out/);
    await expect(reader.timeout(500).emitWithAck('hello', {})).rejects.toThrow(/timed out/);
    expect(seen.slice(before).filter((e) => e.type.startsWith('round.'))).toEqual([]);
    reader.disconnect();

    // The page itself is public; every piece of data needs the token.
    expect((await fetch(`${coordinator.url}/dashboard`)).status).toBe(200);
    expect((await fetch(`${coordinator.url}/rounds/1/samples.png`)).status).toBe(401);
    const publicRound = await fetch(`${coordinator.url}/rounds/1/samples.png`, { headers: { authorization: `Bearer ${readToken}` } });
    expect(publicRound.status).toBe(404);
    expect(((await publicRound.json()) as { message: string }).message).toMatch(/public proxy inputs/);
  });

  it("shows a data-free round's synthetic inputs as an image (and, with --public-read, needs no token)", async () => {
    const synthetic = await startTestCoordinator({ databasePath: `${workspace.dir}/synthetic/fedkd.sqlite`, proxy: 'synthetic', proxySize: 240, minClients: 2, studentEpochs: 1, publicRead: true });
    workspace.defer(() => synthetic.stop());
    const events: FederationEvent[] = [];
    synthetic.app.get(FederationEvents).subscribe((e) => events.push(e));
    for (let i = 0; i < 2; i++) {
      const client = startTestClient(synthetic, i, { epochs: 1 });
      workspace.defer(() => client.client.stop());
    }
    await until(() => events.filter((e) => e.type === 'client.connected').length === 2, 60_000, 'two clients to connect');
    const summary = await postJson<{ round: number; state: string }>(`${synthetic.url}/rounds`);
    expect(summary.state).toBe('published');

    const page = await context.newPage();
    const problems = watchProblems(page);
    await page.goto(`${synthetic.url}/dashboard`);
    await page.waitForSelector(`#samples[data-round="${summary.round}"] img`);
    // (In the browser: an HTMLImageElement; this file is type-checked without the DOM library.)
    type Image = { decode(): Promise<void>; naturalWidth: number; naturalHeight: number };
    const size = await page.$eval('#samples img', (img) => (img as unknown as Image).decode().then(() => [(img as unknown as Image).naturalWidth, (img as unknown as Image).naturalHeight]));
    expect(size[0]).toBeGreaterThan(100);
    expect(size[1]).toBeGreaterThan(100);
    expect(problems).toEqual([]);
    await page.close();

    const png = await fetch(`${synthetic.url}/rounds/${summary.round}/samples.png`);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await png.arrayBuffer()).subarray(1, 4).toString('latin1')).toBe('PNG');
  });
});

describe('the dashboard during `fedkd simulate`', () => {
  const workspace = testWorkspace('fedkd-dashboard-simulate-');

  it('shows the simulation\'s rounds as they publish, with the accuracies the run reports', async () => {
    assertDashboardBuilt();
    const browser = await launchChromium();
    workspace.defer(() => browser.close());
    const report = join(workspace.dir, 'report.json');
    const rounds = 4;
    const simulation = spawn(
      process.execPath,
      ['dist/apps/cli/src/main.js', 'simulate', '--clients', '3', '--rounds', String(rounds), '--teacher', 'mlp', '--teacher-epochs', '2', '--student-epochs', '6', '--proxy-size', '400', '--no-baselines', '--transport', 'memory', '--workers', '1', '--report', report],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => simulation.once('exit', resolve));
    workspace.defer(async () => {
      if (simulation.exitCode === null) simulation.kill('SIGKILL');
      await exited;
    });
    const output: string[] = [];
    createInterface({ input: simulation.stdout! }).on('line', (line) => output.push(line));
    createInterface({ input: simulation.stderr! }).on('line', (line) => output.push(line));
    // The run prints where to watch it: the coordinator's dashboard with its read token.
    const link = await until(() => output.map((line) => /^\s*dashboard: (\S+)$/.exec(line)?.[1]).find(Boolean), 120_000, 'the simulation\'s dashboard link');

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems = watchProblems(page);
    await page.goto(link);
    await page.waitForSelector('#connection-state:text("live")');
    const publishedRows = () => page.locator('#rounds tr[data-state="published"]').count();
    const atOpen = await publishedRows();
    expect(atOpen).toBeLessThan(rounds);
    // Rounds appear while the page is open, one after another, without a reload.
    for (let round = atOpen + 1; round <= rounds; round++) {
      await page.waitForSelector(`#rounds tr[data-round="${round}"][data-state="published"]`, { timeout: 240_000 });
      await page.waitForSelector(`#chart-rounds[data-points="${round}"]`);
      // The snapshot that follows the round: its model version and the clients' answers (not after the
      // last round: the run may end, and its coordinator with it, before that snapshot is sent).
      if (round < rounds) {
        await page.waitForSelector(`#models tr[data-version="${round}"]`);
        await page.waitForSelector(`#clients tr[data-client="client-0"]:has-text("round ${round}")`);
      }
      if (round === rounds - 1 && SCREENSHOT) {
        mkdirSync(dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      }
    }
    expect(await exited).toBe(0);
    const reported = JSON.parse(readFileSync(report, 'utf8')) as { rounds: { round: number; studentAccuracy: number }[] };
    expect(reported.rounds).toHaveLength(rounds);
    for (const r of reported.rounds) expect(await page.textContent(`#rounds tr[data-round="${r.round}"] td.metric`)).toBe(percent(r.studentAccuracy));
    // The run is over: the page says so rather than failing.
    await page.waitForSelector('#connection-state:not(:text("live"))');
    expect(problems.filter((p) => !/ERR_CONNECTION_REFUSED|socket\.io/.test(p))).toEqual([]);
  });
});
