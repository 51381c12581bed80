import { z } from 'zod';
import { createZodDto } from 'nestjs-zod';
import { PARTICIPANT_STATUSES, ROUND_STATES } from '../persistence/rounds.repository';

/**
 * The REST API's request and response shapes, each a zod schema and, from it, a DTO class
 * (nestjs-zod): ApiValidationPipe validates requests with the same schemas the OpenAPI document
 * at /docs describes (openapi.ts), so the two cannot drift. Responses are sent as the handlers build
 * them (no serialising interceptor): `@ApiResult` (openapi.ts) makes TypeScript check a handler's
 * return type against its schema, and test/openapi.spec.ts checks real answers against the schemas.
 */

const epochMs = (what: string) => z.int().describe(`${what} (epoch milliseconds)`);
const jsonObject = (what: string) => z.record(z.string(), z.unknown()).describe(what);
/**
 * `schema` or null, described. (The description goes on `schema`: zod writes a bare nullable
 * string or number as `type: [string, null]`, which @nestjs/swagger takes for an array.)
 */
const orNull = <T extends z.ZodType>(schema: T, description: string) => schema.describe(description).nullable();

// ---- requests ------------------------------------------------------------------------------------

/** The message of a query value out of range; ApiValidationPipe appends `, got <value>`. */
const boundedIntMessage = (max: number) => `expected an integer in [0, ${max}]`;

/** A query integer in [0, max] (any text Number() reads as one: `?limit=10`), `fallback` when absent. */
function boundedInt(fallback: number, max: number, description: string) {
  const error = boundedIntMessage(max);
  return z.coerce.number({ error }).int({ error }).min(0, { error }).max(max, { error }).default(fallback).describe(description);
}

/** An integer path segment, as ParseIntPipe read it: decimal digits with an optional minus sign, and its message. */
function intParam(description: string) {
  const error = 'Validation failed (numeric string is expected)';
  return z
    .string()
    .regex(/^-?\d+$/, { error })
    .transform(Number)
    .pipe(z.number({ error }))
    .meta({ type: 'integer', description });
}

export const RoundsQuerySchema = z.object({
  limit: boundedInt(100, 1000, 'Rounds per page, newest first.'),
  offset: boundedInt(0, Number.MAX_SAFE_INTEGER, 'Rounds to skip (the newest first).'),
});
export class RoundsQueryDto extends createZodDto(RoundsQuerySchema) {}

export class RoundParamsDto extends createZodDto(z.object({ id: intParam('The round number.') })) {}

export class ModelParamsDto extends createZodDto(z.object({ version: intParam('The model version (1, 2, 3, ...).') })) {}

/** The TF.js files of a published version; any other name is 404 (checked by the handler, as before). */
export const TFJS_FILE_NAMES = ['model.json', 'weights.bin', 'signature.json'] as const;
export type TfjsFileName = (typeof TFJS_FILE_NAMES)[number];

export class ModelFileParamsDto extends createZodDto(
  z.object({
    version: intParam('The model version (1, 2, 3, ...).'),
    file: z.string().describe(`One of ${TFJS_FILE_NAMES.join(', ')}; any other name is 404.`),
  }),
) {}

// ---- responses -----------------------------------------------------------------------------------

/** Every refusal and error the coordinator makes itself (HttpException bodies). */
export const ErrorSchema = z.object({
  code: z.string().describe('Machine-readable: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BAD_QUERY, CANNOT_START, RATE_LIMITED, ...'),
  message: z.string().describe('What went wrong, for people.'),
});
export class ErrorDto extends createZodDto(ErrorSchema) {}

/** A path parameter that is not an integer: Nest's own 400 body (as ParseIntPipe gave it). */
export const BadParamSchema = z.object({
  statusCode: z.literal(400),
  message: z.string().describe('Validation failed (numeric string is expected)'),
  error: z.literal('Bad Request'),
});
export class BadParamDto extends createZodDto(BadParamSchema) {}

const roundFields = {
  number: z.int().describe('The round number (1, 2, 3, ...).'),
  state: z.enum(ROUND_STATES),
  reason: orNull(z.string(), 'Why the round is in its state (failed / cancelled); null on the happy path.'),
  config: jsonObject('Aggregation rule, loss, temperature, proxy spec, min clients, deadline, encoding, ...'),
  openedAt: epochMs('When the round opened'),
  closedAt: epochMs('When the round reached a terminal state').nullable(),
  metrics: jsonObject('e.g. testAccuracy, student epochs, invited / answered counts.').nullable(),
  timings: z.record(z.string(), z.number()).nullable().describe('Milliseconds per phase, e.g. { collectMs, aggregateMs, trainMs }.'),
};

export const RoundSchema = z.object(roundFields);
export class RoundDto extends createZodDto(RoundSchema) {}

