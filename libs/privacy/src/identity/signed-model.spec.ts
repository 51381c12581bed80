import { describe, expect, it } from 'vitest';

import { bytesToHex, generateIdentity, identityFromSeed, signModel, verifyModel, type ModelMetadata } from './index';

const coordinator = generateIdentity();
const meta = (): ModelMetadata => ({ version: 3, round: 7, sha256: 'ab'.repeat(32), metrics: { testAccuracy: 0.9375 }, createdAt: 1_700_000_000_000 });

describe('signed models', () => {
  it('accepts metadata signed by the pinned coordinator key, returning a copy of the signed fields', () => {
    const signature = signModel(meta(), coordinator.secretKey);
    const arrived = { ...meta(), weights: new Uint8Array(8), signature };
    const verified = verifyModel(arrived, signature, coordinator.publicKey);
    expect(verified).toEqual({ ok: true, value: meta() });
  });

  it('pins the signature of fixed metadata (Ed25519 is deterministic)', () => {
    const pair = identityFromSeed(Uint8Array.from({ length: 32 }, (_, i) => i));
    expect(bytesToHex(signModel(meta(), pair.secretKey))).toBe(
      '185496e06b270ef5f40cebfa99ef8d59cbba18ef2af103c3ab8094a1c5b796bf2b950a0c6501e9924fde3cdb5b02e9575de2417cca2a337efddedc4180df620e',
    );
  });

  it('does not depend on the key order of the metrics', () => {
    const signature = signModel({ ...meta(), metrics: { testAccuracy: 0.5, loss: 0.7 } }, coordinator.secretKey);
    expect(verifyModel({ ...meta(), metrics: { loss: 0.7, testAccuracy: 0.5 } }, signature, coordinator.publicKey).ok).toBe(true);
  });

  const tampered: Array<[string, Partial<ModelMetadata>]> = [
    ['metrics', { metrics: { testAccuracy: 0.99 } }],
    ['an added metric', { metrics: { testAccuracy: 0.9375, loss: 0 } }],
    ['the weights hash', { sha256: `${'ab'.repeat(31)}ac` }],
    ['the version', { version: 4 }],
    ['the round', { round: 8 }],
    ['the creation time', { createdAt: 1_700_000_000_001 }],
  ];
  it.each(tampered)('refuses tampered %s', (_what, change) => {
    const signature = signModel(meta(), coordinator.secretKey);
    expect(verifyModel({ ...meta(), ...change }, signature, coordinator.publicKey)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses a model signed by another key than the pinned one', () => {
    const impostor = generateIdentity();
    const signature = signModel(meta(), impostor.secretKey);
    expect(verifyModel(meta(), signature, coordinator.publicKey)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses a flipped signature byte, a missing signature and one of the wrong length', () => {
    const signature = signModel(meta(), coordinator.secretKey);
    const flipped = signature.slice();
    flipped[0] ^= 1;
    expect(verifyModel(meta(), flipped, coordinator.publicKey)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
    expect(verifyModel(meta(), undefined, coordinator.publicKey)).toMatchObject({ ok: false, code: 'UNSIGNED' });
    expect(verifyModel(meta(), signature.subarray(0, 63), coordinator.publicKey)).toMatchObject({ ok: false, code: 'BAD_SIGNATURE' });
  });

  it('refuses an older or equal version when the loaded version is given (rollback)', () => {
    const signature = signModel(meta(), coordinator.secretKey);
    expect(verifyModel(meta(), signature, coordinator.publicKey, { currentVersion: 3 })).toMatchObject({ ok: false, code: 'NOT_NEWER' });
    expect(verifyModel(meta(), signature, coordinator.publicKey, { currentVersion: 2 }).ok).toBe(true);
  });

  it.each([
    ['null', null],
    ['version 0', { ...meta(), version: 0 }],
    ['an upper-case hash', { ...meta(), sha256: 'AB'.repeat(32) }],
    ['a non-finite metric', { ...meta(), metrics: { testAccuracy: Number.NaN } }],
    ['metrics as an array', { ...meta(), metrics: [0.5] }],
    ['a missing createdAt', { ...meta(), createdAt: undefined }],
  ])('refuses malformed metadata (%s) without throwing', (_what, value) => {
    expect(verifyModel(value, new Uint8Array(64), coordinator.publicKey)).toMatchObject({ ok: false, code: 'MALFORMED' });
  });

  it('throws for a pinned key of the wrong length or malformed metadata to sign (programmer errors)', () => {
    expect(() => verifyModel(meta(), new Uint8Array(64), new Uint8Array(16))).toThrow(TypeError);
    expect(() => signModel({ ...meta(), sha256: 'xyz' }, coordinator.secretKey)).toThrow(TypeError);
  });
});
