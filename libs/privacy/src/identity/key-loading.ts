import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { decodeBase64Exact, PUBLIC_KEY_BYTES, type Ed25519KeyPair } from './ed25519-keys';
import { formatPublicKeyFile, initKeys, readPublicKey, readSecretKey } from './key-files';

/** Creates the key pair at `path` (`<dir>/<name>.key` and `.pub`) unless it exists. */
export function ensureKeyPair(path: string, owner: string): void {
  if (existsSync(path)) return;
  const created = initKeys(dirname(path), basename(path, '.key'));
  if (!created.ok) throw new Error(`cannot create the key of ${owner} at ${path}: ${created.message}`);
}

/** The client's key pair from its file, created there first when asked and missing. */
export function loadClientIdentity(path: string, clientName: string, createIfMissing: boolean): Ed25519KeyPair {
  if (createIfMissing) ensureKeyPair(path, clientName);
  const key = readSecretKey(path);
  if (!key.ok) throw new Error(`key of ${clientName} at ${path}: ${key.message} (create one with \`fedkd keys init --name ${clientName}\` or --create-key)`);
  return key.value;
}

/** The coordinator's pinned public key, from a .pub file or as base64. */
export function loadPinnedKey(file: string | undefined, base64: string | undefined): Uint8Array {
  if (base64) {
    const key = decodeBase64Exact(base64, PUBLIC_KEY_BYTES);
    if (!key) throw new Error('--coordinator-public-key must be the 32-byte Ed25519 key in base64');
    return key;
  }
  if (!file) throw new Error('the coordinator\'s public key must be pinned: give --coordinator-key FILE or --coordinator-public-key BASE64');
  const key = readPublicKey(file);
  if (!key.ok) throw new Error(`coordinator key ${file}: ${key.message}`);
  return key.value;
}

/** Publishes the public half of the key at `secretKeyPath` to `out` (e.g. a volume clients mount read-only). */
export function exportPublicKey(secretKeyPath: string, out: string): void {
  const key = readSecretKey(secretKeyPath);
  if (!key.ok) throw new Error(`key ${secretKeyPath}: ${key.message}`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, formatPublicKeyFile(key.value.publicKey), { mode: 0o644 });
}
