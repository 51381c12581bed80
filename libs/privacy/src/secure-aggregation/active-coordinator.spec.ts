import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';

import { generateIdentity } from '../identity/ed25519-keys';
import type { ConsistencyCheckMessage, KeyDirectoryMessage, UnmaskRequestMessage, ViewSignature } from './messages';
import { buildNeighbourGraph } from './neighbour-graph';
import type { SecureAggregationParameters } from './round-parameters';
import { advertisementSigningBytes, signStatement, survivorViewSigningBytes } from './round-signatures';
import { SecureAggregationClient } from './secagg-client';
import { seededUniform, softPredictions, TEST_FEDERATION_ID, testClientOptions, testIdentity, testServer } from './secagg-round.testing';
import { SecureAggregationServer } from './secagg-server';

/**
 * A coordinator test double that misbehaves: it drives real SecureAggregationClients through a
 * script of its own (equivocating survivor views and unmask requests, substituted keys, messages
 * replayed from another federation) and checks that every client refuses, with its reason, and
 * reveals nothing. Each finding (a)-(e) of the randomised check of the library has a test here or,
 * for (c), in secagg-protocol.spec.ts.
 */

const clientIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `client-${i}`);
const OTHER_FEDERATION_ID = generateIdentity().publicKey;

interface StagedRound {
  server: SecureAggregationServer;
  clients: Map<string, SecureAggregationClient>;
  directory: KeyDirectoryMessage;
}

/** Keys advertised and shared, sealed shares delivered, inputs masked by everyone not in `silent`; server honest so far. */
async function stageRound(parameters: SecureAggregationParameters, ids: readonly string[], silent: readonly string[] = []): Promise<StagedRound> {
  const server = testServer(parameters);
  const clients = new Map(ids.map((id) => [id, new SecureAggregationClient(id, parameters, testClientOptions(id))]));
  for (const client of clients.values()) server.receiveAdvertisement(client.advertiseKeys());
  const directory = server.closeAdvertisement();
  for (const client of clients.values()) server.receiveShareKeys(await client.shareKeys(directory));
  server.closeShareKeys();
  const uniform = seededUniform(parameters.roundId);
  for (const [id, client] of clients) {
    client.acceptSealedShares(server.sealedSharesFor(id));
    const input = softPredictions(parameters.vectorLength / 10, 10, uniform);
    if (!silent.includes(id)) server.receiveMaskedInput(client.maskInput(input));
  }
  return { server, clients, directory };
}

function check(roundId: number, recipientId: string, survivors: string[], dropped: string[]): ConsistencyCheckMessage {
  return { kind: 'secagg.consistency-check', roundId, recipientId, survivors: [...survivors].sort(), dropped: [...dropped].sort() };
}

function request(roundId: number, recipientId: string, client: SecureAggregationClient, survivors: Set<string>, signatures: ViewSignature[]): UnmaskRequestMessage {
  const partners = client.maskingPartners;
  return {
    kind: 'secagg.unmask-request',
    roundId,
    recipientId,
    survivors: [recipientId, ...partners.filter((id) => survivors.has(id))].sort(),
    dropped: partners.filter((id) => !survivors.has(id)),
    signatures,
  };
}

function refusal(action: () => unknown): { code: string; message: string } | null {
  try {
    action();
    return null;
  } catch (error) {
    return { code: (error as { code: string }).code, message: (error as Error).message };
  }
}

