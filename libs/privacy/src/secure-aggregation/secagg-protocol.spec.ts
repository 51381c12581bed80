import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';

import { encodeFixedPoint } from './fixed-point';
import type { UnmaskRequestMessage } from './messages';
import type { NeighbourGraphSpec } from './neighbour-graph';
import { majorityThreshold, SecureAggregationParameters } from './round-parameters';
import { SecureAggregationClient } from './secagg-client';
import {
  deterministicRandomBytes,
  finishRound,
  pickSome,
  runRoundUntilUnmasking,
  seededUniform,
  SimulatedRound,
  softPredictions,
  testClientOptions,
  testServer,
} from './secagg-round.testing';

const F = 16;
const clientIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `client-${i}`);

function inputsFor(ids: readonly string[], vectorLength: number, seed: number): Map<string, Float32Array> {
  const uniform = seededUniform(seed);
  return new Map(ids.map((id) => [id, softPredictions(vectorLength / 10, 10, uniform)]));
}

function plaintextSum(inputs: ReadonlyMap<string, Float32Array>, ids: readonly string[], length: number): Float64Array {
  const sum = new Float64Array(length);
  for (const id of ids) inputs.get(id)!.forEach((x, i) => (sum[i] = sum[i]! + x));
  return sum;
}

function encodedSum(inputs: ReadonlyMap<string, Float32Array>, ids: readonly string[], length: number): Uint32Array {
  const sum = new Uint32Array(length);
  for (const id of ids) {
    encodeFixedPoint(inputs.get(id)!, { fractionalBits: F, min: 0, max: 1 }).forEach((q, i) => (sum[i] = (sum[i]! + q) >>> 0));
  }
  return sum;
}

/**
 * Round shapes for the randomised runs. Complete graph: n in 4..10, t = majority of the n - 1
 * neighbours. k-regular: n in 6..10, k = 4 or 6 (< n - 1) and t = k - floor(n/3), so any floor(n/3)
 * dropouts leave every client t surviving neighbours.
 */
function roundShape(graphKind: 'complete' | 'k-regular', seed: number): { n: number; threshold: number; graph: NeighbourGraphSpec; unsafeThreshold?: boolean } {
  if (graphKind === 'complete') {
    const n = 4 + (seed % 7);
    return { n, threshold: majorityThreshold(n - 1), graph: { kind: 'complete' } };
  }
  const n = 6 + (seed % 5);
  const k = Math.floor(n / 3) <= 2 ? 4 : 6;
  // t = k - floor(n/3) is below a majority of k for some shapes: allowed here (unsafeThreshold) to test exactness under many dropouts.
  return { n, threshold: k - Math.floor(n / 3), graph: { kind: 'k-regular', k, seed: nacl.hash(Uint8Array.of(seed)) }, unsafeThreshold: true };
}

