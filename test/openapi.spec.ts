import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z, type ZodType } from 'zod';
import { DEFAULT_ORDERS } from '@fedkd/privacy';
import { SMALL_TEACHER, startTestCoordinator, testWorkspace, type TestCoordinator } from './support/federation-harness';
import { BadParamSchema, ClientSchema, ErrorSchema, HealthSchema, ModelVersionSchema, RoundDetailSchema, RoundSchema, RoundSummarySchema } from '../apps/coordinator/src/api/dto';
import { DATABASE, type CoordinatorDatabase } from '../apps/coordinator/src/persistence/database.provider';

interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId: string; security?: Record<string, string[]>[]; responses: Record<string, { description: string; content?: unknown }> }>>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> };
}

/** Every route Nest registered on the running app's express router: `GET /rounds/{id}` (OpenAPI path syntax). */
function registeredRoutes(coordinator: TestCoordinator): string[] {
  const express = coordinator.app.getHttpAdapter().getInstance() as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } };
  const routes: string[] = [];
  for (const { route } of express.router.stack) {
    if (!route) continue; // middleware (body parsers, swagger-ui-dist's static files, ...)
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    for (const [method, on] of Object.entries(route.methods)) if (on && method !== '_all') routes.push(`${method.toUpperCase()} ${path}`);
  }
  return routes;
}

async function call(url: string, token?: string) {
  const response = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON.
  }
  return { status: response.status, type: response.headers.get('content-type') ?? '', body };
}

/** OpenAPI 3.0.3: a nullable enum lists null among its values (nestjs-zod adds it; zod does not). */
function withNullInNullableEnums(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withNullInNullableEnums);
  if (!schema || typeof schema !== 'object') return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, withNullInNullableEnums(value)]));
  if (copy.nullable === true && Array.isArray(copy.enum) && !copy.enum.includes(null)) copy.enum = [...copy.enum, null];
  return copy;
}

/** The answer matches its schema and has nothing the schema leaves out (zod objects drop unknown keys). */
function expectDescribedBy(schema: ZodType, body: unknown): void {
  const parsed = schema.safeParse(body);
  expect(parsed.error?.issues ?? []).toEqual([]);
  expect(parsed.data).toEqual(body);
}