describe('clients against an actively malicious coordinator', () => {
  describe('key advertisements', () => {
    const parameters: SecureAggregationParameters = { roundId: 31, vectorLength: 40, threshold: 2, graph: { kind: 'complete' } };
    const ids = clientIds(4);

    async function directoryFor(roundId = parameters.roundId): Promise<{ clients: SecureAggregationClient[]; directory: KeyDirectoryMessage }> {
      const round = { ...parameters, roundId };
      const server = testServer(round);
      const clients = ids.map((id) => new SecureAggregationClient(id, round, testClientOptions(id)));
      for (const client of clients) server.receiveAdvertisement(client.advertiseKeys());
      return { clients, directory: server.closeAdvertisement() };
    }

    it('refuse a directory in which the coordinator substituted its own masking key for a neighbour\'s', async () => {
      const { clients, directory } = await directoryFor();
      const mallory = nacl.box.keyPair();
      const substituted = {
        ...directory,
        participants: directory.participants.map((p) => (p.clientId === 'client-1' ? { ...p, maskingPublicKey: mallory.publicKey } : p)),
      };
      await expect(clients[0]!.shareKeys(substituted)).rejects.toMatchObject({
        code: 'BAD_SIGNATURE',
        message: expect.stringMatching(/advertisement of client-1 does not verify under its identity key/),
      });
      expect(clients[0]!.phase).toBe('keys-advertised');
    });

    it('refuse a neighbour re-signed under an identity key the coordinator made up, once the real one is pinned', async () => {
      const { directory } = await directoryFor();
      const forged = generateIdentity();
      const victim = directory.participants.find((p) => p.clientId === 'client-1')!;
      const mallory = nacl.box.keyPair();
      const keys = { roundId: parameters.roundId, clientId: 'client-1', maskingPublicKey: mallory.publicKey, encryptionPublicKey: victim.encryptionPublicKey };
      const resigned = { ...victim, ...keys, identityPublicKey: forged.publicKey, signature: signStatement(advertisementSigningBytes({ federationId: TEST_FEDERATION_ID, ...keys }), forged.secretKey) };
      const substituted = { ...directory, participants: directory.participants.map((p) => (p.clientId === 'client-1' ? resigned : p)) };
      // client-0 has seen client-1 before: it pinned client-1's enrolled identity key.
      const pinned = new SecureAggregationClient('client-0', parameters, testClientOptions('client-0', { knownIdentityKeys: new Map([['client-1', testIdentity('client-1').publicKey]]) }));
      const own = pinned.advertiseKeys();
      const withOwn = { ...substituted, participants: substituted.participants.map((p) => (p.clientId === 'client-0' ? { ...own, clientId: 'client-0' } : p)) };
      await expect(pinned.shareKeys(withOwn)).rejects.toMatchObject({ code: 'BAD_SIGNATURE', message: expect.stringMatching(/identity key other than the one client-0 pinned/) });
    });

    it('refuse an advertisement replayed from another federation the same client is enrolled with', async () => {
      const { clients, directory } = await directoryFor();
      // client-1 takes part in a round with the same id under another coordinator, with the same identity key.
      const elsewhere = new SecureAggregationClient('client-1', parameters, testClientOptions('client-1', { federationId: OTHER_FEDERATION_ID }));
      const foreign = elsewhere.advertiseKeys();
      const replayed = { ...directory, participants: directory.participants.map((p) => (p.clientId === 'client-1' ? { ...foreign } : p)) };
      await expect(clients[0]!.shareKeys(replayed)).rejects.toMatchObject({ code: 'BAD_SIGNATURE', message: expect.stringMatching(/another federation or round/) });
      // An honest coordinator refuses it too.
      expect(refusal(() => testServer(parameters).receiveAdvertisement(foreign))).toMatchObject({ code: 'BAD_SIGNATURE' });
    });

    it('refuse an advertisement replayed from an earlier round', async () => {
      const { directory: earlier } = await directoryFor(30);
      const { clients, directory } = await directoryFor(31);
      const old = earlier.participants.find((p) => p.clientId === 'client-2')!;
      const replayed = { ...directory, participants: directory.participants.map((p) => (p.clientId === 'client-2' ? old : p)) };
      await expect(clients[0]!.shareKeys(replayed)).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    });

    it('(d) the coordinator refuses an advertisement that reuses another client\'s keys, and clients refuse a directory that repeats one', async () => {
      const server = testServer(parameters);
      const honest = new SecureAggregationClient('client-0', parameters, testClientOptions('client-0'));
      const first = honest.advertiseKeys();
      server.receiveAdvertisement(first);
      // client-1 signs client-0's public keys with its own identity key.
      const keys = { roundId: parameters.roundId, clientId: 'client-1', maskingPublicKey: first.maskingPublicKey, encryptionPublicKey: first.encryptionPublicKey };
      const copycat = { kind: 'secagg.advertise-keys' as const, ...keys, identityPublicKey: testIdentity('client-1').publicKey, signature: signStatement(advertisementSigningBytes({ federationId: TEST_FEDERATION_ID, ...keys }), testIdentity('client-1').secretKey) };
      expect(refusal(() => server.receiveAdvertisement(copycat))).toEqual({ code: 'KEY_MISMATCH', message: 'client-1 advertised a public key that client-0 already advertised' });
      expect(server.participants).toEqual(['client-0']);
      const { clients, directory } = await directoryFor();
      const repeated = { ...directory, participants: directory.participants.map((p) => (p.clientId === 'client-2' ? { ...p, encryptionPublicKey: directory.participants[1]!.encryptionPublicKey } : p)) };
      await expect(clients[0]!.shareKeys(repeated)).rejects.toMatchObject({ code: 'KEY_MISMATCH', message: expect.stringMatching(/repeats a public key/) });
    });

    it('the coordinator refuses an advertisement under an identity key other than the enrolled one', () => {
      const server = testServer(parameters);
      const impostor = new SecureAggregationClient('client-2', parameters, { identity: generateIdentity(), federationId: TEST_FEDERATION_ID });
      expect(refusal(() => server.receiveAdvertisement(impostor.advertiseKeys()))).toMatchObject({ code: 'KEY_MISMATCH', message: expect.stringMatching(/enrolled/) });
    });
  });

  describe('(e) ill-formed client ids', () => {
    const parameters: SecureAggregationParameters = { roundId: 5, vectorLength: 40, threshold: 2, graph: { kind: 'complete' } };

    it('are refused by the coordinator (a lone surrogate), while a well-formed surrogate pair passes', () => {
      const server = testServer(parameters);
      const honest = new SecureAggregationClient('client-0', parameters, testClientOptions('client-0'));
      const advertisement = honest.advertiseKeys();
      for (const id of ['client-\uD800', '\uDC00client', 'a\uDBFF\uDBFFb']) {
        expect(refusal(() => server.receiveAdvertisement({ ...advertisement, clientId: id }))).toMatchObject({ code: 'BAD_MESSAGE', message: expect.stringMatching(/not well-formed UTF-16/) });
      }
      expect(server.participants).toEqual([]);
      const emoji = new SecureAggregationClient('client-\u{1F600}', parameters, testClientOptions('client-\u{1F600}'));
      new SecureAggregationServer(parameters, { federationId: TEST_FEDERATION_ID }).receiveAdvertisement(emoji.advertiseKeys());
    });

    it('are refused by clients, in their own id and in a key directory', async () => {
      expect(refusal(() => new SecureAggregationClient('x\uD83D', parameters, testClientOptions('x\uD83D')))).toMatchObject({ code: 'BAD_MESSAGE' });
      const server = testServer(parameters);
      const clients = clientIds(3).map((id) => new SecureAggregationClient(id, parameters, testClientOptions(id)));
      for (const client of clients) server.receiveAdvertisement(client.advertiseKeys());
      const directory = server.closeAdvertisement();
      const broken = { ...directory, participants: directory.participants.map((p) => (p.clientId === 'client-2' ? { ...p, clientId: 'client-\uDFFF' } : p)) };
      await expect(clients[0]!.shareKeys(broken)).rejects.toMatchObject({ code: 'BAD_MESSAGE', message: expect.stringMatching(/not well-formed/) });
    });
  });

  describe('survivor views and unmask requests', () => {
    it('(a) a threshold at or below half of the neighbours (n = 7, t = 3) is refused by coordinator and clients', async () => {
      const parameters: SecureAggregationParameters = { roundId: 7, vectorLength: 40, threshold: 3, graph: { kind: 'complete' } };
      const server = testServer(parameters);
      const clients = clientIds(7).map((id) => new SecureAggregationClient(id, parameters, testClientOptions(id)));
      const advertisements = clients.map((client) => client.advertiseKeys());
      for (const advertisement of advertisements) server.receiveAdvertisement(advertisement);
      expect(refusal(() => server.closeAdvertisement())).toMatchObject({ code: 'INVALID_PARAMETERS', message: expect.stringMatching(/threshold 3 is not a majority of 6 neighbours \(needs at least 4\)/) });
      // A coordinator that skips its own check and sends the directory anyway: the clients refuse it.
      const directory: KeyDirectoryMessage = { kind: 'secagg.key-directory', roundId: 7, participants: advertisements.map(({ kind: _kind, roundId: _round, ...keys }) => keys) };
      for (const client of clients) await expect(client.shareKeys(directory)).rejects.toMatchObject({ code: 'INVALID_PARAMETERS' });
      // For a k-regular graph the floor is known up front: refused at construction.
      expect(refusal(() => new SecureAggregationClient('client-0', { ...parameters, graph: { kind: 'k-regular', k: 6, seed: Uint8Array.of(1) } }, testClientOptions('client-0')))).toMatchObject({ code: 'INVALID_PARAMETERS' });
    });

    it('(a) with t a majority, different unmask requests to different neighbours recover nothing: every client refuses', async () => {
      // n = 7, t = 4. The coordinator tells half of client-0's neighbours that it survived and the
      // other half that it dropped, hoping for t shares of its self-mask seed AND of its masking key.
      const parameters: SecureAggregationParameters = { roundId: 8, vectorLength: 40, threshold: 4, graph: { kind: 'complete' } };
      const ids = clientIds(7);
      const { clients } = await stageRound(parameters, ids);
      const told = new Map<string, { survivors: string[]; dropped: string[] }>();
      for (const id of ids) told.set(id, ['client-4', 'client-5', 'client-6'].includes(id) ? { survivors: ids.filter((v) => v !== 'client-0'), dropped: ['client-0'] } : { survivors: ids, dropped: [] });
      const signatures = new Map<string, { view: string; signature: Uint8Array }>();
      const refusals = new Map<string, string>();
      for (const [id, view] of told) {
        const outcome = refusal(() => {
          const signed = clients.get(id)!.signSurvivorView(check(8, id, view.survivors, view.dropped));
          signatures.set(id, { view: JSON.stringify(view), signature: signed.signature });
        });
        if (outcome) refusals.set(id, outcome.code);
      }
      // client-0 is alive: it refuses the view that calls it dropped only if shown it; it was shown the other one.
      const revealed = { seed: 0, key: 0 };
      for (const id of ids.filter((v) => signatures.has(v))) {
        const client = clients.get(id)!;
        const mine = signatures.get(id)!.view;
        // The coordinator's best try: present every partner signature on the same view as this client's.
        const agreeing = client.maskingPartners.filter((v) => signatures.get(v)?.view === mine).map((v) => ({ clientId: v, signature: signatures.get(v)!.signature }));
        const view = told.get(id)!;
        const outcome = refusal(() => {
          const response = client.unmask(request(8, id, client, new Set(view.survivors), agreeing));
          revealed.seed += response.selfMaskSeedShares.filter((s) => s.ownerId === 'client-0').length;
          revealed.key += response.maskingKeyShares.filter((s) => s.ownerId === 'client-0').length;
        });
        if (outcome) refusals.set(id, outcome.code);
      }
      // Three neighbours saw each view: fewer than t = 4 partners agree anywhere, so nobody reveals anything.
      expect(Object.fromEntries(refusals)).toEqual(Object.fromEntries(ids.map((id) => [id, 'BELOW_THRESHOLD'])));
      expect(revealed).toEqual({ seed: 0, key: 0 });
      // Mixing in a signature on the other view is caught as equivocation.
      const client1 = clients.get('client-1')!;
      const mixed = ['client-2', 'client-3', 'client-4', 'client-5'].map((v) => ({ clientId: v, signature: signatures.get(v)!.signature }));
      expect(refusal(() => client1.unmask(request(8, 'client-1', client1, new Set(ids), mixed)))).toMatchObject({
        code: 'INCONSISTENT_VIEWS',
        message: expect.stringMatching(/survivor-view signature of client-4 does not verify on the view client-1 signed/),
      });
    });

    it('refuse an unmask request that contradicts the survivor view they signed', async () => {
      const parameters: SecureAggregationParameters = { roundId: 9, vectorLength: 40, threshold: 3, graph: { kind: 'complete' } };
      const ids = clientIds(5);
      const { server, clients } = await stageRound(parameters, ids);
      server.closeMaskedInput();
      for (const id of ids) server.receiveConsistencySignature(clients.get(id)!.signSurvivorView(server.consistencyCheckFor(id)));
      server.closeConsistencyCheck();
      const honest = server.unmaskRequestFor('client-1');
      // Everyone survived; the coordinator now claims client-0 dropped, to get shares of its masking key.
      const lying = { ...honest, survivors: honest.survivors.filter((id) => id !== 'client-0'), dropped: ['client-0'] };
      expect(refusal(() => clients.get('client-1')!.unmask(lying))).toEqual({
        code: 'INCONSISTENT_LISTS',
        message: 'unmask request lists client-0 as dropped, but the signed survivor view does not',
      });
      // Signatures forged by the coordinator (or of another federation) are not views its neighbours signed.
      const forged = { ...honest, signatures: honest.signatures.map((s) => ({ ...s, signature: nacl.randomBytes(64) })) };
      expect(refusal(() => clients.get('client-1')!.unmask(forged))).toMatchObject({ code: 'INCONSISTENT_VIEWS' });
      // The same view signed by the same neighbours for another federation (a replay between coordinators).
      const view = { roundId: 9, survivors: ids, dropped: [] };
      const foreign = { ...honest, signatures: honest.signatures.map((s) => ({ ...s, signature: signStatement(survivorViewSigningBytes({ ...view, federationId: OTHER_FEDERATION_ID }, s.clientId), testIdentity(s.clientId).secretKey) })) };
      expect(refusal(() => clients.get('client-1')!.unmask(foreign))).toMatchObject({ code: 'INCONSISTENT_VIEWS' });
      // ... while for this federation they are exactly what the neighbours signed.
      const same = { ...honest, signatures: honest.signatures.map((s) => ({ ...s, signature: signStatement(survivorViewSigningBytes({ ...view, federationId: TEST_FEDERATION_ID }, s.clientId), testIdentity(s.clientId).secretKey) })) };
      expect(same.signatures).toEqual(honest.signatures);
      expect(clients.get('client-1')!.unmask(honest).selfMaskSeedShares.map((s) => s.ownerId)).toEqual(['client-0', 'client-2', 'client-3', 'client-4']);
    });

    it('refuse a survivor view that leaves out a masking partner or lists a neighbour that sent no shares', async () => {
      const parameters: SecureAggregationParameters = { roundId: 10, vectorLength: 40, threshold: 3, graph: { kind: 'complete' } };
      const ids = clientIds(5);
      const { clients } = await stageRound(parameters, ids);
      const client = clients.get('client-0')!;
      expect(refusal(() => client.signSurvivorView(check(10, 'client-0', ids.slice(0, 4), [])))).toMatchObject({ code: 'INCONSISTENT_LISTS', message: expect.stringMatching(/leaves out client-4/) });
      expect(refusal(() => client.signSurvivorView(check(10, 'client-0', ids, ['client-9'])))).toMatchObject({ code: 'UNKNOWN_CLIENT' });
      expect(client.phase).toBe('input-masked');
    });

    it('(b) n = 12, k = 4: dropouts that split the survivors into groups sharing no masks stop the round (coordinator and clients)', async () => {
      const ids = clientIds(12);
      const graphSpec = { kind: 'k-regular' as const, k: 4, seed: Uint8Array.of(12) };
      const graph = buildNeighbourGraph(ids, graphSpec);
      // Every 4 dropouts that disconnect the survivors while leaving each client `threshold` surviving neighbours.
      const splitsFor = (threshold: number): string[][] => {
        const splits: string[][] = [];
        for (let a = 0; a < 12; a++) for (let b = a + 1; b < 12; b++) for (let c = b + 1; c < 12; c++) for (let d = c + 1; d < 12; d++) {
          const dropped = [ids[a]!, ids[b]!, ids[c]!, ids[d]!];
          const survivors = ids.filter((id) => !dropped.includes(id));
          if (graph.isConnectedAmong(survivors)) continue;
          if (ids.every((id) => graph.neighboursOf(id).filter((v) => survivors.includes(v)).length >= threshold)) splits.push(dropped);
        }
        return splits;
      };
      // With the majority floor (t = 3 of 4) no such split gets past the threshold check at all.
      expect(splitsFor(3)).toEqual([]);
      // The finding's t = 2 (unsafe): some 4 dropouts split the 8 survivors into two groups.
      const parameters: SecureAggregationParameters = { roundId: 12, vectorLength: 40, threshold: 2, graph: graphSpec, unsafeThreshold: true };
      const dropped = splitsFor(2)[0]!;
      expect(dropped).toHaveLength(4);
      const { server, clients } = await stageRound(parameters, ids, dropped);
      expect(refusal(() => server.closeMaskedInput())).toMatchObject({ code: 'SURVIVORS_DISCONNECTED' });
      // A coordinator that skips its own check and asks anyway: every survivor refuses to sign, so reveals nothing.
      const survivors = ids.filter((id) => !dropped.includes(id));
      for (const id of survivors) {
        expect(refusal(() => clients.get(id)!.signSurvivorView(check(12, id, survivors, dropped)))).toMatchObject({ code: 'SURVIVORS_DISCONNECTED' });
      }
    });
  });
});
