// Child process for config.bench.ts: the full Pitcrew server (both listeners, real core) on a temp data dir, with
// a venue, a 9999-number pool and active images, so the benchmark's client does not share its CPU time.
// Prints {"device": url} on its first stdout line; closes gracefully on SIGTERM.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../src/server/build-app.js';
import { loadConfig } from '../src/server/config.js';
import { tinyDiskImage } from '../src/disk-layout/test-support/tiny-disk-image.js';

const { dataDir } = JSON.parse(process.argv[2] ?? '{}') as { dataDir: string };
const config = loadConfig({}, { dataDir, port: 0, devicePort: 0, host: '127.0.0.1', deviceHost: '127.0.0.1', logLevel: 'silent' });
const server = await buildApp(config);
const { core } = server;
core.venues.create({ code: 'CORO', name: 'Bench' });
core.pool.importKartNumbers({ venue_code: 'CORO', numbers: '1-9999' });
for (const product of ['KXP2', 'RXP2'] as const) {
  const file = join(dataDir, `${product}.img`);
  writeFileSync(file, tinyDiskImage(Buffer.alloc((1 << 16) - 512, 1)));
  core.images.activate((await core.images.registerFile({ product_type: product, version: '1.0.0' }, file)).id);
}
const addresses = await server.listen();
process.stdout.write(`${JSON.stringify({ device: addresses.device })}\n`);
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
