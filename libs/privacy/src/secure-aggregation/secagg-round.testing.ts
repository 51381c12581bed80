import nacl from 'tweetnacl';

import type { SecureAggregationParameters } from './round-parameters';
import { SecureAggregationClient } from './secagg-client';
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
 * `dropAfterSharing` then vanish (no masked input). Returns with the server in phase 'unmasking'.
 */
export async function runRoundUntilUnmasking(
  parameters: SecureAggregationParameters,
  inputs: ReadonlyMap<string, Float32Array>,
  options: { dropAfterSharing?: Iterable<string> } = {},
): Promise<SimulatedRound> {
  const dropped = new Set(options.dropAfterSharing ?? []);
  const messages: object[] = [];
  const server = new SecureAggregationServer(parameters);
  const clients = new Map([...inputs.keys()].map((id) => [id, new SecureAggregationClient(id, parameters)]));
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
  return { server, clients, messages };
}

/** Asks every survivor to help unmask, feeds the answers back, and unmasks the sum. */
export async function finishRound(round: SimulatedRound): Promise<SecureAggregationResult> {
  for (const id of round.server.survivors) {
    const request = round.server.unmaskRequestFor(id);
    round.messages.push(request);
    const response = round.clients.get(id)!.unmask(request);
    round.messages.push(response);
    round.server.receiveUnmaskResponse(response);
  }
  return round.server.unmask();
}
