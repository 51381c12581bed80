import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  formatSecretKeyFile,
  generateIdentity,
  initKeys,
  keyFilePaths,
  readPublicKey,
  readSecretKey,
  SECRET_KEY_FORMAT,
  writeKeyPair,
} from './index';

const modeOf = (file: string): number => fs.statSync(file).mode & 0o777;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fedkd-keys-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('key files', () => {
  it('writes the secret key with mode 0600 and the public key with 0644, even under a permissive umask', () => {
    const previous = process.umask(0o000);
    try {
      const written = writeKeyPair(dir, 'client-a', generateIdentity());
      expect(written.ok).toBe(true);
      const { secretKeyPath, publicKeyPath } = keyFilePaths(dir, 'client-a');
      expect(modeOf(secretKeyPath)).toBe(0o600);
      expect(modeOf(publicKeyPath)).toBe(0o644);
    } finally {
      process.umask(previous);
    }
  });

  it('gives the public key 0644 under a strict umask too, and leaves no temporary files', () => {
    const previous = process.umask(0o077);
    try {
      expect(writeKeyPair(dir, 'client-a', generateIdentity()).ok).toBe(true);
    } finally {
      process.umask(previous);
    }
    expect(modeOf(path.join(dir, 'client-a.pub'))).toBe(0o644);
    expect(fs.readdirSync(dir).sort()).toEqual(['client-a.key', 'client-a.pub']);
  });

  it('round-trips a key pair through its files', () => {
    const pair = generateIdentity();
    writeKeyPair(dir, 'coordinator', pair);
    const secret = readSecretKey(path.join(dir, 'coordinator.key'));
    const pub = readPublicKey(path.join(dir, 'coordinator.pub'));
    expect(secret).toEqual({ ok: true, value: { secretKey: pair.secretKey, publicKey: pair.publicKey } });
    expect(pub).toEqual({ ok: true, value: pair.publicKey });
  });

  it('stores one line of JSON with a format tag', () => {
    const pair = generateIdentity();
    writeKeyPair(dir, 'k', pair);
    const secretText = fs.readFileSync(path.join(dir, 'k.key'), 'utf8');
    expect(JSON.parse(secretText)).toEqual({ format: SECRET_KEY_FORMAT, secretKey: Buffer.from(pair.secretKey).toString('base64') });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'k.pub'), 'utf8'))).toEqual({
      format: 'fedkd-ed25519-public-key/v1',
      publicKey: Buffer.from(pair.publicKey).toString('base64'),
    });
  });

  it.each([0o644, 0o640, 0o604, 0o660, 0o606])('refuses a secret key file with mode 0%o (group or others have access), like ssh', (mode) => {
    writeKeyPair(dir, 'k', generateIdentity());
    const file = path.join(dir, 'k.key');
    fs.chmodSync(file, mode);
    const read = readSecretKey(file);
    expect(read.ok).toBe(false);
    if (read.ok) return;
    expect(read.code).toBe('INSECURE_PERMISSIONS');
    expect(read.message).toContain(`0${mode.toString(8)}`);
    expect(read.message).toContain('chmod 600');
  });

  it('accepts a read-only secret key file (0400)', () => {
    writeKeyPair(dir, 'k', generateIdentity());
    const file = path.join(dir, 'k.key');
    fs.chmodSync(file, 0o400);
    expect(readSecretKey(file).ok).toBe(true);
  });

  it('says NOT_FOUND for a missing file', () => {
    expect(readSecretKey(path.join(dir, 'none.key'))).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    expect(readPublicKey(path.join(dir, 'none.pub'))).toMatchObject({ ok: false, code: 'NOT_FOUND' });
  });

  describe('refuses malformed secret key files', () => {
    const pair = generateIdentity();
    const valid = JSON.parse(formatSecretKeyFile(pair.secretKey)) as { secretKey: string };
    const corrupt = pair.secretKey.slice();
    corrupt[63] ^= 1;
    const cases: Array<[string, string]> = [
      ['not JSON', 'hello'],
      ['a JSON array', '[]'],
      ['no format tag', JSON.stringify({ secretKey: valid.secretKey })],
      ['the public key format tag', JSON.stringify({ format: 'fedkd-ed25519-public-key/v1', secretKey: valid.secretKey })],
      ['a key of 32 bytes', JSON.stringify({ format: SECRET_KEY_FORMAT, secretKey: Buffer.from(pair.secretKey.slice(0, 32)).toString('base64') })],
      ['non-canonical base64', JSON.stringify({ format: SECRET_KEY_FORMAT, secretKey: `*${valid.secretKey}` })],
      ['inconsistent halves', JSON.stringify({ format: SECRET_KEY_FORMAT, secretKey: Buffer.from(corrupt).toString('base64') })],
    ];
    it.each(cases)('%s', (_what, text) => {
      const file = path.join(dir, 'bad.key');
      fs.writeFileSync(file, text, { mode: 0o600 });
      expect(readSecretKey(file)).toMatchObject({ ok: false, code: 'MALFORMED' });
    });

    it('a directory', () => {
      const sub = path.join(dir, 'sub.key');
      fs.mkdirSync(sub, { mode: 0o700 });
      expect(readSecretKey(sub)).toMatchObject({ ok: false, code: 'MALFORMED' });
    });
  });

  it('refuses a malformed public key file', () => {
    const file = path.join(dir, 'bad.pub');
    fs.writeFileSync(file, JSON.stringify({ format: 'fedkd-ed25519-public-key/v1', publicKey: 'AAAA' }));
    expect(readPublicKey(file)).toMatchObject({ ok: false, code: 'MALFORMED' });
  });

  it.each(['', '../escape', '.hidden', 'a/b', 'x'.repeat(65)])('refuses the key name %j', (name) => {
    expect(writeKeyPair(dir, name, generateIdentity())).toMatchObject({ ok: false, code: 'BAD_NAME' });
  });
});