export const RoundDetailSchema = z.object({
  ...roundFields,
  participants: z
    .array(
      z.object({
        round: z.int(),
        clientId: z.string(),
        clientName: z.string(),
        status: z.enum(PARTICIPANT_STATUSES),
        reason: orNull(z.string(), 'Why it has its status (e.g. why its answer was rejected).'),
        bytesUploaded: z.int(),
        answeredAt: epochMs('When its answer arrived').nullable(),
      }),
    )
    .describe('By client name.'),
  transitions: z
    .array(
      z.object({
        from: z.enum(ROUND_STATES).nullable().describe('null for the creation (-> open).'),
        to: z.enum(ROUND_STATES),
        reason: orNull(z.string(), 'Why the round moved.'),
        at: epochMs('When'),
      }),
    )
    .describe('Oldest first, starting with the creation.'),
});
export class RoundDetailDto extends createZodDto(RoundDetailSchema) {}

export const RoundSummarySchema = z.object({
  round: z.int(),
  state: z.enum(ROUND_STATES),
  reason: orNull(z.string(), 'Why the round failed or was cancelled; null when published.'),
  modelVersion: z.int().nullable().describe('The student the round published, if it did.'),
  testAccuracy: orNull(z.number(), "The student's test accuracy (null without an evaluation set)."),
  agreement: orNull(z.number(), "The student's agreement with the aggregated targets."),
});
export class RoundSummaryDto extends createZodDto(RoundSummarySchema) {}

export const ModelVersionSchema = z.object({
  version: z.int().describe('1, 2, 3, ...; never reused, never overwritten.'),
  round: z.int().describe('The round that trained it.'),
  sha256: z.string().describe('SHA-256 (lower-case hex) of the whole weight blob (GET /models/{version}).'),
  byteLength: z.int(),
  metrics: jsonObject('e.g. { testAccuracy }.'),
  createdAt: epochMs('When it was published'),
});
export class ModelVersionDto extends createZodDto(ModelVersionSchema) {}

/** libs/engine ArchitectureDescription: a zoo spec as it is, a user's own model by its shapes and size only. */
const ArchitectureSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('mlp'), inputShape: z.array(z.int()), hidden: z.array(z.int()), classes: z.int() }),
    z.object({ kind: z.literal('cnn'), inputShape: z.array(z.int()).length(3), convFilters: z.array(z.int()), kernelSize: z.int(), hidden: z.array(z.int()), classes: z.int() }),
    z.object({ kind: z.literal('layers'), inputShape: z.array(z.int()), classes: z.int(), parameters: z.int() }),
  ])
  .describe("The client's model, from its hello.");

export const ClientSchema = z.object({
  id: z.string().describe("Coordinator-assigned, stable across reconnections ('c-' + 12 hex digits)."),
  name: z.string().describe('Operator-chosen, unique (the handshake clientName).'),
  architecture: ArchitectureSchema,
  sampleCount: z.int().nullable().describe('Private sample count, only when the client shares it.'),
  firstSeenAt: epochMs('First connection'),
  lastSeenAt: epochMs('Last connection'),
  status: z.enum(['active', 'revoked']),
  connected: z.boolean().describe('Whether it is connected now.'),
  privacy: z
    .object({
      clientId: z.string(),
      epsilon: z.number().describe('Cumulative (epsilon, delta) over its private rounds, classic RDP conversion.'),
      epsilonBalle2020: z.number(),
      privateRounds: z.int(),
      accounting: z.literal('data-independent'),
    })
    .optional()
    .describe('What private rounds have cost it; absent before its first private round.'),
  reputation: z
    .object({
      reputation: z.number(),
      flagged: z.boolean().describe('Whether its last round flagged it.'),
      flaggedRounds: z.array(z.int()),
      history: z.array(z.object({ round: z.int(), agreement: z.number(), reputation: z.number(), weight: z.number(), flagged: z.boolean() })),
    })
    .optional()
    .describe("Under the reputation rule: where it stands and every round's evidence."),
});
export class ClientDto extends createZodDto(ClientSchema) {}

export const HealthSchema = z.object({
  status: z.literal('ok'),
  backend: z.string().describe('The TensorFlow.js backend.'),
  uptimeSeconds: z.int(),
  connections: z
    .object({
      open: z.int(),
      unauthenticated: z.int(),
      refused: z.object({ perAddress: z.int(), unauthenticated: z.int(), preAuthMessageTooLarge: z.int(), helloTimeout: z.int() }),
    })
    .optional()
    .describe('Open socket connections and refusals by reason (since start-up).'),
  replica: z
    .object({ id: z.string().describe('Host, process id and a random suffix.'), leading: z.boolean().describe('Whether this process runs the rounds now.') })
    .optional()
    .describe('Which coordinator process answered: with replicas on PostgreSQL, exactly one leads the rounds.'),
});
export class HealthDto extends createZodDto(HealthSchema) {}
