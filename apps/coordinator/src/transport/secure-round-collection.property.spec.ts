import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateIdentity, majorityThreshold } from '@fedkd/privacy';
import type { RoundOpen } from '@fedkd/protocol';
import { anyValue, FUZZ_RUNS, mutatedRecord } from '../../../../libs/engine/src/fuzz-inputs.testing';
import { SecureRoundCollection } from './secure-round-collection';

/**
 * The coordinator's secure-aggregation boundary under fuzzing: whatever object an enrolled client's
 * (verified) `secagg` message holds, `offer` answers with an acknowledgement and never throws (an
 * exception would reach the client as INTERNAL).
 */

const IDS = ['c-1', 'c-2', 'c-3'];
/** The coordinator's public key, which secure-aggregation signatures are bound to. */
const FEDERATION = generateIdentity().publicKey;

function collection(): SecureRoundCollection {
  const request = { round: 4, deadline: Date.now() + 60_000 } as RoundOpen;
  return new SecureRoundCollection(request, IDS, { roundId: 4, vectorLength: 20, threshold: majorityThreshold(2), graph: { kind: 'complete' } }, { federationId: FEDERATION }, () => undefined);
}

const advertisement = { kind: 'secagg.advertise-keys', roundId: 4, clientId: 'c-1', maskingPublicKey: new Uint8Array(32).fill(1), encryptionPublicKey: new Uint8Array(32).fill(2) };

describe('secure round collection under fuzzing', () => {
  it('answers every object offered as a secure-aggregation message with an acknowledgement', () => {
    const message = fc.oneof(anyValue.filter((v) => typeof v === 'object' && v !== null), mutatedRecord(advertisement));
    fc.assert(
      fc.property(fc.constantFrom(...IDS, 'stranger'), message, (clientId, raw) => {
        const secure = collection();
        try {
          const ack = secure.offer(clientId, raw as Record<string, unknown>, 0);
          expect(typeof ack.ok).toBe('boolean');
        } finally {
          secure.close();
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('refuses a kind or client id that cannot be turned into text, like {"toString": 1}, with BAD_MESSAGE', () => {
    const unprintable = JSON.parse('{"toString": 1}') as unknown;
    for (const field of ['kind', 'clientId']) {
      const secure = collection();
      expect(secure.offer('c-1', { ...advertisement, [field]: unprintable }, 0)).toMatchObject({ ok: false, code: 'BAD_MESSAGE' });
      secure.close();
    }
  });
});
