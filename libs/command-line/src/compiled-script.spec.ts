import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compiledScript } from './compiled-script';

describe('compiledScript', () => {
  const root = mkdtempSync(join(tmpdir(), 'fedkd-compiled-script-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const caller = join(root, 'src');
  const built = join(root, 'dist');
  mkdirSync(caller);
  mkdirSync(built);

  it('takes the script beside the caller first, then the built one, and names both places when neither exists', () => {
    expect(() => compiledScript(caller, 'w.js', built, 'the test worker')).toThrow(
      `the test worker not found at ${join(caller, 'w.js')} or ${join(built, 'w.js')}: run npm run build`,
    );
    writeFileSync(join(built, 'w.js'), '');
    expect(compiledScript(caller, 'w.js', built, 'the test worker')).toBe(join(built, 'w.js'));
    writeFileSync(join(caller, 'w.js'), '');
    expect(compiledScript(caller, 'w.js', built, 'the test worker')).toBe(join(caller, 'w.js'));
  });
});
