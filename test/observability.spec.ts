import { beforeAll, describe, expect, it } from 'vitest';
import { createOpenApiDocument } from '../apps/coordinator/src/api/openapi';
import { register as globalRegistry } from 'prom-client';
import { createApiToken } from '../apps/coordinator/src/auth/api-tokens';
import { DATABASE, type CoordinatorDatabase } from '../apps/coordinator/src/persistence/database.provider';
import { connectRawClient, getJson, postJson, startTestClient, startTestCoordinator, testWorkspace, until, type TestCoordinator } from './support/federation-harness';

/** A parsed Prometheus text exposition: every sample by `name{label="value",...}` (labels sorted), and every family's TYPE. */
interface Exposition {
  samples: Map<string, number>;
  types: Map<string, string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)(?: -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"/g;

/** Parses Prometheus's text format 0.0.4 strictly: each line a # HELP / # TYPE comment, blank, or `name{labels} value`; throws on anything else. */
function parsePrometheusText(text: string): Exposition {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
      if (!comment) throw new Error(`line ${i + 1}: not a HELP or TYPE comment: ${line}`);
      if (comment[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(comment[3])) throw new Error(`line ${i + 1}: unknown type ${comment[3]}`);
        types.set(comment[2], comment[3]);
      } else helps.add(comment[2]);
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`line ${i + 1}: not a sample: ${line}`);
    const [, name, labelText = '', value] = sample;
    const family = [name, name.replace(/_(bucket|sum|count)$/, '')].find((n) => types.has(n));
    if (!family) throw new Error(`line ${i + 1}: ${name} has no TYPE before it`);
    if (!helps.has(family)) throw new Error(`line ${i + 1}: ${family} has no HELP`);
    const labels = [...labelText.matchAll(LABEL)].map(([, k, v]) => `${k}="${v}"`).sort();
    const key = labels.length ? `${name}{${labels.join(',')}}` : name;
    if (samples.has(key)) throw new Error(`line ${i + 1}: ${key} twice`);
    samples.set(key, Number(value.replace('+Inf', 'Infinity')));
  }
  return { samples, types };
}

