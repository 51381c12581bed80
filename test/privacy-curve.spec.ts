import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'fedkd-privacy-curve-'));
const votesFile = join(dir, 'votes.json');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface CurvePoint {
  targetEpsilon: number | null;
  sigma: number | null;
  threshold: number | null;
  queriesAsked: number;
  queriesAnswered: number;
  studentAccuracy: number;
  epsilonDataIndependent: number | null;
  epsilonDataIndependentBalle2020: number | null;
  sanitised: { epsilon: number; expectedEpsilon: number; sanitisationEpsilonCost: number; method: string } | null;
  dataDependentUnsanitisedNotPublishable: number | null;
}

const curve = async (args: string[]) => {
  const { stdout } = await run(process.execPath, ['dist/scripts/privacy-curve.js', '--json', '--teacher', 'mlp', '--teachers', '20', '--teacher-epochs', '10', '--teacher-training', 'plain', '--student-epochs', '15', '--workers', '2', ...args], {
    maxBuffer: 1 << 20,
    timeout: 300_000,
  });
  return JSON.parse(stdout) as { points: CurvePoint[]; noiseFreeAccuracy: number; meanTeacherAccuracy: number };
};

describe('npm run privacy-curve', () => {
  // One run trains the teachers and saves their votes; the other cases reuse them (--load-votes).
  let first: Awaited<ReturnType<typeof curve>>;
  beforeAll(async () => {
    first = await curve(['--accounting', 'data-independent', '--epsilons', '1,8', '--student', 'self-training', '--save-votes', votesFile]);
  }, 300_000);

  it('data-independent accounting: each epsilon (1, 8) within its budget whatever the votes, more budget less noise', () => {
    const result = first;
    expect(result.points.map((p) => p.targetEpsilon)).toEqual([1, 8, null]);
    for (const p of result.points.slice(0, 2)) {
      expect(p.epsilonDataIndependent!).toBeLessThanOrEqual(p.targetEpsilon!);
      expect(p.epsilonDataIndependentBalle2020!).toBeLessThanOrEqual(p.epsilonDataIndependent!);
      expect(p.queriesAnswered).toBeLessThanOrEqual(p.queriesAsked);
      // The sanitised bound is reported beside it, never below the unsanitised one on average.
      expect(p.sanitised!.expectedEpsilon).toBeGreaterThanOrEqual(p.dataDependentUnsanitisedNotPublishable! - 1e-9);
    }
    const sigmas = result.points.slice(0, 2).map((p) => p.sigma! / Math.sqrt(p.queriesAsked));
    expect(sigmas).toEqual([...sigmas].sort((a, b) => b - a));
    expect(result.noiseFreeAccuracy).toBeGreaterThan(0.7);
    expect(result.meanTeacherAccuracy).toBeGreaterThan(0.3);
    expect(result.points[1].studentAccuracy).toBeGreaterThan(result.points[0].studentAccuracy);
  });

  it('sanitised accounting on the saved votes: PATE noise scaled to the teachers, the queries asked as given, both bounds reported', async () => {
    const result = await curve(['--load-votes', votesFile, '--mechanism', 'confident-gnmax', '--accounting', 'sanitised', '--epsilons', '2,8', '--queries', '100,1000', '--student-epochs', '1']);
    const [two, eight] = result.points;
    expect([two.queriesAsked, eight.queriesAsked]).toEqual([100, 1000]);
    // 20 teachers: threshold 0.8 x 20, sigma2 0.16 x 20.
    expect(two.threshold).toBeCloseTo(16, 10);
    expect(two.sigma).toBeCloseTo(3.2, 10);
    for (const p of [two, eight]) {
      expect(p.sanitised!.sanitisationEpsilonCost).toBeGreaterThan(0);
      expect(p.sanitised!.expectedEpsilon).toBeGreaterThanOrEqual(p.dataDependentUnsanitisedNotPublishable! - 1e-9);
      expect(p.epsilonDataIndependent).toBeGreaterThan(0);
    }
    expect(eight.epsilonDataIndependent!).toBeGreaterThan(two.epsilonDataIndependent!);
    // The default student (semi-supervised CNN, one pass here) learned something from 100 queries.
    expect(two.studentAccuracy).toBeGreaterThan(0.2);
  }, 300_000);

  it('refuses votes saved for other teachers, naming the file and the mismatch', async () => {
    const other = join(dir, 'other.json');
    writeFileSync(other, readFileSync(votesFile, 'utf8').replace('"teachers":20', '"teachers":21'));
    const failure = await curve(['--load-votes', other]).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain(`--load-votes ${other}: saved with teachers 21, but this run asks for 20`);
  }, 120_000);
});
