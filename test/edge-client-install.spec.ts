import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { MNIST_TASK } from '@fedkd/data';
import { testWorkspace } from './support/federation-harness';

/**
 * A client process loads neither Nest nor SQLite, and everything it loads from the root
 * package.json's dependencies is in apps/edge-client/package.json (what its Docker image installs),
 * at the same versions. Checked on a real `fedkd client` process reading its own CSV file.
 */
const root = join(__dirname, '..');
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
const clientPackage = JSON.parse(readFileSync(join(root, 'apps/edge-client/package.json'), 'utf8')) as { dependencies: Record<string, string> };

function packageOf(file: string): string | null {
  const at = file.lastIndexOf('node_modules/');
  if (at < 0) return null;
  const parts = file.slice(at + 'node_modules/'.length).split('/');
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** Runs `fedkd client` (against a coordinator that is not there) until its teacher is ready, then stops it; returns the packages it loaded. */
async function packagesLoadedByClient(dir: string, entry: string[]): Promise<Set<string>> {
  const out = join(dir, `modules-${entry.length}.json`);
  const child = spawn(
    process.execPath,
    ['--require', join(__dirname, 'support', 'record-loaded-modules.cjs'), ...entry, '--task', join(dir, 'task.yaml'), '--data', join(dir, 'data.csv'), '--epochs', '1',
      '--coordinator', 'http://127.0.0.1:9', '--coordinator-public-key', Buffer.alloc(32, 1).toString('base64'), '--key', join(dir, 'keys', `c${entry.length}.key`), '--create-key', '--ledger', join(dir, 'ledger.json')],
    { env: { ...process.env, FEDKD_LOADED_MODULES_OUT: out }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready event in 60 s: ${stderr}`)), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"event":"ready"')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  expect(existsSync(out)).toBe(true);
  return new Set((JSON.parse(readFileSync(out, 'utf8')) as string[]).map(packageOf).filter((p): p is string => p !== null));
}

describe('the edge client\'s install', () => {
  const { dir } = testWorkspace('fedkd-client-install-');
  writeFileSync(join(dir, 'task.yaml'), toYaml(MNIST_TASK));
  mkdirSync(join(dir, 'keys'));
  const header = [...Array.from({ length: 784 }, (_, i) => `p${i}`), 'label'].join(',');
  const rows = Array.from({ length: 40 }, (_, r) => [...Array.from({ length: 784 }, (_, i) => (r * 31 + i) % 256), String(r % 10)].join(','));
  writeFileSync(join(dir, 'data.csv'), `${header}\n${rows.join('\n')}\n`);

  it.each([
    ['fedkd client', [join(root, 'dist/apps/cli/src/main.js'), 'client']],
    ['the edge-client app\'s own entry point', [join(root, 'dist/apps/edge-client/src/main.js')]],
  ])('%s loads neither Nest nor SQLite, only packages of apps/edge-client/package.json', async (_, entry) => {
    const loaded = await packagesLoadedByClient(dir, entry);
    expect(loaded.has('@tensorflow/tfjs-core')).toBe(true);
    expect(loaded.has('csv-parse')).toBe(true);
    expect([...loaded].filter((p) => p.startsWith('@nestjs/') || p === 'better-sqlite3' || p === 'express')).toEqual([]);
    const direct = [...loaded].filter((p) => p in rootPackage.dependencies);
    expect(direct.filter((p) => !(p in clientPackage.dependencies))).toEqual([]);
  });

  it('pins every dependency of the client at the root package.json\'s version', () => {
    for (const [name, version] of Object.entries(clientPackage.dependencies)) expect(`${name}@${rootPackage.dependencies[name]}`).toBe(`${name}@${version}`);
    expect(Object.keys(clientPackage.dependencies).filter((p) => p.startsWith('@nestjs/') || p === 'better-sqlite3')).toEqual([]);
  });
});
