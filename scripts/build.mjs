// Builds everything `npm start` and the `pitcrew` command run: the server and CLI (tsc), the web app (Vite)
// and the one-file installer bundle (esbuild). Run by `npm install` through the `prepare` script.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

rmSync(join(root, 'dist'), { recursive: true, force: true });
run(bin('tsc'), ['-p', 'tsconfig.build.json']);
// Migrations are plain SQL files read at start-up.
cpSync(join(root, 'src/db/migrations'), join(root, 'dist/db/migrations'), { recursive: true });
if (existsSync(join(root, 'web/index.html'))) {
  run(bin('vite'), ['build', '--config', 'web/vite.config.ts', '--logLevel', 'warn']);
  // Served as they are to browsers that accept them (web-ui.route.ts); built by the tsc step above.
  const { precompressWebAssets } = await import(pathToFileURL(join(root, 'dist/server/management/web-assets.precompressor.js')).href);
  precompressWebAssets(join(root, 'dist/web'));
}
if (existsSync(join(root, 'src/agent/main.ts'))) {
  mkdirSync(join(root, 'dist/agent'), { recursive: true });
  run(bin('esbuild'), ['src/agent/main.ts', '--bundle', '--platform=node', '--target=node20', '--format=esm',
    '--outfile=dist/agent/pitcrew-agent.mjs', '--log-level=warning',
    '--banner:js=#!/usr/bin/env node\nimport { createRequire as __pitcrewRequire } from "node:module"; const require = __pitcrewRequire(import.meta.url);']);
}
for (const extra of readdirSync(join(root, 'src'), { recursive: true }).filter((f) => String(f).endsWith('.sh'))) {
  cpSync(join(root, 'src', String(extra)), join(root, 'dist', String(extra)));
}
