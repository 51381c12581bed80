import * as fs from 'node:fs';
import * as path from 'node:path';


import {
  assertPublicKey,
  assertSecretKey,
  decodeBase64Exact,
  generateIdentity,
  isConsistentSecretKey,
  fingerprint,
  PUBLIC_KEY_BYTES,
  SECRET_KEY_BYTES,
  type Ed25519KeyPair,
} from './ed25519-keys';
import { refuse, succeed, type IdentityResult } from './identity-result';
import { syncDirectory, writeSyncedTemporary } from '../durable-files';

/**
 * Key files. `<name>.key` holds the secret key (mode 0600), `<name>.pub` the public key (0644),
 * each one line of JSON with a format tag:
 *
 *   {"format":"fedkd-ed25519-secret-key/v1","secretKey":"<base64 of 64 bytes: seed || public key>"}
 *   {"format":"fedkd-ed25519-public-key/v1","publicKey":"<base64 of 32 bytes>"}
 *
 * Files are written to a temporary name created with O_CREAT|O_EXCL and the final mode (then
 * fchmod'ed to it exactly, whatever the umask), synced, and only then linked (no overwrite) or
 * renamed (forced overwrite) into place: the secret key is never readable by others, not even
 * while being written, and a crash never leaves a half-written key under its final name.
 */

export const SECRET_KEY_FORMAT = 'fedkd-ed25519-secret-key/v1';
export const PUBLIC_KEY_FORMAT = 'fedkd-ed25519-public-key/v1';
export const SECRET_KEY_FILE_MODE = 0o600;
export const PUBLIC_KEY_FILE_MODE = 0o644;
/** Key names become file names: 1-64 of [A-Za-z0-9._-], not starting with a dot. */
export const KEY_NAME_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;
/** Key files are about 130 bytes; anything much larger is not a key file. */
const MAX_KEY_FILE_BYTES = 4096;

export interface KeyFilePaths {
  secretKeyPath: string;
  publicKeyPath: string;
}

export interface InitialisedKeys extends KeyFilePaths {
  publicKey: Uint8Array;
  fingerprint: string;
}

export type WriteKeysRefusalCode = 'BAD_NAME' | 'KEYS_EXIST' | 'IO_ERROR';
export type ReadKeyRefusalCode = 'NOT_FOUND' | 'INSECURE_PERMISSIONS' | 'MALFORMED' | 'IO_ERROR';

export function keyFilePaths(dir: string, name: string): KeyFilePaths {
  return { secretKeyPath: path.join(dir, `${name}.key`), publicKeyPath: path.join(dir, `${name}.pub`) };
}

/** The text of a `.key` file. */
export function formatSecretKeyFile(secretKey: Uint8Array): string {
  assertSecretKey(secretKey);
  return `${JSON.stringify({ format: SECRET_KEY_FORMAT, secretKey: Buffer.from(secretKey).toString('base64') })}\n`;
}

/** The text of a `.pub` file. */
export function formatPublicKeyFile(publicKey: Uint8Array): string {
  assertPublicKey(publicKey);
  return `${JSON.stringify({ format: PUBLIC_KEY_FORMAT, publicKey: Buffer.from(publicKey).toString('base64') })}\n`;
}

/**
 * Parses the text of a `.pub` file (e.g. a pinned coordinator key given in config): the JSON
 * object with its format tag and exactly 32 bytes of canonical base64.
 */
export function parsePublicKeyFile(text: string, source = 'public key'): IdentityResult<Uint8Array, 'MALFORMED'> {
  const fields = parseKeyJson(text, PUBLIC_KEY_FORMAT, 'publicKey', source);
  if (!fields.ok) return fields;
  const publicKey = decodeBase64Exact(fields.value, PUBLIC_KEY_BYTES);
  if (!publicKey) return refuse('MALFORMED', `${source}: publicKey must be the base64 of ${PUBLIC_KEY_BYTES} bytes`);
  return succeed(publicKey);
}

/** Parses the text of a `.key` file into the key pair, checking that its halves belong together. */
export function parseSecretKeyFile(text: string, source = 'secret key'): IdentityResult<Ed25519KeyPair, 'MALFORMED'> {
  const fields = parseKeyJson(text, SECRET_KEY_FORMAT, 'secretKey', source);
  if (!fields.ok) return fields;
  const secretKey = decodeBase64Exact(fields.value, SECRET_KEY_BYTES);
  if (!secretKey) return refuse('MALFORMED', `${source}: secretKey must be the base64 of ${SECRET_KEY_BYTES} bytes`);
  if (!isConsistentSecretKey(secretKey)) {
    return refuse('MALFORMED', `${source}: the secret key is corrupt (its public half does not match its seed)`);
  }
  return succeed({ secretKey, publicKey: secretKey.slice(32) });
}

/**
 * Writes `<dir>/<name>.key` (0600) and `<dir>/<name>.pub` (0644), creating `dir` (0700) if
 * needed. Refuses (KEYS_EXIST) if either file exists, unless `force`, which replaces both
 * atomically file by file. Throws only for a key pair of the wrong shape.
 */
