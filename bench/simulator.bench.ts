// Fleet benchmark: `pitcrew simulate`'s engine against the full server (its own process, so the two do not
// share a CPU), 20 devices imaging a 512 MiB image at once through hashing sinks — fleet makespan and aggregate
// throughput, against one device alone — then a few devices with file-backed disks, the whole pipeline
// (write, O_DIRECT read-back, first-boot customisation).
// PITCREW_BENCH_SIM_DEVICES (default 20), PITCREW_BENCH_SIM_IMAGE_MIB (512), PITCREW_BENCH_SIM_DISK_DEVICES (4, 0 skips).
// Run as `node --import tsx bench/simulator.bench.ts --serve '{"dataDir":…,"image":…}'` this file is that server.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runFleet, type FleetSummary } from '../src/agent/fleet.simulator.js';
import { buildDiskImage } from '../src/disk-layout/test-support/disk-image.builder.js';
import { envNumber, row, tempDir, writeRandomFile } from './support.js';

const MIB = 1 << 20;

async function serve(): Promise<void> {
  const { dataDir, image } = JSON.parse(process.argv[process.argv.indexOf('--serve') + 1]!) as { dataDir: string; image: string };
  const { buildApp } = await import('../src/server/build-app.js');
  const { loadConfig } = await import('../src/server/config.js');
  const server = await buildApp(loadConfig({}, { dataDir, port: 0, devicePort: 0, host: '127.0.0.1', deviceHost: '127.0.0.1', logLevel: 'silent' }));
  server.core.venues.create({ code: 'BNCH', name: 'Benchmark' });
  server.core.pool.importKartNumbers({ venue_code: 'BNCH', numbers: '1-9999' });
  server.core.images.activate((await server.core.images.registerFile({ product_type: 'KXP2', version: '1.0.0' }, image)).id);
  const { device } = await server.listen();
  process.stdout.write(`${JSON.stringify({ device })}\n`);
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}

async function startServerProcess(dataDir: string, image: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', JSON.stringify({ dataDir, image })], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  return {
    url: (JSON.parse(line) as { device: string }).device,
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

const mibPerSecond = (bytesPerSecond: number) => `${(bytesPerSecond / MIB).toFixed(0)} MiB/s`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function printFleet(label: string, summary: FleetSummary, single?: FleetSummary): void {
  if (summary.completed !== summary.devices) throw new Error(`${label}: only ${summary.completed} of ${summary.devices} devices completed: ${summary.failures[0]?.error}`);
  row(`${label}: fleet makespan`, seconds(summary.makespanMs));
  row(`${label}: aggregate throughput`, mibPerSecond(summary.aggregateBytesPerSecond), single ? `${(summary.aggregateBytesPerSecond / single.aggregateBytesPerSecond).toFixed(2)}× one device alone` : undefined);
  row(`${label}: per device p50 / p95`, `${seconds(summary.durationsMs.p50)} / ${seconds(summary.durationsMs.p95)}`);
}

export default async function benchSimulator(): Promise<void> {
  const devices = envNumber('PITCREW_BENCH_SIM_DEVICES', 20);
  const mib = envNumber('PITCREW_BENCH_SIM_IMAGE_MIB', 512);
  const diskDevices = Number(process.env.PITCREW_BENCH_SIM_DISK_DEVICES ?? 4);
  const temp = tempDir('simulator');
  try {
    const image = join(temp.dir, 'bench.img');
    await writeRandomFile(image, mib);
    const server = await startServerProcess(join(temp.dir, 'data'), image);
    console.log(`  ${mib} MiB image; server in its own process; devices in this one, hashing as they receive`);
    try {
      const fleet = (n: number, seed: string, diskDir: string | null = null) =>
        runFleet({ devices: n, serverUrl: server.url, productType: 'KXP2', venueCode: 'BNCH', diskDir, seed, reportIntervalMs: 1000 });
      const one = await fleet(1, 'bench-one');
      printFleet('1 device, sink', one.summary);
      const many = await fleet(devices, 'bench-fleet');
      printFleet(`${devices} devices, sinks`, many.summary, one.summary);
    } finally {
      await server.stop();
    }

    if (diskDevices > 0) {
      // The whole pipeline needs a partitioned image to customise: a small real one, at the same fleet pressure.
      const partitioned = await buildDiskImage(temp.dir, { flavour: 'cloud-init' });
      const diskServer = await startServerProcess(join(temp.dir, 'data-disks'), partitioned.path);
      try {
        const { summary } = await runFleet({ devices: diskDevices, serverUrl: diskServer.url, productType: 'KXP2', venueCode: 'BNCH', diskDir: join(temp.dir, 'disks'), seed: 'bench-disks' });
        console.log(`  ${(partitioned.size / MIB).toFixed(0)} MiB partitioned image onto file-backed disks: write, O_DIRECT read-back, customisation`);
        printFleet(`${diskDevices} devices, disks`, summary);
      } finally {
        await diskServer.stop();
      }
    }
  } finally {
    temp.remove();
  }
}

if (process.argv.includes('--serve')) await serve();
