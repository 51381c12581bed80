import { describe, expect, it } from 'vitest';

import { generateIdentity, MessageSigner, MessageVerifier, signMessage, type EnrolledClientKey, type SignedMessage } from './index';

const alice = generateIdentity();
const bob = generateIdentity();
/** The coordinator's public key: the federation the messages are signed for. */
const federation = generateIdentity().publicKey;

function setUp() {
  const clients = new Map<string, EnrolledClientKey>([
    ['alice', { publicKey: alice.publicKey, revoked: false }],
    ['bob', { publicKey: bob.publicKey, revoked: false }],
  ]);
  const verifier = new MessageVerifier((name) => clients.get(name), federation);
  return { clients, verifier };
}

const predictions = (round: number) => ({ round, encoding: 'float32', n: 1, classes: 2, data: new Uint8Array(Float32Array.of(0.25, 0.75).buffer) });

function signed(round: number, seq: number, payload: unknown = predictions(round), type = 'round.predictions', key = alice.secretKey, to = federation): SignedMessage {
  const message = { round, type, seq, payload };
  return { ...message, signature: signMessage(message, key, to) };
}

const expectRound = (round: number, type = 'round.predictions') => ({ round, type });

describe('signed messages', () => {
  it('accepts a message signed by the enrolled client for the current round, returning the signed fields', () => {
    const { verifier } = setUp();
    const message = signed(3, 0);
    expect(verifier.verify('alice', message, expectRound(3))).toEqual({
      ok: true,
      value: { clientName: 'alice', round: 3, type: 'round.predictions', seq: 0, payload: message.payload },
    });
  });

  it('verifies what arrives as a Buffer the same as the Uint8Array that was signed (socket.io)', () => {
    const { verifier } = setUp();
    const message = signed(3, 0);
    const payload = message.payload as ReturnType<typeof predictions>;
    const arrived = { ...message, payload: { ...payload, data: Buffer.from(payload.data) }, signature: Buffer.from(message.signature) };
    expect(verifier.verify('alice', arrived, expectRound(3)).ok).toBe(true);
  });

  it('refuses a replay of the same round and seq', () => {
    const { verifier } = setUp();
    const message = signed(3, 5);
    expect(verifier.verify('alice', message, expectRound(3)).ok).toBe(true);
    expect(verifier.verify('alice', message, expectRound(3))).toMatchObject({ ok: false, code: 'REPLAY' });
  });

  it('requires seq to increase strictly within a round (gaps allowed), and starts afresh in a new round', () => {
    const { verifier } = setUp();
    expect(verifier.verify('alice', signed(3, 5), expectRound(3)).ok).toBe(true);
    expect(verifier.verify('alice', signed(3, 4), expectRound(3))).toMatchObject({ ok: false, code: 'REPLAY' });
    expect(verifier.verify('alice', signed(3, 9), expectRound(3)).ok).toBe(true);
    expect(verifier.verify('alice', signed(4, 0), expectRound(4)).ok).toBe(true);
  });

  it('keeps replay state per client', () => {
    const { verifier } = setUp();
    expect(verifier.verify('alice', signed(3, 1), expectRound(3)).ok).toBe(true);
    expect(verifier.verify('bob', signed(3, 1, predictions(3), 'round.predictions', bob.secretKey), expectRound(3)).ok).toBe(true);
  });

  it('refuses a message of another round, even a validly signed one', () => {
    const { verifier } = setUp();
    expect(verifier.verify('alice', signed(2, 0), expectRound(3))).toMatchObject({ ok: false, code: 'WRONG_ROUND' });
    expect(verifier.verify('alice', { ...signed(2, 0), round: 3 }, expectRound(3))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses a message signed as another type than the event it arrived as', () => {
    const { verifier } = setUp();
    const declined = signed(3, 0, { round: 3, reason: 'budget' }, 'round.declined');
    expect(verifier.verify('alice', declined, expectRound(3, 'round.predictions'))).toMatchObject({ ok: false, code: 'WRONG_TYPE' });
    expect(verifier.verify('alice', { ...declined, type: 'round.predictions' }, expectRound(3))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses a payload with one byte flipped', () => {
    const { verifier } = setUp();
    const message = signed(3, 0);
    const payload = message.payload as ReturnType<typeof predictions>;
    const data = payload.data.slice();
    data[2] ^= 0x01;
    expect(verifier.verify('alice', { ...message, payload: { ...payload, data } }, expectRound(3))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(verifier.verify('alice', { ...message, payload: { ...payload, classes: 3 } }, expectRound(3))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(verifier.verify('alice', { ...message, seq: 1 }, expectRound(3))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses a signature with one byte flipped, and a bad signature does not burn the seq', () => {
    const { verifier } = setUp();
    const message = signed(3, 0);
    const signature = message.signature.slice();
    signature[10] ^= 0x80;
    expect(verifier.verify('alice', { ...message, signature }, expectRound(3))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(verifier.verify('alice', message, expectRound(3)).ok).toBe(true);
  });

  it('refuses a message signed by another client key', () => {
    const { verifier } = setUp();
    expect(verifier.verify('alice', signed(3, 0, predictions(3), 'round.predictions', bob.secretKey), expectRound(3))).toMatchObject({
      ok: false,
      code: 'BAD_SIGNATURE',
    });
  });

  it('refuses an unsigned message', () => {
    const { verifier } = setUp();
    const { signature: _signature, ...unsigned } = signed(3, 0);
    expect(verifier.verify('alice', unsigned, expectRound(3))).toMatchObject({ ok: false, code: 'UNSIGNED' });
    expect(verifier.verify('alice', { ...unsigned, signature: null }, expectRound(3))).toMatchObject({ ok: false, code: 'UNSIGNED' });
  });

  it('refuses a signature that is not 64 bytes', () => {
    const { verifier } = setUp();
    expect(verifier.verify('alice', { ...signed(3, 0), signature: new Uint8Array(32) }, expectRound(3))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(verifier.verify('alice', { ...signed(3, 0), signature: 'AAAA' }, expectRound(3))).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses a client that is not enrolled', () => {
    const { verifier } = setUp();
    expect(verifier.verify('mallory', signed(3, 0), expectRound(3))).toMatchObject({ ok: false, code: 'UNKNOWN_CLIENT' });
  });

  it('refuses a revoked client from the moment it is revoked', () => {
    const { verifier, clients } = setUp();
    expect(verifier.verify('alice', signed(3, 0), expectRound(3)).ok).toBe(true);
    clients.set('alice', { publicKey: alice.publicKey, revoked: true });
    expect(verifier.verify('alice', signed(3, 1), expectRound(3))).toMatchObject({ ok: false, code: 'REVOKED' });
  });

  it.each([
    ['null', null],
    ['a negative round', { round: -1, type: 'round.predictions', seq: 0, payload: {}, signature: new Uint8Array(64) }],
    ['a fractional seq', { round: 3, type: 'round.predictions', seq: 0.5, payload: {}, signature: new Uint8Array(64) }],
    ['a numeric type', { round: 3, type: 7, seq: 0, payload: {}, signature: new Uint8Array(64) }],
    ['an unencodable payload', { round: 3, type: 'round.predictions', seq: 0, payload: { at: new Date(0) }, signature: new Uint8Array(64) }],
  ])('refuses a malformed message (%s) without throwing', (_what, message) => {
    const { verifier } = setUp();
    expect(verifier.verify('alice', message, expectRound(3))).toMatchObject({ ok: false, code: 'MALFORMED' });
  });

  it('refuses a message signed for another federation (a client enrolled with two coordinators): BAD_SIGNATURE', () => {
    const { verifier } = setUp();
    const otherCoordinator = generateIdentity().publicKey;
    expect(verifier.verify('alice', signed(3, 0, predictions(3), 'round.predictions', alice.secretKey, otherCoordinator), expectRound(3))).toMatchObject({
      ok: false,
      code: 'BAD_SIGNATURE',
      message: expect.stringContaining('for this coordinator'),
    });
    // The same message signed for this federation is accepted: only the binding differed.
    expect(verifier.verify('alice', signed(3, 0), expectRound(3)).ok).toBe(true);
  });

  it('MessageSigner numbers messages upwards so that each one is accepted once', () => {
    const { verifier } = setUp();
    const signer = new MessageSigner(alice.secretKey, federation, { firstSeq: 100 });
    const first = signer.sign(3, 'round.predictions', predictions(3));
    const second = signer.sign(3, 'round.predictions', predictions(3));
    expect([first.seq, second.seq]).toEqual([100, 101]);
    expect(verifier.verify('alice', first, expectRound(3)).ok).toBe(true);
    expect(verifier.verify('alice', second, expectRound(3)).ok).toBe(true);
    expect(verifier.verify('alice', first, expectRound(3))).toMatchObject({ ok: false, code: 'REPLAY' });
  });

  it('throws when signing something that cannot be signed (programmer errors)', () => {
    expect(() => signMessage({ round: -1, type: 't', seq: 0, payload: {} }, alice.secretKey, federation)).toThrow(RangeError);
    expect(() => signMessage({ round: 0, type: 't', seq: 0, payload: { f: () => 0 } }, alice.secretKey, federation)).toThrow(TypeError);
    expect(() => signMessage({ round: 0, type: 't', seq: 0, payload: {} }, alice.secretKey, new Uint8Array(31))).toThrow(TypeError);
  });
});
