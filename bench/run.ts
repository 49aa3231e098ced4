// `npm run bench [name…]`: runs every bench/*.bench.ts (or those whose file name contains a given word), one
// after another so they do not compete for the two cores, each printing its own figures.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((word) => f.includes(word)))
  .sort();

if (files.length === 0) {
  console.error(`No benchmark matches ${filters.join(', ')}.`);
  process.exit(1);
}
for (const file of files) {
  console.log(`\n=== ${file.replace('.bench.ts', '')} ===`);
  const started = performance.now();
  const module = (await import(pathToFileURL(`${dir}${file}`).href)) as { default: () => Promise<void> };
  await module.default();
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
