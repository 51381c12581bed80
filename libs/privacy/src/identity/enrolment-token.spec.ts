import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { createEnrolmentToken, hashEnrolmentToken, markEnrolmentTokenUsed, verifyEnrolmentToken } from './index';

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;

describe('enrolment tokens', () => {
  it('creates a 43-character base64url token (32 random bytes) and a record valid for the ttl', () => {
    const { token, record } = createEnrolmentToken('hospital-a', HOUR, NOW);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(record).toEqual({ clientName: 'hospital-a', tokenHash: hashEnrolmentToken(token), expiresAt: NOW + HOUR, usedAt: null });
    expect(createEnrolmentToken('hospital-a', HOUR, NOW).token).not.toBe(token);
  });

  it('stores only the SHA-512 of the token: the token does not appear in the record', () => {
    const { token, record } = createEnrolmentToken('hospital-a', HOUR, NOW);
    expect(record.tokenHash).toBe(createHash('sha512').update(token, 'utf8').digest('hex'));
    const stored = JSON.stringify(record);
    expect(stored).not.toContain(token);
    expect(stored).not.toContain(Buffer.from(token, 'base64url').toString('hex'));
    expect(stored).not.toContain(Buffer.from(token, 'base64url').toString('base64'));
  });

  it('accepts the right token before it expires, naming the client of the record', () => {
    const { token, record } = createEnrolmentToken('hospital-a', HOUR, NOW);
    expect(verifyEnrolmentToken(token, record, NOW + HOUR - 1)).toEqual({ ok: true, value: { clientName: 'hospital-a' } });
  });

  it('refuses a wrong token', () => {
    const { record } = createEnrolmentToken('hospital-a', HOUR, NOW);
    const other = createEnrolmentToken('hospital-a', HOUR, NOW).token;
    expect(verifyEnrolmentToken(other, record, NOW)).toMatchObject({ ok: false, code: 'WRONG_TOKEN' });
  });

  it('refuses an expired token (from expiresAt on)', () => {
    const { token, record } = createEnrolmentToken('hospital-a', HOUR, NOW);
    expect(verifyEnrolmentToken(token, record, NOW + HOUR)).toMatchObject({ ok: false, code: 'EXPIRED' });
  });

  it('says WRONG_TOKEN rather than EXPIRED to someone without the token', () => {
    const { record } = createEnrolmentToken('hospital-a', HOUR, NOW);
    const other = createEnrolmentToken('x', HOUR, NOW).token;
    expect(verifyEnrolmentToken(other, record, NOW + 2 * HOUR)).toMatchObject({ ok: false, code: 'WRONG_TOKEN' });
  });

  it('refuses a token once its record is marked used', () => {
    const { token, record } = createEnrolmentToken('hospital-a', HOUR, NOW);
    expect(verifyEnrolmentToken(token, record, NOW).ok).toBe(true);
    const used = markEnrolmentTokenUsed(record, NOW + 1);
    expect(used.usedAt).toBe(NOW + 1);
    expect(record.usedAt).toBeNull();
    expect(verifyEnrolmentToken(token, used, NOW + 2)).toMatchObject({ ok: false, code: 'ALREADY_USED' });
  });

  it.each([undefined, 42, '', 'short', `${'A'.repeat(42)}=`, 'A'.repeat(44)])('refuses the malformed token %j without throwing', (token) => {
    const { record } = createEnrolmentToken('hospital-a', HOUR, NOW);
    expect(verifyEnrolmentToken(token, record, NOW)).toMatchObject({ ok: false, code: 'MALFORMED' });
  });

  it('throws for programmer errors: a non-positive ttl, an empty client name, a corrupt record', () => {
    expect(() => createEnrolmentToken('a', 0, NOW)).toThrow(RangeError);
    expect(() => createEnrolmentToken('', HOUR, NOW)).toThrow(TypeError);
    const { token, record } = createEnrolmentToken('a', HOUR, NOW);
    expect(() => verifyEnrolmentToken(token, { ...record, tokenHash: 'abc' }, NOW)).toThrow(TypeError);
  });
});
