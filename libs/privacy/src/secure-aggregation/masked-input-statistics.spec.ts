import { describe, expect, it } from 'vitest';

import type { MaskedInputMessage } from './messages';
import type { SecureAggregationParameters } from './round-parameters';
import { SecureAggregationClient } from './secagg-client';
import { deterministicRandomBytes, seededUniform, softPredictions, testClientOptions, testServer } from './secagg-round.testing';
import { uint32FromBytesLE } from './wire-bytes';

/** Upper 0.999 quantile of chi-square with `df` degrees of freedom (Wilson-Hilferty; 330.5 for 255 df). */
function chiSquareCritical999(df: number): number {
  const z = 3.090232; // standard normal 0.999 quantile
  const v = 2 / (9 * df);
  return df * (1 - v + z * Math.sqrt(v)) ** 3;
}

function chiSquareAgainstUniform(samples: ArrayLike<number>, bins: number): number {
  const counts = new Float64Array(bins);
  for (let i = 0; i < samples.length; i++) counts[samples[i]!]! += 1;
  const expected = samples.length / bins;
  let statistic = 0;
  for (const count of counts) statistic += (count - expected) ** 2 / expected;
  return statistic;
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** One client's masked input in a 3-client round over 20,000 soft predictions (2000 proxy x 10 classes). */
async function maskedSoftPredictions(): Promise<{ plaintext: Float32Array; masked: MaskedInputMessage }> {
  const parameters: SecureAggregationParameters = { roundId: 21, vectorLength: 20_000, threshold: 2, graph: { kind: 'complete' } };
  const ids = ['alice', 'bob', 'carol'];
  const server = testServer(parameters);
  const clients = ids.map((id) => new SecureAggregationClient(id, parameters, testClientOptions(id, { randomBytes: deterministicRandomBytes(`statistics/${id}`) })));
  for (const client of clients) server.receiveAdvertisement(client.advertiseKeys());
  const directory = server.closeAdvertisement();
  for (const client of clients) server.receiveShareKeys(await client.shareKeys(directory));
  server.closeShareKeys();
  clients[0]!.acceptSealedShares(server.sealedSharesFor('alice'));
  const plaintext = softPredictions(2000, 10, seededUniform(21));
  return { plaintext, masked: clients[0]!.maskInput(plaintext) };
}

describe('a masked input', () => {
  const critical = chiSquareCritical999(255);

  it('has bytes indistinguishable from uniform (chi-square, p > 0.001), unlike its plaintext', async () => {
    const { plaintext, masked } = await maskedSoftPredictions();
    expect(critical).toBeCloseTo(330.5, 0);
    expect(chiSquareAgainstUniform(masked.maskedInput, 256)).toBeLessThan(critical);
    const topBytes = uint32FromBytesLE(masked.maskedInput).map((word) => word >>> 24);
    expect(chiSquareAgainstUniform(topBytes, 256)).toBeLessThan(critical);
    // The test has power: the unmasked fixed-point encoding fails it by far.
    const plainBytes = new Uint8Array(Uint32Array.from(plaintext, (x) => Math.round(x * 65536)).buffer);
    expect(chiSquareAgainstUniform(plainBytes, 256)).toBeGreaterThan(100 * critical);
  });

  it('is uncorrelated with its plaintext (|r| < 0.05 over 20,000 elements)', async () => {
    const { plaintext, masked } = await maskedSoftPredictions();
    const words = uint32FromBytesLE(masked.maskedInput);
    expect(words.length).toBe(20_000);
    expect(Math.abs(pearson(words, plaintext))).toBeLessThan(0.05);
  });
});