export function writeKeyPair(
  dir: string,
  name: string,
  keyPair: Ed25519KeyPair,
  options: { force?: boolean } = {},
): IdentityResult<KeyFilePaths, WriteKeysRefusalCode> {
  assertSecretKey(keyPair.secretKey);
  assertPublicKey(keyPair.publicKey);
  if (typeof name !== 'string' || !KEY_NAME_PATTERN.test(name)) {
    return refuse('BAD_NAME', `key name must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-', not starting with '.', got ${JSON.stringify(name)}`);
  }
  const force = options.force ?? false;
  const paths = keyFilePaths(dir, name);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!force) {
      const existing = [paths.secretKeyPath, paths.publicKeyPath].filter((p) => fs.existsSync(p));
      if (existing.length > 0) return keysExist(existing);
    }
    const secretInstalled = installFile(paths.secretKeyPath, formatSecretKeyFile(keyPair.secretKey), SECRET_KEY_FILE_MODE, force);
    if (!secretInstalled.ok) return secretInstalled;
    const publicInstalled = installFile(paths.publicKeyPath, formatPublicKeyFile(keyPair.publicKey), PUBLIC_KEY_FILE_MODE, force);
    if (!publicInstalled.ok) {
      if (!force) fs.rmSync(paths.secretKeyPath, { force: true }); // we created it a moment ago: keep the pair whole
      return publicInstalled;
    }
    syncDirectory(dir);
    return succeed(paths);
  } catch (error) {
    return refuse('IO_ERROR', `cannot write keys ${name} in ${dir}: ${describeIoError(error)}`);
  }
}

/**
 * Generates a new identity and writes it as `<name>.key` / `<name>.pub` in `dir`; refuses to
 * replace existing keys (KEYS_EXIST) unless `force`. Returns the public key and its fingerprint.
 */
export function initKeys(
  dir: string,
  name: string,
  options: { force?: boolean } = {},
): IdentityResult<InitialisedKeys, WriteKeysRefusalCode> {
  const keyPair = generateIdentity();
  const written = writeKeyPair(dir, name, keyPair, options);
  if (!written.ok) return written;
  return succeed({ ...written.value, publicKey: keyPair.publicKey, fingerprint: fingerprint(keyPair.publicKey) });
}

/**
 * Reads a `.key` file. Like ssh, refuses (INSECURE_PERMISSIONS) a file whose mode gives the group
 * or others any access, naming the mode and the fix; MALFORMED for anything but a regular file
 * holding a well-formed, self-consistent key. The mode is checked on the opened descriptor.
 * (On Windows, where POSIX modes mean nothing, the mode check is skipped.)
 */
export function readSecretKey(filePath: string): IdentityResult<Ed25519KeyPair, ReadKeyRefusalCode> {
  const read = readKeyFile(filePath, 'secret key', true);
  if (!read.ok) return read;
  return parseSecretKeyFile(read.value, `secret key file ${filePath}`);
}

/** Reads a `.pub` file (any mode). */
export function readPublicKey(filePath: string): IdentityResult<Uint8Array, ReadKeyRefusalCode> {
  const read = readKeyFile(filePath, 'public key', false);
  if (!read.ok) return read;
  return parsePublicKeyFile(read.value, `public key file ${filePath}`);
}

function readKeyFile(filePath: string, what: string, secret: boolean): IdentityResult<string, ReadKeyRefusalCode> {
  let fd: number;
  try {
    fd = fs.openSync(filePath, 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return refuse('NOT_FOUND', `${what} file ${filePath} does not exist`);
    return refuse('IO_ERROR', `cannot open ${what} file ${filePath}: ${describeIoError(error)}`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return refuse('MALFORMED', `${what} file ${filePath} is not a regular file`);
    const mode = stat.mode & 0o777;
    if (secret && process.platform !== 'win32' && (mode & 0o077) !== 0) {
      return refuse(
        'INSECURE_PERMISSIONS',
        `permissions 0${mode.toString(8)} for secret key file ${filePath} are too open: it must not be accessible by group or others (run: chmod 600 ${filePath})`,
      );
    }
    if (stat.size > MAX_KEY_FILE_BYTES) {
      return refuse('MALFORMED', `${what} file ${filePath} is ${stat.size} bytes: not a key file (at most ${MAX_KEY_FILE_BYTES})`);
    }
    return succeed(fs.readFileSync(fd, 'utf8'));
  } catch (error) {
    return refuse('IO_ERROR', `cannot read ${what} file ${filePath}: ${describeIoError(error)}`);
  } finally {
    fs.closeSync(fd);
  }
}

function parseKeyJson(text: string, format: string, field: string, source: string): IdentityResult<unknown, 'MALFORMED'> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refuse('MALFORMED', `${source}: not a fedkd key file (expected one line of JSON with "format": "${format}")`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return refuse('MALFORMED', `${source}: not a fedkd key file (expected a JSON object with "format": "${format}")`);
  }
  const record = parsed as Record<string, unknown>;
  if (record.format !== format) {
    const got = typeof record.format === 'string' ? JSON.stringify(record.format.slice(0, 60)) : 'none';
    return refuse('MALFORMED', `${source}: format must be "${format}", got ${got}`);
  }
  return succeed(record[field]);
}

/**
 * Writes `text` to a synced temporary file created with `mode`, then links it to `target` (fails if
 * the target exists) or, when `overwrite`, renames it over the target.
 */
function installFile(target: string, text: string, mode: number, overwrite: boolean): IdentityResult<void, WriteKeysRefusalCode> {
  const temporary = writeSyncedTemporary(target, text, mode);
  try {
    if (overwrite) {
      fs.renameSync(temporary, target);
    } else {
      try {
        fs.linkSync(temporary, target);
      } catch (error) {
        if (errorCode(error) === 'EEXIST') return keysExist([target]);
        throw error;
      }
    }
    return succeed(undefined);
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}

function keysExist(existing: string[]): IdentityResult<never, 'KEYS_EXIST'> {
  return refuse('KEYS_EXIST', `refusing to overwrite existing key file${existing.length > 1 ? 's' : ''} ${existing.join(' and ')} (force to replace)`);
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function describeIoError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