describe('secure aggregation round', () => {
  for (const graphKind of ['complete', 'k-regular'] as const) {
    it(`unmasks exactly the plaintext sum (${graphKind} graph, 20 seeds x 0, 1 and floor(n/3) dropouts after sharing)`, async () => {
      for (let seed = 0; seed < 20; seed++) {
        const { n, threshold, graph, unsafeThreshold } = roundShape(graphKind, seed);
        const vectorLength = 200 + 90 * seed;
        const ids = clientIds(n);
        const inputs = inputsFor(ids, vectorLength, 1000 + seed);
        for (const dropouts of [0, 1, Math.floor(n / 3)]) {
          const parameters: SecureAggregationParameters = { roundId: 100 + seed, vectorLength, threshold, graph, unsafeThreshold };
          const dropped = pickSome(ids, dropouts, seededUniform(seed * 31 + dropouts));
          const result = await finishRound(await runRoundUntilUnmasking(parameters, inputs, { dropAfterSharing: dropped }));
          const survivors = ids.filter((id) => !dropped.includes(id)).sort();
          expect(result.survivors).toEqual(survivors);
          expect(result.dropped).toEqual([...dropped].sort());
          expect(result.fixedPointSum).toEqual(encodedSum(inputs, survivors, vectorLength));
          const expected = plaintextSum(inputs, survivors, vectorLength);
          let worst = 0;
          for (let i = 0; i < vectorLength; i++) worst = Math.max(worst, Math.abs(result.sum[i]! - expected[i]!));
          expect(worst).toBeLessThanOrEqual(survivors.length * 2 ** -(F + 1) + 1e-12);
        }
      }
    });
  }

  it('never lets a client secret travel in clear: no message holds a secret key or the self-mask seed', async () => {
    const ids = clientIds(5);
    const inputs = inputsFor(ids, 200, 5);
    const secrets: Uint8Array[] = [];
    const parameters: SecureAggregationParameters = { roundId: 3, vectorLength: 200, threshold: 3, graph: { kind: 'complete' } };
    // Record every 32-byte secret the clients draw (2 secret keys and b_u each), via their random source.
    const server = testServer(parameters);
    const clients = ids.map((id) => {
      const random = deterministicRandomBytes(`secrets/${id}`);
      return new SecureAggregationClient(
        id,
        parameters,
        testClientOptions(id, {
          randomBytes: (length) => {
            const bytes = random(length);
            if (length === 32) secrets.push(new Uint8Array(bytes));
            return bytes;
          },
        }),
      );
    });
    const wire: Uint8Array[] = [];
    const collect = (value: unknown): void => {
      if (value instanceof Uint8Array) wire.push(value);
      else if (Array.isArray(value)) value.forEach(collect);
      else if (value !== null && typeof value === 'object') Object.values(value).forEach(collect);
    };
    const send = <T>(message: T): T => {
      collect(message);
      return message;
    };
    for (const client of clients) server.receiveAdvertisement(send(client.advertiseKeys()));
    const directory = send(server.closeAdvertisement());
    for (const client of clients) server.receiveShareKeys(send(await client.shareKeys(directory)));
    server.closeShareKeys();
    for (const client of clients.slice(0, 4)) {
      client.acceptSealedShares(send(server.sealedSharesFor(client.clientId)));
      server.receiveMaskedInput(send(client.maskInput(inputs.get(client.clientId)!)));
    }
    server.closeMaskedInput();
    for (const client of clients.slice(0, 4)) server.receiveConsistencySignature(send(client.signSurvivorView(send(server.consistencyCheckFor(client.clientId)))));
    server.closeConsistencyCheck();
    for (const client of clients.slice(0, 4)) server.receiveUnmaskResponse(send(client.unmask(send(server.unmaskRequestFor(client.clientId)))));
    await server.unmask();

    expect(secrets.length).toBe(15);
    const everything = Buffer.concat(wire.map((bytes) => Buffer.from(bytes)));
    for (const secret of secrets) expect(everything.indexOf(Buffer.from(secret))).toBe(-1);
  });

  describe('a client answering an unmask request', () => {
    // 8 clients, 4-regular graph, threshold 2; one neighbour of client-0 dropped after sharing.
    const ids = clientIds(8);
    const parameters: SecureAggregationParameters = {
      roundId: 9,
      vectorLength: 200,
      threshold: 3,
      graph: { kind: 'k-regular', k: 4, seed: new Uint8Array(32).fill(9) },
    };
    async function setUp(): Promise<{ round: SimulatedRound; request: UnmaskRequestMessage; client: SecureAggregationClient }> {
      const probe = await runRoundUntilUnmasking(parameters, inputsFor(ids, 200, 9));
      const neighbour = probe.clients.get('client-0')!.maskingPartners[0]!;
      const round = await runRoundUntilUnmasking(parameters, inputsFor(ids, 200, 9), { dropAfterSharing: [neighbour] });
      const request = round.server.unmaskRequestFor('client-0');
      expect(request.dropped).toEqual([neighbour]);
      return { round, request, client: round.clients.get('client-0')! };
    }

    it('answers a consistent request with b-shares for survivors and key shares for the dropped', async () => {
      const { request, client } = await setUp();
      const response = client.unmask(request);
      expect(response.selfMaskSeedShares.map((s) => s.ownerId)).toEqual(request.survivors.filter((id) => id !== 'client-0'));
      expect(response.maskingKeyShares.map((s) => s.ownerId)).toEqual(request.dropped);
    });

    it('refuses a client listed both as survivor and as dropped', async () => {
      const { request, client } = await setUp();
      const both = { ...request, survivors: [...request.survivors, request.dropped[0]!] };
      expect(() => client.unmask(both)).toThrow(expect.objectContaining({ code: 'INCONSISTENT_LISTS', message: expect.stringMatching(/both as survivor and as dropped/) }));
    });

    it('refuses to be listed as dropped itself, or to be left out of the survivors', async () => {
      const { request, client } = await setUp();
      const selfDropped = { ...request, dropped: [...request.dropped, 'client-0'] };
      expect(() => client.unmask(selfDropped)).toThrow(expect.objectContaining({ code: 'INCONSISTENT_LISTS', message: expect.stringMatching(/itself as dropped/) }));
      const leftOut = { ...request, survivors: request.survivors.filter((id) => id !== 'client-0') };
      expect(() => client.unmask(leftOut)).toThrow(expect.objectContaining({ code: 'INCONSISTENT_LISTS' }));
    });

    it('refuses clients that are not its neighbours', async () => {
      const { request, client } = await setUp();
      const stranger = ids.find((id) => id !== 'client-0' && !client.maskingPartners.includes(id))!;
      expect(() => client.unmask({ ...request, survivors: [...request.survivors, stranger] })).toThrow(
        expect.objectContaining({ code: 'NOT_A_NEIGHBOUR', message: expect.stringMatching(/not one of its neighbours/) }),
      );
      expect(() => client.unmask({ ...request, dropped: [...request.dropped, 'mallory'] })).toThrow(expect.objectContaining({ code: 'NOT_A_NEIGHBOUR' }));
    });

    it('refuses a request with fewer survivors than the threshold', async () => {
      const { request, client } = await setUp();
      expect(() => client.unmask({ ...request, survivors: ['client-0'] })).toThrow(expect.objectContaining({ code: 'BELOW_THRESHOLD' }));
    });

    it('never reveals both shares of one client across requests, but may repeat a consistent answer', async () => {
      const { request, client } = await setUp();
      const first = client.unmask(request);
      expect(client.unmask(request)).toEqual(first);
      const survivor = request.survivors.find((id) => id !== 'client-0')!;
      const flipped = { ...request, survivors: request.survivors.filter((id) => id !== survivor), dropped: [...request.dropped, survivor] };
      expect(() => client.unmask(flipped)).toThrow(expect.objectContaining({ code: 'INCONSISTENT_LISTS', message: expect.stringMatching(/earlier request/) }));
    });

    it('refuses a request of another round', async () => {
      const { request, client } = await setUp();
      expect(() => client.unmask({ ...request, roundId: 10 })).toThrow(expect.objectContaining({ code: 'WRONG_ROUND' }));
    });
  });

  describe('the server', () => {
    const ids = clientIds(5);
    const parameters: SecureAggregationParameters = { roundId: 4, vectorLength: 300, threshold: 3, graph: { kind: 'complete' } };

    it('aborts with BELOW_THRESHOLD when too few clients survive to hold the shares', async () => {
      await expect(runRoundUntilUnmasking(parameters, inputsFor(ids, 300, 4), { dropAfterSharing: ids.slice(0, 2) })).rejects.toMatchObject({
        code: 'BELOW_THRESHOLD',
      });
    });

    it('aborts with BELOW_THRESHOLD when too few survivors answer the unmask request', async () => {
      const round = await runRoundUntilUnmasking(parameters, inputsFor(ids, 300, 4), { dropAfterSharing: ['client-4'] });
      for (const id of ['client-0', 'client-1']) round.server.receiveUnmaskResponse(round.clients.get(id)!.unmask(round.server.unmaskRequestFor(id)));
      await expect(round.server.unmask()).rejects.toMatchObject({ code: 'BELOW_THRESHOLD', message: expect.stringMatching(/masking key of dropped client-4/) });
      expect(round.server.phase).toBe('failed');
    });

    it('discards a corrupted share among the first t and reconstructs from the other valid ones (finding c)', async () => {
      const inputs = inputsFor(ids, 300, 4);
      const round = await runRoundUntilUnmasking(parameters, inputs, { dropAfterSharing: ['client-4'] });
      for (const id of round.server.unmaskingClients) {
        const response = round.clients.get(id)!.unmask(round.server.unmaskRequestFor(id));
        // client-0 is the first responder in code-unit order: its shares are among the first t.
        if (id === 'client-0') response.maskingKeyShares[0]!.share[3] = response.maskingKeyShares[0]!.share[3]! ^ 0x40;
        round.server.receiveUnmaskResponse(response);
      }
      const survivors = ids.slice(0, 4);
      expect((await round.server.unmask()).fixedPointSum).toEqual(encodedSum(inputs, survivors, 300));
    });

    it('refuses with BELOW_THRESHOLD, naming the discarded shares, when fewer than t shares match their commitments', async () => {
      const round = await runRoundUntilUnmasking(parameters, inputsFor(ids, 300, 4), { dropAfterSharing: ['client-4'] });
      for (const id of round.server.unmaskingClients) {
        const response = round.clients.get(id)!.unmask(round.server.unmaskRequestFor(id));
        if (id === 'client-0' || id === 'client-1') response.maskingKeyShares[0]!.share[3] = response.maskingKeyShares[0]!.share[3]! ^ 0x40;
        round.server.receiveUnmaskResponse(response);
      }
      await expect(round.server.unmask()).rejects.toMatchObject({
        code: 'BELOW_THRESHOLD',
        message: expect.stringMatching(/masking key of dropped client-4 \(2 valid share\(s\), 2 more discarded: they do not match their commitments\)/),
      });
    });

    it('refuses masked inputs from clients that did not share keys, twice, or of another round', async () => {
      const server = testServer(parameters);
      const clients = ids.map((id) => new SecureAggregationClient(id, parameters, testClientOptions(id)));
      for (const client of clients) server.receiveAdvertisement(client.advertiseKeys());
      const directory = server.closeAdvertisement();
      for (const client of clients.slice(0, 4)) server.receiveShareKeys(await client.shareKeys(directory));
      server.closeShareKeys();
      const late = await clients[4]!.shareKeys(directory);
      expect(() => server.receiveShareKeys(late)).toThrow(expect.objectContaining({ code: 'WRONG_PHASE' }));
      expect(() => server.sealedSharesFor('client-4')).toThrow(expect.objectContaining({ code: 'UNKNOWN_CLIENT' }));
      const input = new Float32Array(300).fill(0.5);
      clients[0]!.acceptSealedShares(server.sealedSharesFor('client-0'));
      const masked = clients[0]!.maskInput(input);
      expect(() => server.receiveMaskedInput({ ...masked, roundId: 5 })).toThrow(expect.objectContaining({ code: 'WRONG_ROUND' }));
      server.receiveMaskedInput(masked);
      expect(() => server.receiveMaskedInput(masked)).toThrow(expect.objectContaining({ code: 'DUPLICATE' }));
      expect(() => server.receiveMaskedInput({ ...masked, clientId: 'client-4' })).toThrow(expect.objectContaining({ code: 'UNKNOWN_CLIENT' }));
    });

    it('refuses a round whose participants could overflow the fixed-point sum', () => {
      const wide = { ...parameters, fixedPoint: { fractionalBits: 30, min: 0, max: 1 } }; // at most 3 clients
      const server = testServer(wide);
      for (const id of ids) server.receiveAdvertisement(new SecureAggregationClient(id, wide, testClientOptions(id)).advertiseKeys());
      expect(() => server.closeAdvertisement()).toThrow(expect.objectContaining({ code: 'FIXED_POINT_OVERFLOW' }));
      expect(server.phase).toBe('failed');
    });
  });

  describe('a client receiving keys and shares', () => {
    const ids = clientIds(4);
    const parameters: SecureAggregationParameters = { roundId: 2, vectorLength: 100, threshold: 2, graph: { kind: 'complete' } };

    it('refuses a key directory without its own keys', async () => {
      const server = testServer(parameters);
      const clients = ids.map((id) => new SecureAggregationClient(id, parameters, testClientOptions(id)));
      for (const client of clients) server.receiveAdvertisement(client.advertiseKeys());
      const directory = server.closeAdvertisement();
      const swapped = {
        ...directory,
        participants: directory.participants.map((p) => (p.clientId === 'client-0' ? { ...p, maskingPublicKey: nacl.box.keyPair().publicKey } : p)),
      };
      await expect(clients[0]!.shareKeys(swapped)).rejects.toMatchObject({ code: 'KEY_MISMATCH' });
      expect(clients[0]!.phase).toBe('keys-advertised');
    });

    it('refuses a sealed share swapped to it from another recipient', async () => {
      const server = testServer(parameters);
      const clients = ids.map((id) => new SecureAggregationClient(id, parameters, testClientOptions(id)));
      for (const client of clients) server.receiveAdvertisement(client.advertiseKeys());
      const directory = server.closeAdvertisement();
      for (const client of clients) server.receiveShareKeys(await client.shareKeys(directory));
      server.closeShareKeys();
      const forZero = server.sealedSharesFor('client-0');
      const forOne = server.sealedSharesFor('client-1');
      const fromTwoToOne = forOne.sealedShares.find((s) => s.senderId === 'client-2')!;
      const tampered = {
        ...forZero,
        sealedShares: forZero.sealedShares.map((s) => (s.senderId === 'client-2' ? { ...fromTwoToOne, recipientId: 'client-0' } : s)),
      };
      expect(() => clients[0]!.acceptSealedShares(tampered)).toThrow(expect.objectContaining({ code: 'SHARE_REJECTED' }));
      clients[0]!.acceptSealedShares(forZero);
      expect(clients[0]!.maskingPartners).toEqual(['client-1', 'client-2', 'client-3']);
    });
  });
});
