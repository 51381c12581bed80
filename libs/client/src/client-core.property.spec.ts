import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MLP_SPEC } from '@fedkd/engine';
import { MNIST_TASK, taskSha256 } from '@fedkd/data';
import { generateIdentity } from '@fedkd/privacy';
import { anyValue, FUZZ_RUNS, mutatedRecord } from '../../engine/src/fuzz-inputs.testing';
import { ClientCore, type ClientCoreConfig, type ClientEvent } from './client-core';

/**
 * What a client does with a coordinator's first message and with secure-aggregation messages it
 * did not expect, under fuzzing: a challenge is answered with a signed hello only when it is
 * well-formed and names this client's task, anything else is refused with a reason, and nothing
 * throws (the edge client calls these from socket event handlers, where an exception would end the
 * process). A coordinator's message is untrusted: someone else may answer on its address.
 */

function core(events: ClientEvent[] = []): ClientCore {
  const config = {
    clientName: 'edge-1',
    clientIndex: 0,
    clients: 2,
    partition: { name: 'iid' },
    seed: 0,
    model: { ...MLP_SPEC, hidden: [8] },
    epochs: 1,
    shareSampleCount: false,
    identity: generateIdentity(),
    coordinatorPublicKey: new Uint8Array(32),
    teachersPerClient: 1,
    epsilonMax: Infinity,
    ledgerPath: null,
    queryBudget: null,
  } as unknown as ClientCoreConfig;
  return new ClientCore(config, (e) => events.push(e), () => undefined);
}

const CHALLENGE = { nonce: new Uint8Array(32).fill(3), task: { name: MNIST_TASK.name, sha256: taskSha256(MNIST_TASK) } };

describe('a client core given untrusted coordinator messages', () => {
  it('answers the valid challenge with a signed hello', () => {
    expect(core().helloFor(CHALLENGE)).toMatchObject({ ok: true, hello: { taskSha256: CHALLENGE.task.sha256 } });
  });

  it('refuses any other challenge with a reported reason and never throws', () => {
    fc.assert(
      fc.property(fc.oneof(anyValue, mutatedRecord(CHALLENGE)), (challenge) => {
        const events: ClientEvent[] = [];
        const result = core(events).helloFor(challenge);
        if (!result.ok) {
          expect(['BAD_MESSAGE', 'TASK_MISMATCH']).toContain(result.code);
          expect(events).toContainEqual(expect.objectContaining({ event: 'refused', code: result.code }));
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
  });

  it('refuses a challenge whose task name cannot be printed ({"toString": 1}) as BAD_MESSAGE', () => {
    const result = core().helloFor({ ...CHALLENGE, task: { name: JSON.parse('{"toString": 1}'), sha256: 'cd'.repeat(32) } });
    expect(result).toMatchObject({ ok: false, code: 'BAD_MESSAGE' });
  });

  it('ignores secure-aggregation messages outside a secure round, whatever they hold', async () => {
    const link = { send: async () => ({ ok: true as const, value: undefined }) };
    await fc.assert(
      fc.asyncProperty(anyValue, async (envelope) => {
        await core().continueSecureRound(envelope, link as never);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});
