import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { anyValue, FUZZ_RUNS, mutatedBytes, mutatedRecord } from '../../../engine/src/fuzz-inputs.testing';
import { rdpGnmaxDataIndependent } from '../differential-privacy/accountant';
import { PrivacyLedgerError } from '../differential-privacy/ledger/errors';
import { parseLedger } from '../differential-privacy/ledger/ledger-file';
import { PrivacyLedger } from '../differential-privacy/ledger/privacy-ledger';
import { encodeCanonicalPayload } from './canonical-payload';
import { createEnrolmentToken, verifyEnrolmentToken } from './enrolment-token';
import { generateIdentity } from './ed25519-keys';
import { signHandshake, verifyHandshake } from './handshake-proof';
import { formatPublicKeyFile, formatSecretKeyFile, parsePublicKeyFile, parseSecretKeyFile } from './key-files';
import { NonceRegistry } from './nonce-registry';
import { MessageSigner, MessageVerifier } from './signed-message';
import { signExport, verifyExport } from './signed-export';
import { signModel, verifyModel } from './signed-model';

/**
 * The identity layer's verifiers and parsers under fuzzing. They return IdentityResult values
 * (`{ ok: false, code, message }`) for anything a peer or a file can hold and never throw; the
 * privacy ledger's parser throws only PrivacyLedgerError CORRUPT. A mutated signed message,
 * handshake, model or export never verifies.
 */

/** Runs of properties that sign or verify Ed25519 (tweetnacl: about 5 ms each): fewer, to keep the file at a few seconds. */
const SIGNATURE_RUNS = Math.round(FUZZ_RUNS / 6);

const client = generateIdentity();
const coordinator = generateIdentity();
const NOW = 1_790_000_000_000;

function expectRefusalOrValue(result: { ok: boolean; code?: string; message?: string }): void {
  expect(typeof result.ok).toBe('boolean');
  if (!result.ok) {
    expect(typeof result.code).toBe('string');
    expect(typeof result.message).toBe('string');
    expect(result.message!.length).toBeLessThan(2000);
  }
}

/** A fresh registry with one issued nonce and a valid proof answering it. */
function handshake() {
  const nonces = new NonceRegistry();
  const nonce = nonces.issue(NOW);
  const proof = signHandshake({ nonce, clientName: 'edge-1', protocolVersion: 4, timestamp: NOW }, client.secretKey);
  const expected = { expectedNonce: nonce, nonces, publicKey: client.publicKey, clientName: 'edge-1', protocolVersion: 4, now: NOW, maxSkewMs: 60_000 };
  return { proof, expected };
}

describe('handshake proofs under fuzzing', () => {
  it('verifies the valid proof the mutations start from', () => {
    const { proof, expected } = handshake();
    expect(verifyHandshake(proof, expected).ok).toBe(true);
  });

  it('refuses any value, and any mutated proof, with a refusal code', () => {
    fc.assert(
      fc.property(fc.oneof(anyValue, mutatedRecord(handshake().proof)), (value) => {
        const { proof, expected } = handshake();
        const result = verifyHandshake(value, expected);
        expectRefusalOrValue(result);
        // Only the unmutated proof (fields whose change the signature does not cover are refused as MALFORMED or mismatches) verifies.
        if (result.ok) expect(Buffer.from((value as { signature: Uint8Array }).signature).equals(Buffer.from(proof.signature))).toBe(true);
      }),
      { numRuns: SIGNATURE_RUNS },
    );
  });

  it('refuses a proof whose signature bytes were mutated', () => {
    const { proof } = handshake();
    fc.assert(
      fc.property(mutatedBytes(proof.signature), (signature) => {
        const { expected } = handshake();
        expect(verifyHandshake({ ...proof, signature }, expected).ok).toBe(false);
      }),
      { numRuns: SIGNATURE_RUNS },
    );
  });
});

/** The coordinator's public key: the federation the fuzzed messages are signed for. */
const FEDERATION = coordinator.publicKey;

describe('signed messages under fuzzing', () => {
  const lookup = (name: string) => (name === 'edge-1' ? { publicKey: client.publicKey, revoked: false } : undefined);
  const payload = { round: 3, encoding: 'float16', n: 2, classes: 2, data: new Uint8Array([0, 56, 0, 56, 0, 60, 0, 0]) };
  const signed = () => new MessageSigner(client.secretKey, FEDERATION, { firstSeq: 10 }).sign(3, 'round.predictions', payload);

  it('verifies the valid message the mutations start from', () => {
    expect(new MessageVerifier(lookup, FEDERATION).verify('edge-1', signed(), { round: 3, type: 'round.predictions' }).ok).toBe(true);
  });

  it('refuses any value with a refusal code and never throws', () => {
    fc.assert(
      fc.property(anyValue, (value) => expectRefusalOrValue(new MessageVerifier(lookup, FEDERATION).verify('edge-1', value, { round: 3, type: 'round.predictions' }))),
      { numRuns: SIGNATURE_RUNS },
    );
  });

  it('refuses every mutated message: fields removed, added or retyped, or payload bytes changed', () => {
    const message = signed();
    const mutated = fc.oneof(
      mutatedRecord(message),
      mutatedBytes(payload.data).map((data) => ({ ...message, payload: { ...payload, data } })),
      mutatedBytes(message.signature).map((signature) => ({ ...message, signature })),
    );
    fc.assert(
      fc.property(mutated, (value) => {
        const result = new MessageVerifier(lookup, FEDERATION).verify('edge-1', value, { round: 3, type: 'round.predictions' });
        expectRefusalOrValue(result);
        // Extra top-level fields are not part of what was signed and are dropped: the verified payload is the signed one.
        if (result.ok) expect(encodeCanonicalPayload(result.value.payload)).toEqual(encodeCanonicalPayload(payload));
      }),
      { numRuns: SIGNATURE_RUNS },
    );
  });

  it('encodeCanonicalPayload returns a value or UNENCODABLE for anything, never throws', () => {
    fc.assert(fc.property(anyValue, (value) => expectRefusalOrValue(encodeCanonicalPayload(value))), { numRuns: FUZZ_RUNS });
  });
});

