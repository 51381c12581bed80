import { describe, expect, it } from 'vitest';

import { generateIdentity, parseSignedRestAuthorization, SeenRequestNonces, signRestRequest, verifySignedRestRequest, type RestRequestExpectations } from './index';

const NOW = 1_700_000_000_000;
const client = generateIdentity();
const coordinator = generateIdentity();
const otherCoordinator = generateIdentity();
const request = { method: 'GET', path: '/models/3/model.json' };

function signed(overrides: { path?: string; timestamp?: number; coordinatorPublicKey?: Uint8Array; secretKey?: Uint8Array } = {}) {
  const header = signRestRequest(
    { method: 'GET', path: overrides.path ?? request.path },
    { clientName: 'hospital-a', secretKey: overrides.secretKey ?? client.secretKey, coordinatorPublicKey: overrides.coordinatorPublicKey ?? coordinator.publicKey },
    overrides.timestamp ?? NOW,
  );
  const parsed = parseSignedRestAuthorization(header);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value;
}

function expectations(overrides: Partial<RestRequestExpectations> = {}): RestRequestExpectations {
  return { publicKey: client.publicKey, coordinatorPublicKey: coordinator.publicKey, now: NOW + 200, maxSkewMs: 30_000, nonces: new SeenRequestNonces(), ...overrides };
}

describe('signed REST request', () => {
  it('accepts a fresh request signed by the enrolled key for this coordinator', () => {
    expect(verifySignedRestRequest(request, signed(), expectations())).toEqual({ ok: true, value: { clientName: 'hospital-a' } });
  });

  it('refuses the same request sent twice (the nonce is remembered)', () => {
    const nonces = new SeenRequestNonces();
    const fields = signed();
    expect(verifySignedRestRequest(request, fields, expectations({ nonces })).ok).toBe(true);
    expect(verifySignedRestRequest(request, fields, expectations({ nonces }))).toMatchObject({ ok: false, code: 'NONCE_REUSED' });
  });

  it('refuses a request signed for another coordinator', () => {
    expect(verifySignedRestRequest(request, signed({ coordinatorPublicKey: otherCoordinator.publicKey }), expectations())).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses a signature made for another path', () => {
    expect(verifySignedRestRequest(request, signed({ path: '/models/4/model.json' }), expectations())).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses a request signed by a key other than the enrolled one', () => {
    expect(verifySignedRestRequest(request, signed({ secretKey: generateIdentity().secretKey }), expectations())).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses timestamps outside the allowed clock skew, in either direction', () => {
    expect(verifySignedRestRequest(request, signed({ timestamp: NOW - 31_000 }), expectations({ now: NOW }))).toMatchObject({ ok: false, code: 'STALE_TIMESTAMP' });
    expect(verifySignedRestRequest(request, signed({ timestamp: NOW + 31_000 }), expectations({ now: NOW }))).toMatchObject({ ok: false, code: 'FUTURE_TIMESTAMP' });
  });

  it('refuses new requests rather than forget an unexpired nonce when full', () => {
    const nonces = new SeenRequestNonces(1);
    expect(verifySignedRestRequest(request, signed(), expectations({ nonces })).ok).toBe(true);
    expect(verifySignedRestRequest(request, signed(), expectations({ nonces }))).toMatchObject({ ok: false, code: 'BUSY' });
    expect(verifySignedRestRequest(request, signed({ timestamp: NOW + 40_000 }), expectations({ nonces, now: NOW + 40_000 })).ok).toBe(true);
  });

  it('names the problem in a malformed Authorization header', () => {
    expect(parseSignedRestAuthorization('Bearer abc')).toMatchObject({ ok: false, code: 'MALFORMED', message: expect.stringContaining('scheme') });
    expect(parseSignedRestAuthorization('Fedkd-Ed25519 client="a", timestamp="x", nonce="AAAAAAAAAAAAAAAAAAAAAA", signature="A"')).toMatchObject({
      ok: false,
      message: expect.stringContaining('timestamp'),
    });
    const valid = signRestRequest(request, { clientName: 'a', secretKey: client.secretKey, coordinatorPublicKey: coordinator.publicKey }, NOW);
    expect(parseSignedRestAuthorization(`${valid}, extra="1"`)).toMatchObject({ ok: false, message: expect.stringContaining('unknown parameter') });
    expect(parseSignedRestAuthorization(valid.replace(/nonce="[^"]*"/, 'nonce="short"'))).toMatchObject({ ok: false, message: expect.stringContaining('nonce') });
  });
});
