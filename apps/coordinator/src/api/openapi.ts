import { applyDecorators, type INestApplication, type Type } from '@nestjs/common';
import { ModulesContainer, Reflector } from '@nestjs/core';
import { ApiResponse, DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { cleanupOpenApiDoc, type ZodDto } from 'nestjs-zod';
import { REST_SIGNATURE_SCHEME } from '@fedkd/privacy';
import type { z, ZodType } from 'zod';
import { REST_ACCESS, type RestAccess } from '../auth/rest-access.decorators';
import { BadParamDto, ErrorDto } from './dto';

/** Where the coordinator serves its OpenAPI description: Swagger UI here, the JSON document at `${DOCS_PATH}-json`. */
export const DOCS_PATH = 'docs';

type Answer<T> = T | Promise<T>;
type Handler<T> = Pick<TypedPropertyDescriptor<(...args: never[]) => Answer<T>>, 'value'>;

/**
 * Documents a route's success response with a zod DTO (or `[Dto]`: an array of them), and makes
 * TypeScript check that the handler returns what the schema describes. Like nestjs-zod's
 * ZodResponse, without its serialiser metadata (nothing here re-parses responses) and its
 * `_Output` schema names.
 */
export function ApiResult<S extends ZodType>(status: number, type: ZodDto<S>): (target: object, key: string | symbol, descriptor: Handler<z.input<S>>) => void;
export function ApiResult<S extends ZodType>(status: number, type: [ZodDto<S>]): (target: object, key: string | symbol, descriptor: Handler<z.input<S>[]>) => void;
export function ApiResult(status: number, type: ZodDto | [ZodDto]): MethodDecorator {
  return ApiResponse({ status, description: status === 201 ? 'Created' : 'OK', type });
}

/** The errors a handler answers itself; 401, 403 (from its access rule) and 429 are added to every route by the document. */
type HandlerError = 'bad-query' | 'bad-param' | 404 | 409 | 429;

const HANDLER_ERRORS: Record<HandlerError, { status: number; description: string; type: Type<unknown> }> = {
  'bad-query': { status: 400, description: "BAD_QUERY: a query value that is not an integer in the parameter's range.", type: ErrorDto },
  'bad-param': { status: 400, description: 'A path parameter that is not an integer (Nest\'s own 400 body).', type: BadParamDto },
  404: { status: 404, description: 'NOT_FOUND: no such round, model version or file.', type: ErrorDto },
  409: { status: 409, description: 'CANNOT_START: too few clients to start the round; nothing is stored.', type: ErrorDto },
  429: { status: 429, description: 'Asked again too soon after a refused start, or over the per-address rate limit (RATE_LIMITED); see Retry-After.', type: ErrorDto },
};

/** Documents the error responses a route's handler gives (with the shared `{ code, message }` body). */
export function ApiErrors(...errors: HandlerError[]): MethodDecorator {
  return applyDecorators(...errors.map((error) => ApiResponse(HANDLER_ERRORS[error])));
}

/**
 * The API's OpenAPI document, built from the running app's controllers: routes and parameters
 * from Nest, request and response schemas from the zod DTOs (dto.ts), and every route's security
 * and 401 / 403 / 429 responses from the same @Public / @ReadAccess / @StudentDownload /
 * @AdminAccess rule the RestAuthGuard enforces (describeAccess), so none of them is written twice.
 */
export function createOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('fedkd coordinator')
    .setDescription(
      'The REST API of a fedkd coordinator: rounds, published students and clients. (Clients federate over socket.io on the same port; that protocol is not REST and not described here.) ' +
        'Errors are `{ code, message }` bodies. Read routes take a read or admin API token (`fedkd admin token create`), or nothing when the coordinator runs with --public-read; ' +
        'running a round takes an admin token; students can also be downloaded by enrolled clients signing the request (`fedkd client download-model`).',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API token with the read scope (an admin token also reads). Not needed with --public-read.' }, 'read')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API token with the admin scope.' }, 'admin')
    .addSecurity('signedClient', {
      type: 'apiKey',
      in: 'header',
      name: 'Authorization',
      description: `An enrolled, unrevoked client's signed request (student downloads only): \`Authorization: ${REST_SIGNATURE_SCHEME} client="...", timestamp="...", nonce="...", signature="..."\` (libs/privacy signRestRequest; each signature is good once, for the method and path it names).`,
    })
    .build();
  // ErrorDto as an extra model: describeAccess refers to its schema by name.
  const document = SwaggerModule.createDocument(app, config, { extraModels: [ErrorDto] });
  describeAccess(app, document);
  const cleaned = cleanupOpenApiDoc(document);
  for (const schema of Object.values(cleaned.components?.schemas ?? {})) withoutPropertyNames(schema);
  return cleaned;
}

