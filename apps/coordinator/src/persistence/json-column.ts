import { PersistenceError } from './persistence-error';

/** A value that survives JSON.stringify / JSON.parse unchanged. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject;
export type JsonObject = { readonly [key: string]: JsonValue };

/** Where a JSON column lives, for error messages: `rounds row number=3, column config`. */
export interface ColumnLocation {
  table: string;
  /** e.g. `number=3` or `id='c-12ab'`. */
  row: string;
  column: string;
}

function where(at: ColumnLocation): string {
  return `${at.table} row ${at.row}, column ${at.column}`;
}

/**
 * Serialises a value for a JSON column, refusing what JSON would silently change: non-finite
 * numbers (become null), class instances such as Map or Uint8Array (lose their content), bigint,
 * functions, symbols and cycles. `undefined` object fields are dropped, as JSON does.
 */
export function toJsonText(value: unknown, what: string): string {
  assertJsonSafe(value, what, new Set());
  return JSON.stringify(value);
}

function assertJsonSafe(value: unknown, path: string, seen: Set<object>): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(path, `is ${value}, which JSON cannot hold`);
    return;
  }
  if (typeof value !== 'object') throw invalid(path, `is a ${typeof value}, which JSON cannot hold`);
  if (seen.has(value)) throw invalid(path, 'refers to itself (a cycle)');
  seen.add(value);
  if (Array.isArray(value)) {
    value.forEach((item: unknown, i) => {
      if (item === undefined) throw invalid(`${path}[${i}]`, 'is undefined, which JSON cannot hold in an array');
      assertJsonSafe(item, `${path}[${i}]`, seen);
    });
  } else {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'unknown';
      throw invalid(path, `is a ${name}, not a plain object`);
    }
    for (const [key, field] of Object.entries(value)) {
      if (field !== undefined) assertJsonSafe(field, `${path}.${key}`, seen);
    }
  }
  seen.delete(value);
}

function invalid(path: string, problem: string): PersistenceError {
  return new PersistenceError('INVALID_VALUE', `${path} ${problem}`);
}

/** Serialises a JSON object (not an array or a scalar) for a column. */
export function toJsonObjectText(value: unknown, what: string): string {
  if (!isPlainObject(value)) throw new PersistenceError('INVALID_VALUE', `${what} must be a plain JSON object`);
  return toJsonText(value, what);
}

/**
 * Parses a JSON column and checks its shape; `check` returns a description of the problem or null.
 * Any failure names the table, the row and the column, so a corrupted row can be found and fixed.
 */
export function readJsonColumn<T>(text: unknown, at: ColumnLocation, check: (value: unknown) => string | null): T {
  if (typeof text !== 'string') {
    throw new PersistenceError('CORRUPT_ROW', `${where(at)}: expected JSON text, found ${text === null ? 'NULL' : typeof text}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new PersistenceError('CORRUPT_ROW', `${where(at)} holds invalid JSON (${detail})`, { cause: error });
  }
  const problem = check(value);
  if (problem !== null) throw new PersistenceError('CORRUPT_ROW', `${where(at)}: ${problem}`);
  return value as T;
}

/** Like readJsonColumn, for nullable columns: SQL NULL reads as null. */
export function readNullableJsonColumn<T>(text: unknown, at: ColumnLocation, check: (value: unknown) => string | null): T | null {
  return text === null ? null : readJsonColumn<T>(text, at, check);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function expectJsonObject(value: unknown): string | null {
  return isPlainObject(value) ? null : 'expected a JSON object';
}
