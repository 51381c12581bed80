import { randomBytes } from 'node:crypto';

import type { NormalSource } from './normal-source';

/**
 * The noise source for real runs: every uniform it uses comes from the operating system's CSPRNG
 * (crypto.randomBytes, read in 64 KiB blocks), 53 bits at a time, and normals come from
 * Box-Muller on those uniforms. It is not seeded and not reproducible, on purpose.
 *
 * `SeededRng` (sfc32) is for reproducible experiments only: whoever knows or guesses the seed
 * (at most 53 bits, often a small published number) can regenerate and subtract the noise, which
 * removes the privacy entirely. Never let a run that releases predictions on real private data
 * take its DP noise from a seeded generator.
 *
 * Not defended against: floating-point attacks on DP samplers. Mironov (2012) showed that the
 * textbook floating-point Laplace sampler leaks through the set of doubles it can output, and Jin
 * et al. (2022) showed comparable attacks on floating-point Gaussian samplers, as well as timing
 * side channels. This Box-Muller sampler on doubles has the same weakness: its outputs lie on an
 * irregular grid that depends on the true value, and its tails are truncated (|z| <= about 8.6
 * standard deviations with 53-bit uniforms; about 6.7 for SeededRng's 32-bit uniforms). A
 * defended implementation would sample a discrete Gaussian (Canonne, Kamath and Steinke 2020) on
 * fixed-point values in constant time, which would also suit secure aggregation's integer ring.
 */
export class SecureNormalRng implements NormalSource {
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0;
  private spareNormal: number | null = null;

  constructor(private readonly blockBytes = 65_536) {}

  /** Uniform in [0, 1) with 53 bits of resolution. */
  uniform(): number {
    if (this.offset + 7 > this.buffer.length) {
      this.buffer = randomBytes(this.blockBytes);
      this.offset = 0;
    }
    const high = this.buffer.readUIntLE(this.offset, 3) & 0x1fffff; // 21 bits
    const low = this.buffer.readUInt32LE(this.offset + 3); // 32 bits
    this.offset += 7;
    return (high * 4294967296 + low) / 9007199254740992; // 2^53
  }

  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }
}

/** A fresh CSPRNG-backed normal source (see SecureNormalRng). */
export function secureNormalRng(): SecureNormalRng {
  return new SecureNormalRng();
}