/**
 * Drops JSON Schema's `propertyNames` (zod writes it for records), which OpenAPI 3.0 does not
 * have; cleanupOpenApiDoc drops it too, but not inside a nullable.
 */
function withoutPropertyNames(schema: unknown): void {
  if (!schema || typeof schema !== 'object') return;
  if (!Array.isArray(schema)) delete (schema as { propertyNames?: unknown }).propertyNames;
  for (const value of Object.values(schema)) withoutPropertyNames(value);
}

/**
 * Serves Swagger UI at /docs (its assets from the installed swagger-ui-dist, no CDN) and the JSON
 * document at /docs-json. They are public on purpose: the document describes the API and holds no
 * data. They are plain express routes, not Nest controllers, so the global RestAuthGuard and rate
 * limit (which refuse a route without an access rule) never see them.
 */
export function serveOpenApi(app: INestApplication): OpenAPIObject {
  const document = createOpenApiDocument(app);
  SwaggerModule.setup(DOCS_PATH, app, document, { raw: ['json'], jsonDocumentUrl: `${DOCS_PATH}-json` });
  return document;
}

type Operation = NonNullable<OpenAPIObject['paths'][string]['get']>;

const UNAUTHENTICATED = 'UNAUTHENTICATED: no, unknown or revoked credentials (WWW-Authenticate: Bearer).';
const FORBIDDEN = 'FORBIDDEN: valid credentials without the scope this route needs.';
const RATE_LIMITED = 'RATE_LIMITED: over the per-address limit of requests a minute; see Retry-After.';

/** Each operation's security requirements and auth / rate-limit responses, from its handler's access rule. */
function describeAccess(app: INestApplication, document: OpenAPIObject): void {
  const reflector = new Reflector();
  const rules = new Map<string, RestAccess | undefined>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const { metatype } of module.controllers.values()) {
      if (typeof metatype !== 'function') continue;
      for (const name of Object.getOwnPropertyNames(metatype.prototype)) {
        const handler = (metatype.prototype as Record<string, unknown>)[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        // SwaggerModule's default operationId: `${controller class}_${handler}`.
        rules.set(`${metatype.name}_${name}`, reflector.getAllAndOverride<RestAccess | undefined>(REST_ACCESS, [handler, metatype]));
      }
    }
  }
  const errorRef = { $ref: `#/components/schemas/${ErrorDto.name}` };
  const error = (description: string) => ({ description, content: { 'application/json': { schema: errorRef } } });
  for (const item of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const) {
      const operation: Operation | undefined = item[method];
      if (!operation) continue;
      const access = rules.get(operation.operationId ?? '');
      operation.responses[429] ??= error(RATE_LIMITED);
      if (!access) {
        // The guard refuses a route without a rule (deny by default): say so rather than guess.
        operation.security = [];
        operation.responses[403] = error('FORBIDDEN: this route declares no access rule, so it is refused.');
        continue;
      }
      (operation as Operation & { 'x-fedkd-access'?: string })['x-fedkd-access'] = access.kind === 'read' && access.signedClients ? 'read or signed client' : access.kind;
      if (access.kind === 'public') {
        operation.security = [];
        continue;
      }
      operation.security = access.kind === 'admin' ? [{ admin: [] }] : [{ read: [] }, { admin: [] }, ...(access.signedClients ? [{ signedClient: [] }] : [])];
      operation.responses[401] = error(UNAUTHENTICATED);
      operation.responses[403] = error(FORBIDDEN);
    }
  }
}
