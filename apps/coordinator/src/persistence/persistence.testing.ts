import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MlpSpec, CnnSpec } from '@fedkd/engine';

/** A fresh directory under the OS temp dir; `remove()` deletes it with everything inside. */
export function makeTempDir(prefix = 'fedkd-persistence-'): { dir: string; file(name: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    file: (name) => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A clock the test moves by hand (epoch milliseconds). */
export function makeManualClock(start = 1_700_000_000_000): { now: () => number; advance(ms: number): number; readonly t: number } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => (t += ms),
    get t() {
      return t;
    },
  };
}

export const TEST_MLP: MlpSpec = { kind: 'mlp', inputShape: [28, 28, 1], hidden: [32], classes: 10 };
export const TEST_CNN: CnnSpec = { kind: 'cnn', inputShape: [28, 28, 1], convFilters: [8], kernelSize: 3, hidden: [], classes: 10 };