describe('GET /metrics and the JSON log of a coordinator running a private round', () => {
  const workspace = testWorkspace('fedkd-observability-');
  const logLines: string[] = [];
  let coordinator: TestCoordinator;
  let readToken: string;
  const scrape = async (token = readToken) => {
    const response = await fetch(`${coordinator.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    // Express adds the charset: text/plain; charset=utf-8; version=0.0.4.
    expect(response.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
    return parsePrometheusText(await response.text());
  };
  const value = (exposition: Exposition, key: string) => {
    if (!exposition.samples.has(key)) throw new Error(`no sample ${key}`);
    return exposition.samples.get(key)!;
  };

  beforeAll(async () => {
    coordinator = await startTestCoordinator(
      {
        databasePath: `${workspace.dir}/fedkd.sqlite`,
        minClients: 2,
        studentEpochs: 2,
        privacy: { mechanism: 'gnmax', sigma: 40, delta: 1e-5 },
        // Small enough for a raw client to run into; the edge clients send a few messages a round.
        rateLimitPerSecond: 1,
        rateLimitBurst: 8,
      },
      { logDestination: { write: (chunk: string) => logLines.push(...chunk.split('\n').filter(Boolean)) } },
    );
    workspace.defer(() => coordinator.stop());
    readToken = (await createApiToken(coordinator.app.get<symbol, CoordinatorDatabase>(DATABASE), 'prometheus', 'read')).token;
    const clients = [0, 1].map((i) => startTestClient(coordinator, i, { epochs: 1, ledgerPath: `${workspace.dir}/ledger-${i}.json` }));
    workspace.defer(() => clients.forEach((c) => c.client.stop()));
    await until(() => clients.every((c) => c.events.some((e) => e.event === 'connected')), 60_000, 'two clients to connect');
  });

  it('refuses a scrape without a read token (401), serves one with it', async () => {
    const anonymous = await fetch(`${coordinator.url}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    const bad = await fetch(`${coordinator.url}/metrics`, { headers: { authorization: 'Bearer fedkd_read_not-a-token' } });
    expect(bad.status).toBe(401);
    const before = await scrape();
    expect(before.types.get('fedkd_rounds_total')).toBe('counter');
    expect(before.types.get('fedkd_round_phase_duration_seconds')).toBe('histogram');
    expect(before.types.get('fedkd_clients_connected')).toBe('gauge');
    expect(value(before, 'fedkd_rounds_total{outcome="published"}')).toBe(0);
    expect(value(before, 'fedkd_clients_connected')).toBe(2);
    expect(value(before, 'fedkd_student_version')).toBe(0);
    expect(before.types.get('fedkd_student_test_accuracy')).toBe('gauge');
    expect(before.samples.has('fedkd_student_test_accuracy')).toBe(false);
    expect(value(before, 'fedkd_connections_refused_total{reason="hello_timeout"}')).toBe(0);
    expect(value(before, 'fedkd_connections_open')).toBeGreaterThanOrEqual(2);
    // collectDefaultMetrics, prefixed.
    expect(before.samples.has('fedkd_process_cpu_user_seconds_total')).toBe(true);
    expect(before.samples.has('fedkd_nodejs_heap_size_used_bytes')).toBe(true);
    // Every name is fedkd_..., and the coordinator never writes to prom-client's global registry.
    expect([...before.samples.keys()].every((k) => k.startsWith('fedkd_'))).toBe(true);
    expect(globalRegistry.getSingleMetric('fedkd_rounds_total')).toBeUndefined();
  });

  it('moves its counters, histograms and gauges with a round, and reads epsilon per client from the privacy curves', async () => {
    const summary = await postJson<{ round: number; state: string; testAccuracy: number }>(`${coordinator.url}/rounds`);
    expect(summary.state).toBe('published');
    const after = await scrape();
    expect(value(after, 'fedkd_rounds_total{outcome="published"}')).toBe(1);
    expect(value(after, 'fedkd_rounds_total{outcome="failed"}')).toBe(0);
    expect(value(after, 'fedkd_round_bytes_received_total')).toBeGreaterThan(0);
    expect(value(after, 'fedkd_round_bytes_sent_total')).toBeGreaterThan(0);
    for (const phase of ['open', 'collect', 'aggregate', 'train', 'evaluate', 'publish', 'round']) {
      expect(value(after, `fedkd_round_phase_duration_seconds_count{phase="${phase}"}`), phase).toBe(1);
      expect(value(after, `fedkd_round_phase_duration_seconds_bucket{le="+Inf",phase="${phase}"}`), phase).toBe(1);
    }
    expect(value(after, 'fedkd_round_phase_duration_seconds_sum{phase="round"}')).toBeGreaterThan(0);
    expect(value(after, 'fedkd_student_version')).toBe(1);
    expect(value(after, 'fedkd_student_test_accuracy')).toBeCloseTo(summary.testAccuracy, 10);
    expect(value(after, 'fedkd_student_agreement')).toBeGreaterThan(0);
    const clients = await getJson<{ id: string; name: string; privacy?: { epsilon: number } }[]>(`${coordinator.url}/clients`);
    expect(clients).toHaveLength(2);
    for (const client of clients) {
      expect(client.privacy!.epsilon).toBeGreaterThan(0);
      expect(value(after, `fedkd_client_epsilon{client="${client.name}",client_id="${client.id}"}`)).toBeCloseTo(client.privacy!.epsilon, 10);
    }
  });

  it('counts refused messages by their code, and the rate-limited ones', async () => {
    const before = await scrape();
    const raw = await connectRawClient(coordinator, 'client-raw');
    const acks = await Promise.all(
      Array.from({ length: 20 }, () => raw.socket.timeout(5_000).emitWithAck('round.predictions', { round: 999 }) as Promise<{ ok: boolean; code: string }>),
    );
    raw.socket.disconnect();
    const codes = new Map<string, number>();
    for (const ack of acks) {
      expect(ack.ok).toBe(false);
      codes.set(ack.code, (codes.get(ack.code) ?? 0) + 1);
    }
    expect(codes.get('RATE_LIMITED')).toBeGreaterThan(0);
    expect(codes.size).toBeGreaterThan(1);
    const after = await scrape();
    const counted = (exposition: Exposition, code: string) => exposition.samples.get(`fedkd_messages_refused_total{code="${code}"}`) ?? 0;
    for (const [code, n] of codes) expect(counted(after, code) - counted(before, code), code).toBe(n);
    expect(value(after, 'fedkd_messages_rate_limited_total') - value(before, 'fedkd_messages_rate_limited_total')).toBe(codes.get('RATE_LIMITED'));
  });

  it('logs JSON lines with level, time, context and msg; the lines of a round carry its number; HTTP requests are not logged at info', async () => {
    const entries = logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.length).toBeGreaterThan(10);
    for (const entry of entries) {
      expect(entry.level).toMatch(/^(fatal|error|warn|info)$/);
      expect(typeof entry.msg).toBe('string');
      expect(new Date(entry.time as string).getTime()).toBeGreaterThan(0);
    }
    const ofRound = entries.filter((e) => /^round 1:/.test(e.msg as string));
    expect(ofRound.map((e) => e.msg)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^round 1: asked 2 clients/), expect.stringMatching(/^round 1: 2\/2 answered/), expect.stringMatching(/^round 1: published model v1/)]),
    );
    for (const entry of ofRound) expect(entry).toMatchObject({ level: 'info', context: 'Rounds', round: 1 });
    // Before the round and after it, no round field: the clients joining, the raw client of the test above.
    const joins = entries.filter((e) => e.event === 'client.connected');
    expect(joins.map((e) => e.msg)).toEqual([expect.stringMatching(/client client-\d \(c-[0-9a-f]+\) joined; 1 connected/), expect.stringMatching(/joined; 2 connected/), expect.stringMatching(/client client-raw .* joined; 3 connected/)]);
    expect(joins.every((e) => e.round === undefined && e.context === 'Gateway')).toBe(true);
    expect(entries.some((e) => e.context === 'NestApplication' && e.msg === 'Nest application successfully started')).toBe(true);
    expect(entries.some((e) => /request completed/.test(e.msg as string) || 'req' in e)).toBe(false);
  });
});