describe('OpenAPI description', () => {
  const workspace = testWorkspace('fedkd-openapi-');

  it('documents every route Nest registered, with its security and responses; serves Swagger UI at /docs; bad queries and params get the 400 bodies of before', async () => {
    const coordinator = await startTestCoordinator({ databasePath: join(workspace.dir, 'fedkd.sqlite') });
    workspace.defer(() => coordinator.stop());
    const url = coordinator.url;
    const token = coordinator.adminToken;

    // The document and the UI are public (they hold no data); the UI's assets are served locally.
    const json = await call(`${url}/docs-json`);
    expect(json).toMatchObject({ status: 200, type: expect.stringContaining('application/json') });
    const document = json.body as OpenApiDocument;
    const ui = await call(`${url}/docs`);
    expect(ui).toMatchObject({ status: 200, type: expect.stringContaining('text/html') });
    expect(ui.body).toContain('swagger-ui');
    expect(ui.body).not.toMatch(/https?:\/\/(?!localhost|127\.0\.0\.1)[^"']*\.(js|css)/);
    expect(await call(`${url}/docs/swagger-ui-bundle.js`)).toMatchObject({ status: 200, type: expect.stringContaining('javascript') });
    expect(await call(`${url}/docs/swagger-ui-init.js`)).toMatchObject({ status: 200 });

    // Every REST route (the express router's, not a list written here) is documented, and nothing else is.
    const routes = registeredRoutes(coordinator).filter((route) => !/^GET \/docs(\/|-json|$)/.test(route));
    expect(routes).toEqual(expect.arrayContaining(['GET /health', 'GET /rounds', 'GET /rounds/{id}', 'POST /rounds', 'GET /models/{version}/{file}', 'GET /clients']));
    const documented = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual([...new Set(routes)].sort());

    // Each operation declares its success and error responses and who may call it.
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const route = `${method.toUpperCase()} ${path}`;
        const statuses = Object.keys(operation.responses);
        expect(statuses.filter((s) => s.startsWith('2')), route).toHaveLength(1);
        expect(statuses, route).toContain('429');
        for (const [status, response] of Object.entries(operation.responses)) {
          expect(response.description, `${route} ${status}`).toBeTruthy();
          expect(response.content, `${route} ${status}`).toBeDefined();
        }
        // The only routes open to anyone: health, and the dashboard's page and script (they hold no data).
        if (['GET /health', 'GET /dashboard', 'GET /dashboard/{file}'].includes(route)) {
          expect(operation.security).toEqual([]);
        } else {
          expect(statuses, route).toEqual(expect.arrayContaining(['401', '403']));
          expect(operation.security, route).toEqual(route === 'POST /rounds' ? [{ admin: [] }] : expect.arrayContaining([{ read: [] }, { admin: [] }]));
        }
      }
    }
    expect(document.paths['/models/{version}'].get.security).toContainEqual({ signedClient: [] });
    expect(document.paths['/rounds'].get.security).not.toContainEqual({ signedClient: [] });
    expect(Object.keys(document.paths['/rounds'].post.responses).sort()).toEqual(['201', '401', '403', '409', '429']);
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(['admin', 'read', 'signedClient']);
    expect(JSON.stringify(document)).not.toContain('x-nestjs_zod');

    // The document's schemas are the zod schemas the pipe and the handlers' types use (as zod writes them for OpenAPI 3.0).
    const schemas: Record<string, ZodType> = {
      ErrorDto: ErrorSchema,
      BadParamDto: BadParamSchema,
      RoundDto: RoundSchema,
      RoundDetailDto: RoundDetailSchema,
      RoundSummaryDto: RoundSummarySchema,
      ModelVersionDto: ModelVersionSchema,
      ClientDto: ClientSchema,
      HealthDto: HealthSchema,
    };
    expect(Object.keys(document.components.schemas).sort()).toEqual(Object.keys(schemas).sort());
    for (const [name, schema] of Object.entries(schemas)) {
      const { $schema: _, ...expected } = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' });
      expect(document.components.schemas[name], name).toEqual(withNullInNullableEnums(expected));
    }

    // The schemas describe the answers as they are (seeded: a round, a student, a client with privacy and reputation).
    const db = coordinator.app.get<symbol, CoordinatorDatabase>(DATABASE);
    const client = await db.clients.upsertOnConnect({ name: 'hospital-a', architecture: SMALL_TEACHER, sampleCount: 600 });
    await db.rounds.create({ config: { aggregation: 'reputation', minClients: 1 } });
    await db.rounds.upsertParticipant({ round: 1, clientId: client.id, status: 'answered', bytesUploaded: 1234 });
    await db.rounds.updateState(1, 'collecting');
    await db.rounds.setMetrics(1, { testAccuracy: 0.9 }, { collectMs: 12 });
    await db.rounds.updateState(1, 'published');
    await db.models.add({ version: 1, round: 1, blob: new Uint8Array([1, 2, 3]), metrics: { testAccuracy: 0.9 } });
    await db.reputations.record(1, [{ clientId: client.id, agreement: 0.8, reputation: 0.8, weight: 1, flagged: false }]);
    await db.privacyCurves.save({ clientId: client.id, orders: DEFAULT_ORDERS, rdp: DEFAULT_ORDERS.map(() => 0.01), privateRounds: 1, throughRound: 1 });
    const answers: [string, ZodType][] = [
      ['/rounds', RoundSchema.array().length(1)],
      ['/rounds/1', RoundDetailSchema],
      ['/models', ModelVersionSchema.array().length(1)],
      ['/clients', ClientSchema.array().length(1)],
      ['/health', HealthSchema],
    ];
    for (const [path, schema] of answers) {
      const answer = await call(`${url}${path}`, token);
      expect(answer.status, path).toBe(200);
      expectDescribedBy(schema, answer.body);
    }
    expect((await call(`${url}/clients`, token)).body).toMatchObject([{ privacy: { privateRounds: 1 }, reputation: { flaggedRounds: [] } }]);

    // Queries: validated by the schema the document shows, refused with the BAD_QUERY bodies of before.
    expect(await call(`${url}/rounds?limit=0&offset=0`, token)).toMatchObject({ status: 200, body: [] });
    expect(await call(`${url}/rounds?limit=1000&offset=1`, token)).toMatchObject({ status: 200, body: [] });
    expect(await call(`${url}/rounds?limit=abc`, token)).toEqual({ status: 400, type: expect.any(String), body: { code: 'BAD_QUERY', message: 'expected an integer in [0, 1000], got abc' } });
    expect((await call(`${url}/rounds?limit=1001`, token)).body).toEqual({ code: 'BAD_QUERY', message: 'expected an integer in [0, 1000], got 1001' });
    expect((await call(`${url}/rounds?limit=2.5`, token)).body).toEqual({ code: 'BAD_QUERY', message: 'expected an integer in [0, 1000], got 2.5' });
    expect((await call(`${url}/rounds?offset=-1`, token)).body).toEqual({ code: 'BAD_QUERY', message: `expected an integer in [0, ${Number.MAX_SAFE_INTEGER}], got -1` });
    expect((await call(`${url}/rounds?limit=5&offset=x`, token)).body).toEqual({ code: 'BAD_QUERY', message: `expected an integer in [0, ${Number.MAX_SAFE_INTEGER}], got x` });
    expect(document.paths['/rounds'].get).toMatchObject({
      parameters: expect.arrayContaining([expect.objectContaining({ name: 'limit', in: 'query', required: false, schema: expect.objectContaining({ type: 'integer', minimum: 0, maximum: 1000, default: 100 }) })]),
    });

    // Path parameters: Nest's 400 body, as ParseIntPipe gave it; the credentials are still checked first.
    const badParam = { statusCode: 400, message: 'Validation failed (numeric string is expected)', error: 'Bad Request' };
    for (const path of ['/rounds/abc', '/rounds/1.5', '/models/x', '/models/x/model.json']) expect(await call(`${url}${path}`, token), path).toMatchObject({ status: 400, body: badParam });
    expect(await call(`${url}/rounds/abc`)).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    expect(await call(`${url}/rounds/-1`, token)).toMatchObject({ status: 404, body: { code: 'NOT_FOUND', message: 'no round -1' } });
    expect(await call(`${url}/models/1/nope.txt`, token)).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(await call(`${url}/models/7`, token)).toMatchObject({ status: 404, body: { code: 'NOT_FOUND', message: 'no model version 7' } });
    expect(document.paths['/rounds/{id}'].get).toMatchObject({ parameters: [expect.objectContaining({ name: 'id', in: 'path', required: true, schema: expect.objectContaining({ type: 'integer' }) })] });
  });
});
