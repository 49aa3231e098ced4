#!/usr/bin/env node
// Runs the compiled CLI; `npm install` builds it (the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(entry)) {
  console.error('pitcrew: not built yet — run `npm install` (or `npm run build`) in the Pitcrew folder first.');
  process.exit(1);
}
await import(entry);
