import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

interface CurvePoint {
  targetEpsilon: number | null;
  sigma: number | null;
  queriesAsked: number;
  queriesAnswered: number;
  studentAccuracy: number;
  epsilonClassic: number | null;
  epsilonBalle2020: number | null;
}

describe('npm run privacy-curve', () => {
  it('prints one JSON object: accuracy for epsilon 1, 2, 4, 8 and infinity, each within its budget', async () => {
    const { stdout } = await run(
      process.execPath,
      ['dist/scripts/privacy-curve.js', '--json', '--teachers', '20', '--teacher-epochs', '10', '--student-epochs', '15'],
      { maxBuffer: 1 << 20, timeout: 300_000 },
    );
    const result = JSON.parse(stdout) as { points: CurvePoint[]; noiseFreeAccuracy: number };
    expect(result.points.map((p) => p.targetEpsilon)).toEqual([1, 2, 4, 8, null]);
    for (const p of result.points.slice(0, 4)) {
      expect(p.epsilonClassic!).toBeLessThanOrEqual(p.targetEpsilon!);
      expect(p.epsilonBalle2020!).toBeLessThanOrEqual(p.epsilonClassic!);
      expect(p.queriesAnswered).toBeLessThanOrEqual(p.queriesAsked);
    }
    // More budget, less noise.
    const sigmas = result.points.slice(0, 4).map((p) => p.sigma! / Math.sqrt(p.queriesAsked));
    expect(sigmas).toEqual([...sigmas].sort((a, b) => b - a));
    expect(result.noiseFreeAccuracy).toBeGreaterThan(0.7);
    expect(result.points[3].studentAccuracy).toBeGreaterThan(result.points[0].studentAccuracy);
  }, 300_000);
});
