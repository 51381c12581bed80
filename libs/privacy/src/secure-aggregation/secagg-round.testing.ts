import nacl from 'tweetnacl';

import { identityFromSeed, type Ed25519KeyPair } from '../identity/ed25519-keys';
import type { SecureAggregationParameters } from './round-parameters';
import { SecureAggregationClient, SecureAggregationClientOptions } from './secagg-client';
import { SecureAggregationResult, SecureAggregationServer } from './secagg-server';
import { keystreamBytes } from './mask-stream';

/** The privacy tests' one seeded uniform generator (mulberry32; for test inputs and choices, not keys). */
export { seededUniform } from '../differential-privacy/accountant/relative-error.testing';

/**
 * Test support: drives one secure-aggregation round in memory, clients and server exchanging the
 * protocol's data messages as a transport would, and reproducible randomness.
 */

/** A deterministic randomBytes for tests: the XSalsa20 keystream of SHA-512(label), consumed in order. */
export function deterministicRandomBytes(label: string): (length: number) => Uint8Array {
  const key = nacl.hash(new TextEncoder().encode(label)).slice(0, 32);
  let counter = 0;
  return (length: number) => {
    const nonce = new Uint8Array(24);
    new DataView(nonce.buffer).setUint32(0, counter++, true);
    return keystreamBytes(key, nonce, length);
  };
}

/** The federation id of the test rounds (a coordinator's public key, deterministic). */
export const TEST_FEDERATION_ID = identityFromSeed(nacl.hash(new TextEncoder().encode('test coordinator')).slice(0, 32)).publicKey;

const testIdentities = new Map<string, Ed25519KeyPair>();

/** A client's deterministic identity key pair in tests (derived once per id: tweetnacl takes ~5 ms). */
export function testIdentity(clientId: string): Ed25519KeyPair {
  let identity = testIdentities.get(clientId);
  if (!identity) {
    identity = identityFromSeed(nacl.hash(new TextEncoder().encode(`identity/${clientId}`)).slice(0, 32));
    testIdentities.set(clientId, identity);
  }
  return identity;
}

/** Client options for tests: its test identity, the test federation, and any extra options. */
export function testClientOptions(clientId: string, extra: Partial<SecureAggregationClientOptions> = {}): SecureAggregationClientOptions {
  return { identity: testIdentity(clientId), federationId: TEST_FEDERATION_ID, ...extra };
}

/** A server for the test federation that checks identity keys against the test identities. */
export function testServer(parameters: SecureAggregationParameters): SecureAggregationServer {
  return new SecureAggregationServer(parameters, { federationId: TEST_FEDERATION_ID, identityKeyOf: (id) => testIdentity(id).publicKey });
}

/** Soft predictions: `rows` rows of `classes` non-negative float32 values summing to ~1. */
export function softPredictions(rows: number, classes: number, uniform: () => number): Float32Array {
  const out = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    let total = 0;
    const peak = Math.floor(uniform() * classes);
    for (let c = 0; c < classes; c++) {
      const v = (c === peak ? 8 : 0) + uniform() ** 3;
      out[r * classes + c] = v;
      total += v;
    }
    for (let c = 0; c < classes; c++) out[r * classes + c] = out[r * classes + c]! / total;
  }
  return out;
}

/** Some of `ids`, `count` of them, chosen with `uniform`. */
export function pickSome(ids: readonly string[], count: number, uniform: () => number): string[] {
  const pool = [...ids];
  const picked: string[] = [];
  while (picked.length < count) picked.push(pool.splice(Math.floor(uniform() * pool.length), 1)[0]!);
  return picked;
}

export interface SimulatedRound {
  server: SecureAggregationServer;
  clients: Map<string, SecureAggregationClient>;
  /** Every message sent, in order, as the transport saw it. */
  messages: object[];
}

/**
 * Runs a round up to the unmasking step: every client advertises and shares keys; those in
 * `dropAfterSharing` then vanish (no masked input); the survivors sign the survivor view. Returns
 * with the server in phase 'unmasking'.
 */
export async function runRoundUntilUnmasking(
  parameters: SecureAggregationParameters,
  inputs: ReadonlyMap<string, Float32Array>,
  options: { dropAfterSharing?: Iterable<string> } = {},
): Promise<SimulatedRound> {
  const dropped = new Set(options.dropAfterSharing ?? []);
  const messages: object[] = [];
  const server = testServer(parameters);
  const clients = new Map([...inputs.keys()].map((id) => [id, new SecureAggregationClient(id, parameters, testClientOptions(id))]));
  const send = <T extends object>(message: T): T => {
    messages.push(message);
    return message;
  };

  for (const client of clients.values()) server.receiveAdvertisement(send(client.advertiseKeys()));
  const directory = send(server.closeAdvertisement());
  const shareMessages = await Promise.all([...clients.values()].map((client) => client.shareKeys(directory)));
  for (const message of shareMessages) server.receiveShareKeys(send(message));
  server.closeShareKeys();
  for (const [id, client] of clients) {
    client.acceptSealedShares(send(server.sealedSharesFor(id)));
    if (!dropped.has(id)) server.receiveMaskedInput(send(client.maskInput(inputs.get(id)!)));
  }
  server.closeMaskedInput();
  for (const id of server.survivors) server.receiveConsistencySignature(send(clients.get(id)!.signSurvivorView(send(server.consistencyCheckFor(id)))));
  server.closeConsistencyCheck();
  return { server, clients, messages };
}

/** Asks every survivor to help unmask, feeds the answers back, and unmasks the sum. */
export async function finishRound(round: SimulatedRound): Promise<SecureAggregationResult> {
  for (const id of round.server.unmaskingClients) {
    const request = round.server.unmaskRequestFor(id);
    round.messages.push(request);
    const response = round.clients.get(id)!.unmask(request);
    round.messages.push(response);
    round.server.receiveUnmaskResponse(response);
  }
  return round.server.unmask();
}
