import { describe, expect, it } from 'vitest';

import { bytesToHex, generateIdentity, identityFromSeed, NonceRegistry, signHandshake, verifyHandshake, type HandshakeExpectations } from './index';

const NOW = 1_700_000_000_000;
const client = generateIdentity();
const PROTOCOL = 2;

function setUp(overrides: Partial<HandshakeExpectations> = {}) {
  const nonces = new NonceRegistry({ ttlMs: 60_000 });
  const nonce = nonces.issue(NOW);
  const expected: HandshakeExpectations = {
    expectedNonce: nonce,
    nonces,
    publicKey: client.publicKey,
    clientName: 'hospital-a',
    protocolVersion: PROTOCOL,
    now: NOW + 100,
    maxSkewMs: 30_000,
    ...overrides,
  };
  const proof = signHandshake({ nonce, clientName: 'hospital-a', protocolVersion: PROTOCOL, timestamp: NOW }, client.secretKey);
  return { nonces, nonce, expected, proof };
}

describe('handshake proof', () => {
  it('accepts a fresh proof signed by the enrolled key', () => {
    const { proof, expected } = setUp();
    expect(verifyHandshake(proof, expected)).toEqual({ ok: true, value: { clientName: 'hospital-a', protocolVersion: PROTOCOL, timestamp: NOW } });
  });

  it('accepts a proof that carries only timestamp and signature (the rest is what the coordinator expects)', () => {
    const { proof, expected } = setUp();
    expect(verifyHandshake({ timestamp: proof.timestamp, signature: proof.signature, publicKey: client.publicKey }, expected).ok).toBe(true);
  });

  it('pins the signature of a fixed challenge (Ed25519 is deterministic)', () => {
    const pair = identityFromSeed(Uint8Array.from({ length: 32 }, (_, i) => i));
    const proof = signHandshake({ nonce: new Uint8Array(32).fill(0xab), clientName: 'hospital-a', protocolVersion: 2, timestamp: NOW }, pair.secretKey);
    expect(bytesToHex(proof.signature)).toBe(
      '379b2a5efe7bbd3714d812b572216910ab94794a74f1563793d39ab678ed4a55f3f035fb5d36b2ca80488582c112128157e83fb85896f019c27b374f3d51600f',
    );
  });

  it('refuses a proof forged with another key', () => {
    const { nonce, expected } = setUp();
    const forger = generateIdentity();
    const forged = signHandshake({ nonce, clientName: 'hospital-a', protocolVersion: PROTOCOL, timestamp: NOW }, forger.secretKey);
    expect(verifyHandshake(forged, expected)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses a proof of another nonce', () => {
    const { expected, nonces } = setUp();
    const other = nonces.issue(NOW);
    const proof = signHandshake({ nonce: other, clientName: 'hospital-a', protocolVersion: PROTOCOL, timestamp: NOW }, client.secretKey);
    expect(verifyHandshake(proof, expected)).toMatchObject({ ok: false, code: 'NONCE_MISMATCH' });
    // ...and one that only omits the nonce still fails, since the expected nonce is what is verified.
    expect(verifyHandshake({ timestamp: proof.timestamp, signature: proof.signature }, expected)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses a reused nonce, even with a valid proof', () => {
    const { proof, expected } = setUp();
    expect(verifyHandshake(proof, expected).ok).toBe(true);
    expect(verifyHandshake(proof, expected)).toMatchObject({ ok: false, code: 'NONCE_REUSED' });
  });

  it('burns the nonce on a failed attempt: a correct proof after a forged one is refused', () => {
    const { proof, nonce, expected } = setUp();
    const forged = signHandshake({ nonce, clientName: 'hospital-a', protocolVersion: PROTOCOL, timestamp: NOW }, generateIdentity().secretKey);
    expect(verifyHandshake(forged, expected)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(verifyHandshake(proof, expected)).toMatchObject({ ok: false, code: 'NONCE_REUSED' });
  });

  it('refuses a nonce this coordinator did not issue', () => {
    const { proof, expected } = setUp();
    expect(verifyHandshake(proof, { ...expected, nonces: new NonceRegistry() })).toMatchObject({ ok: false, code: 'NONCE_UNKNOWN' });
  });

  it('refuses a stale timestamp (older than the skew)', () => {
    const { proof, expected } = setUp({ now: NOW + 30_001 });
    expect(verifyHandshake(proof, expected)).toMatchObject({ ok: false, code: 'STALE_TIMESTAMP' });
  });

  it('accepts a timestamp exactly at the skew, refuses one beyond it in the future', () => {
    const atEdge = setUp({ now: NOW + 30_000 });
    expect(verifyHandshake(atEdge.proof, atEdge.expected).ok).toBe(true);
    const future = setUp({ now: NOW - 30_001 });
    expect(verifyHandshake(future.proof, future.expected)).toMatchObject({ ok: false, code: 'FUTURE_TIMESTAMP' });
  });

  it('refuses a proof that names another client or protocol version', () => {
    const a = setUp({ clientName: 'hospital-b' });
    expect(verifyHandshake(a.proof, a.expected)).toMatchObject({ ok: false, code: 'WRONG_CLIENT' });
    const b = setUp({ protocolVersion: 3 });
    expect(verifyHandshake(b.proof, b.expected)).toMatchObject({ ok: false, code: 'PROTOCOL_VERSION' });
  });

  it('binds the client name and protocol version inside the signed bytes (relabelling the proof breaks it)', () => {
    const { nonce, expected } = setUp();
    const asB = signHandshake({ nonce, clientName: 'hospital-b', protocolVersion: PROTOCOL, timestamp: NOW }, client.secretKey);
    expect(verifyHandshake({ ...asB, clientName: 'hospital-a' }, expected)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });

    const second = setUp();
    const v1 = signHandshake({ nonce: second.nonce, clientName: 'hospital-a', protocolVersion: 1, timestamp: NOW }, client.secretKey);
    expect(verifyHandshake({ ...v1, protocolVersion: PROTOCOL }, second.expected)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });

    const third = setUp();
    expect(verifyHandshake({ ...third.proof, timestamp: NOW + 1 }, third.expected)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it.each([
    ['null', null],
    ['a string', 'proof'],
    ['no signature', { timestamp: NOW }],
    ['a short signature', { timestamp: NOW, signature: new Uint8Array(63) }],
    ['a negative timestamp', { timestamp: -1, signature: new Uint8Array(64) }],
    ['a short nonce', { timestamp: NOW, signature: new Uint8Array(64), nonce: new Uint8Array(31) }],
    ['a numeric client name', { timestamp: NOW, signature: new Uint8Array(64), clientName: 7 }],
  ])('refuses a malformed proof (%s) without throwing', (_what, proof) => {
    const { expected } = setUp();
    expect(verifyHandshake(proof, expected)).toMatchObject({ ok: false, code: 'MALFORMED' });
  });
});
