import { BadRequestException, HttpException, HttpStatus, Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import type { ZodType } from 'zod';

/**
 * Validates a route's query and path parameters with the zod schema of their DTO (dto.ts), the
 * one the OpenAPI document shows, and answers a bad one with the same 400 bodies as before the
 * schemas: a query value `{ code: 'BAD_QUERY', message: '<schema message>, got <value>' }`, a path
 * parameter Nest's default 400 body with the schema's message (as ParseIntPipe answered). (nestjs-zod's ZodValidationPipe does the same validation but
 * its exception factory sees only the ZodError, not which request part or value failed.)
 */
@Injectable()
export class ApiValidationPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    const schema = zodSchemaOf(metadata.metatype);
    if (!schema) return value;
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    if (metadata.type === 'query') {
      const raw = issue.path.length > 0 && value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[issue.path[0]] : value;
      throw new HttpException({ code: 'BAD_QUERY', message: `${issue.message}, got ${String(raw)}` }, HttpStatus.BAD_REQUEST);
    }
    // Nest's default body, { statusCode: 400, message, error: 'Bad Request' }, as ParseIntPipe answered.
    if (metadata.type === 'param') throw new BadRequestException(issue.message);
    throw new HttpException({ code: 'BAD_REQUEST', message: `${issue.path.join('.') || metadata.type}: ${issue.message}` }, HttpStatus.BAD_REQUEST);
  }
}

/** The schema of a nestjs-zod DTO class (createZodDto), or undefined for any other parameter type. */
function zodSchemaOf(metatype: unknown): ZodType | undefined {
  if (typeof metatype !== 'function' || !(metatype as { isZodDto?: boolean }).isZodDto) return undefined;
  return (metatype as unknown as { schema: ZodType }).schema;
}
