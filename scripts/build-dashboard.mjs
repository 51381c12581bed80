// Bundles the dashboard (apps/dashboard: preact, uPlot, socket.io-client) into dist/dashboard/,
// which the coordinator serves at /dashboard. Part of `npm run build`; nothing is fetched at run time.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'apps/dashboard/src');
const out = join(root, 'dist/dashboard');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { dashboard: join(source, 'main.tsx') },
  outdir: out,
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: ['es2020'],
  minify: true,
  sourcemap: false,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'eof',
  logLevel: 'warning',
  absWorkingDir: root,
});
copyFileSync(join(source, 'index.html'), join(out, 'index.html'));
