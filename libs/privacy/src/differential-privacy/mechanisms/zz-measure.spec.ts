import { SeededRng } from '@fedkd/engine';
import { it } from 'vitest';
import { gaussianOnClippedSum } from './clipping';
import { distributedNoiseShare } from './distributed-noise';
import { confidentGnmax, gnmax } from './gnmax';
import { addGaussianNoise } from './normal-source';
import { meanAndVariance, standardNormalCdf } from './noise-statistics.testing';
import { secureNormalRng } from './secure-normal-rng';
const N = 20000;
const report = (name: string, x: Float64Array, sigma: number) => {
  const { mean, variance } = meanAndVariance(x);
  console.log(`${name}: mean ${mean.toFixed(5)} (${(mean / (sigma / Math.sqrt(N))).toFixed(2)} SE), var/sigma^2 ${(variance / sigma / sigma).toFixed(4)}`);
};
it('measure', () => {
  const values = Float64Array.from({ length: N }, (_, k) => (k % 17) - 3);
  for (const [seed, sigma] of [[1, 0.5], [2, 4], [3, 40]] as const) {
    const y = addGaussianNoise(values, sigma, new SeededRng(1000 + seed));
    report(`addGaussianNoise sigma ${sigma}`, y.map((v, k) => v - values[k]), sigma);
  }
  const sum = Float64Array.from({ length: N }, (_, k) => (k % 10 === 3 ? 37.5 : 0.25));
  const sigma = 0.88;
  report('gaussianOnClippedSum sigma 0.88', gaussianOnClippedSum(sum, sigma, new SeededRng(7)).map((v, k) => v - sum[k]), sigma);
  for (const k of [1, 5, 40]) {
    const rng = new SeededRng(500 + k);
    const total = new Float64Array(N);
    for (let c = 0; c < k; c++) { const s = distributedNoiseShare(N, 3, k, rng.fork(c)); for (let j = 0; j < N; j++) total[j] += s[j]; }
    report(`distributed k=${k} sigma 3`, total, 3);
  }
  const rng = new SeededRng(77); const short = new Float64Array(N);
  for (let c = 0; c < 6; c++) { const s = distributedNoiseShare(N, 2, 10, rng.fork(`short ${c}`)); for (let j = 0; j < N; j++) short[j] += s[j]; }
  report('6 of 10 survivors sigma 2 (vs sigma^2)', short, 2);
  const votes = new Float64Array(2 * N); for (let i = 0; i < N; i++) votes.set([10, 6], 2 * i);
  const flips = gnmax(votes, 2, 2 * Math.SQRT2, new SeededRng(11)).labels.reduce((a, b) => a + b, 0) / N;
  console.log(`gnmax flip rate ${flips} expected ${standardNormalCdf(-1)}`);
  const v3 = new Float64Array(3 * N); for (let i = 0; i < N; i++) v3.set([60, 30, 10], 3 * i);
  console.log(`confident answered at T=top ${confidentGnmax(v3, 3, { threshold: 60, sigma1: 15, sigma2: 1 }, new SeededRng(12)).answered.reduce((a, b) => a + b, 0) / N}, T=top-sigma1 ${confidentGnmax(v3, 3, { threshold: 45, sigma1: 15, sigma2: 1 }, new SeededRng(13)).answered.reduce((a, b) => a + b, 0) / N} expected ${standardNormalCdf(1)}`);
  const s = secureNormalRng();
  report('secureNormalRng std 2.5', Float64Array.from({ length: N }, () => s.normal(0, 2.5)), 2.5);
  let t = performance.now(); for (let i = 0; i < 1e6; i++) s.normal(); console.log(`secure: ${((performance.now() - t)).toFixed(0)} ms per 1e6 normals`);
  const r = new SeededRng(1); t = performance.now(); for (let i = 0; i < 1e6; i++) r.normal(); console.log(`seeded: ${((performance.now() - t)).toFixed(0)} ms per 1e6 normals`);
});