describe('the coordinator at log level debug, and its OpenAPI description of GET /metrics', () => {
  const workspace = testWorkspace('fedkd-observability-debug-');
  const logLines: string[] = [];
  let coordinator: TestCoordinator;

  beforeAll(async () => {
    coordinator = await startTestCoordinator(
      { databasePath: `${workspace.dir}/fedkd.sqlite`, logLevel: 'debug' },
      { logDestination: { write: (chunk: string) => logLines.push(...chunk.split('\n').filter(Boolean)) } },
    );
    workspace.defer(() => coordinator.stop());
  });

  it('logs each HTTP request at debug with its method, URL and status, never its headers', async () => {
    const response = await fetch(`${coordinator.url}/metrics`, { headers: coordinator.authHeaders });
    expect(response.status).toBe(200);
    await response.text();
    const requests = await until(() => {
      const found = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => (e.req as { url?: string } | undefined)?.url === '/metrics');
      return found.length ? found : null;
    }, 5_000, 'the request line');
    expect(requests).toEqual([expect.objectContaining({ level: 'debug', msg: 'request completed', req: expect.objectContaining({ method: 'GET', url: '/metrics' }), res: { statusCode: 200 } })]);
    expect(logLines.join('\n')).not.toContain(coordinator.adminToken);
    expect(logLines.join('\n')).not.toMatch(/authorization/i);
  });

  it('describes GET /metrics in the OpenAPI document: text/plain, read access, monitoring tag', () => {
    const operation = createOpenApiDocument(coordinator.app).paths['/metrics']?.get;
    expect(operation).toBeDefined();
    expect(operation!.tags).toEqual(['monitoring']);
    expect(operation!.security).toEqual(expect.arrayContaining([{ read: [] }, { admin: [] }]));
    expect(Object.keys((operation!.responses['200'] as { content: object }).content)).toEqual(['text/plain']);
  });
});