describe('enrolment tokens under fuzzing', () => {
  it('verifyEnrolmentToken refuses any presented value but the token itself, never throws', () => {
    const { token, record } = createEnrolmentToken('edge-1', 60_000, NOW);
    const presented = fc.oneof(anyValue, mutatedBytes(new TextEncoder().encode(token)).map((b) => new TextDecoder().decode(b)));
    fc.assert(
      fc.property(presented, (value) => {
        const result = verifyEnrolmentToken(value, record, NOW);
        expectRefusalOrValue(result);
        expect(result.ok).toBe(value === token);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});

describe('signed models and exports under fuzzing', () => {
  const meta = { version: 2, round: 2, sha256: 'ab'.repeat(32), metrics: { agreement: 0.9 }, createdAt: NOW };
  const signature = signModel(meta, coordinator.secretKey);

  it('verifyModel refuses any value and every mutated metadata or signature', () => {
    const value = fc.oneof(
      fc.tuple(anyValue, anyValue),
      fc.tuple(mutatedRecord(meta), fc.constant(signature as unknown)),
      fc.tuple(fc.constant(meta as unknown), mutatedBytes(signature)),
    );
    fc.assert(
      fc.property(value, ([m, s]) => {
        const result = verifyModel(m, s, coordinator.publicKey);
        expectRefusalOrValue(result);
        if (result.ok) expect(result.value).toEqual(meta);
      }),
      { numRuns: SIGNATURE_RUNS },
    );
  });

  it('verifyExport refuses any manifest and every mutated one', () => {
    const files = { 'model.json': new TextEncoder().encode('{}'), 'weights.bin': new Uint8Array(16) };
    const manifest = signExport({ version: 2, round: 2, sha256: 'ab'.repeat(32) }, files, coordinator.secretKey);
    fc.assert(
      fc.property(fc.oneof(anyValue, mutatedRecord(manifest, fc.jsonValue())), (value) => {
        const result = verifyExport(value, files, coordinator.publicKey);
        expectRefusalOrValue(result);
        if (result.ok) expect(result.value.signature).toBe(manifest.signature);
      }),
      { numRuns: SIGNATURE_RUNS },
    );
  });
});

describe('key files under fuzzing', () => {
  const texts = {
    public: formatPublicKeyFile(client.publicKey),
    secret: formatSecretKeyFile(client.secretKey),
  };
  const asText = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

  it.each(['public', 'secret'] as const)('parses the %s key file or refuses mutated and arbitrary text as MALFORMED', (kind) => {
    const parse = kind === 'public' ? parsePublicKeyFile : parseSecretKeyFile;
    expect(parse(texts[kind]).ok).toBe(true);
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      mutatedBytes(new TextEncoder().encode(texts[kind])).map(asText),
      mutatedRecord(JSON.parse(texts[kind]), fc.jsonValue()).map((v) => JSON.stringify(v) ?? ''),
    );
    fc.assert(
      fc.property(text, (t) => {
        const result = parse(t);
        expectRefusalOrValue(result);
        if (!result.ok) expect(result.code).toBe('MALFORMED');
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});

describe('the privacy ledger file under fuzzing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedkd-fuzz-ledger-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'ledger.json');
  const ledger = PrivacyLedger.load(file);
  for (let round = 1; round <= 3; round++) {
    ledger.charge(round, rdpGnmaxDataIndependent(40, ledger.orders).map((r) => r * 100), { mechanism: 'gnmax', queries: 100, answered: 100, delta: 1e-5 });
  }
  const text = readFileSync(file, 'utf8');
  const isCorrupt = (error: unknown) => error instanceof PrivacyLedgerError && error.code === 'CORRUPT';

  it('parses the valid ledger the mutations start from', () => {
    expect(parseLedger(text, file).entries).toHaveLength(3);
  });

  it('parses mutated ledger text or throws PrivacyLedgerError CORRUPT naming the file', () => {
    const mutated = fc.oneof(
      mutatedBytes(new TextEncoder().encode(text)).map((b) => new TextDecoder().decode(b)),
      mutatedRecord(JSON.parse(text), fc.jsonValue()).map((v) => JSON.stringify(v) ?? ''),
      fc.string({ maxLength: 100 }),
    );
    fc.assert(
      fc.property(mutated, (t) => {
        try {
          parseLedger(t, file);
        } catch (error) {
          if (!isCorrupt(error)) throw error;
          expect((error as Error).message).toContain(file);
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});
