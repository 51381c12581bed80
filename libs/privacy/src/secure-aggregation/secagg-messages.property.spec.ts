import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { anyValue, FUZZ_RUNS, mutatedBytes, mutatedRecord } from '../../../engine/src/fuzz-inputs.testing';
import { SecureAggregationError } from './errors';
import { majorityThreshold, type SecureAggregationParameters } from './round-parameters';
import type { SecureAggregationClient } from './secagg-client';
import { runRoundUntilUnmasking, seededUniform, softPredictions, testServer, type SimulatedRound } from './secagg-round.testing';

/**
 * Secure aggregation's message handling under fuzzing: the server at each step, and a client
 * asked to unmask, given arbitrary values and mutations of the round's real messages, accept them
 * or throw SecureAggregationError (with its code), never another exception.
 */

const RUNS = FUZZ_RUNS;
const IDS = ['client-0', 'client-1', 'client-2', 'client-3'];
const parameters: SecureAggregationParameters = { roundId: 5, vectorLength: 20, threshold: majorityThreshold(IDS.length - 1), graph: { kind: 'complete' } };

/** Calls `fn`; rethrows anything but a SecureAggregationError. */
function typedOnly(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof SecureAggregationError)) throw error;
    expect(typeof error.code).toBe('string');
  }
}

/** A mutation of one of the round's messages of this kind (fields retyped, removed or added; a binary field's bytes changed). */
function mutatedMessage(messages: object[], kind: string): fc.Arbitrary<unknown> {
  const ofKind = messages.filter((m) => (m as { kind?: string }).kind === kind);
  expect(ofKind.length).toBeGreaterThan(0);
  return fc.oneof(
    fc.constantFrom(...ofKind).chain((m) => mutatedRecord(m)),
    fc.constantFrom(...ofKind).chain((m) => {
      const binary = Object.entries(m).filter(([, v]) => v instanceof Uint8Array);
      if (binary.length === 0) return fc.constant(m as unknown);
      return fc.constantFrom(...binary).chain(([key, bytes]) => mutatedBytes(bytes as Uint8Array).map((b) => ({ ...m, [key]: b }) as unknown));
    }),
    // The coordinator hands the server objects only (connection-grid refuses anything else first).
    anyValue.filter((v) => typeof v === 'object' && v !== null),
  );
}

describe('secure aggregation messages under fuzzing', () => {
  let round: SimulatedRound;
  beforeAll(async () => {
    const uniform = seededUniform(3);
    round = await runRoundUntilUnmasking(parameters, new Map(IDS.map((id) => [id, softPredictions(2, 10, uniform)])));
  });

  it('a server collecting advertisements accepts or refuses mutated ones with SecureAggregationError', () => {
    fc.assert(
      fc.property(mutatedMessage(round.messages, 'secagg.advertise-keys'), (message) => {
        typedOnly(() => testServer(parameters).receiveAdvertisement(message as never));
      }),
      { numRuns: RUNS },
    );
  });

  it('a server collecting shared keys, masked inputs or unmask responses refuses mutated ones with SecureAggregationError', () => {
    // One server per step, driven there by the round's real messages; a mutated message it accepts may change its state, which is fine.
    const at = (step: 'share-keys' | 'masked-input' | 'unmask-response') => {
      const server = testServer(parameters);
      const of = (kind: string) => round.messages.filter((m) => (m as { kind?: string }).kind === kind) as never[];
      for (const m of of('secagg.advertise-keys')) server.receiveAdvertisement(m);
      server.closeAdvertisement();
      if (step === 'share-keys') return server;
      for (const m of of('secagg.share-keys')) server.receiveShareKeys(m);
      server.closeShareKeys();
      if (step === 'masked-input') return server;
      for (const m of of('secagg.masked-input')) server.receiveMaskedInput(m);
      server.closeMaskedInput();
      for (const m of of('secagg.consistency-signature')) server.receiveConsistencySignature(m);
      server.closeConsistencyCheck();
      return server;
    };
    const servers = { 'share-keys': at('share-keys'), 'masked-input': at('masked-input'), 'unmask-response': at('unmask-response') };
    const unmaskResponses = IDS.map((id) => round.clients.get(id)!.unmask(servers['unmask-response'].unmaskRequestFor(id)));
    fc.assert(
      fc.property(
        fc.oneof(
          mutatedMessage(round.messages, 'secagg.share-keys').map((m) => ['share-keys', m] as const),
          mutatedMessage(round.messages, 'secagg.masked-input').map((m) => ['masked-input', m] as const),
          mutatedMessage(unmaskResponses, 'secagg.unmask-response').map((m) => ['unmask-response', m] as const),
        ),
        ([step, message]) => {
          const server = servers[step];
          if (step === 'share-keys') typedOnly(() => server.receiveShareKeys(message as never));
          else if (step === 'masked-input') typedOnly(() => server.receiveMaskedInput(message as never));
          else typedOnly(() => server.receiveUnmaskResponse(message as never));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('refuses fields that cannot be turned into text, like {"toString": 1} (JSON can carry it), with SecureAggregationError', () => {
    const unprintable = JSON.parse('{"toString": 1}') as unknown;
    const advertisement = round.messages.find((m) => (m as { kind?: string }).kind === 'secagg.advertise-keys')!;
    expect(() => testServer(parameters).receiveAdvertisement({ ...advertisement, roundId: unprintable } as never)).toThrow(SecureAggregationError);
    const request = round.server.unmaskRequestFor(IDS[0]);
    for (const field of ['roundId', 'recipientId'] as const) {
      expect(() => round.clients.get(IDS[0])!.unmask({ ...request, [field]: unprintable } as never)).toThrow(SecureAggregationError);
    }
  });

  it('a client asked to unmask refuses mutated requests with SecureAggregationError', () => {
    const client: SecureAggregationClient = round.clients.get(IDS[0])!;
    const requests = [round.server.unmaskRequestFor(IDS[0]) as object];
    fc.assert(fc.property(mutatedMessage(requests, 'secagg.unmask-request'), (request) => typedOnly(() => client.unmask(request as never))), { numRuns: RUNS });
  });
});