describe('initKeys', () => {
  it('creates the directory (0700) and a fresh pair, returning its paths and fingerprint', () => {
    const target = path.join(dir, 'nested', 'keys');
    const init = initKeys(target, 'hospital-a');
    expect(init.ok).toBe(true);
    if (!init.ok) return;
    expect(modeOf(target)).toBe(0o700);
    expect(init.value.secretKeyPath).toBe(path.join(target, 'hospital-a.key'));
    expect(init.value.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(readPublicKey(init.value.publicKeyPath)).toEqual({ ok: true, value: init.value.publicKey });
  });

  it('refuses to overwrite existing keys, leaving them untouched', () => {
    const first = initKeys(dir, 'k');
    const before = fs.readFileSync(path.join(dir, 'k.key'), 'utf8');
    const second = initKeys(dir, 'k');
    expect(second).toMatchObject({ ok: false, code: 'KEYS_EXIST' });
    expect(fs.readFileSync(path.join(dir, 'k.key'), 'utf8')).toBe(before);
    expect(first.ok).toBe(true);
  });

  it('refuses when only the public key file exists, and does not leave a lone secret key', () => {
    fs.writeFileSync(path.join(dir, 'k.pub'), 'something');
    expect(initKeys(dir, 'k')).toMatchObject({ ok: false, code: 'KEYS_EXIST' });
    expect(fs.existsSync(path.join(dir, 'k.key'))).toBe(false);
  });

  it('replaces existing keys when forced, keeping the modes', () => {
    const first = initKeys(dir, 'k');
    fs.chmodSync(path.join(dir, 'k.pub'), 0o600);
    const second = initKeys(dir, 'k', { force: true });
    expect(first.ok && second.ok).toBe(true);
    if (!first.ok || !second.ok) return;
    expect(second.value.fingerprint).not.toBe(first.value.fingerprint);
    expect(readSecretKey(second.value.secretKeyPath)).toMatchObject({ ok: true, value: { publicKey: second.value.publicKey } });
    expect(modeOf(second.value.secretKeyPath)).toBe(0o600);
    expect(modeOf(second.value.publicKeyPath)).toBe(0o644);
    expect(fs.readdirSync(dir).sort()).toEqual(['k.key', 'k.pub']);
  });
});
