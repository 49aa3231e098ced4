// Image delivery v2 end to end: the installer bundle against the real server, which built the image's block map
// and zstd chunks when it was registered. A card that held something else comes out right (its unmapped blocks
// keep their old bytes, and the filesystems do not care), faults on the wire and on the server are caught, a
// server restart mid-deployment costs only the chunks in flight, and images without chunks take the raw path.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInstaller, type InstallerEvent } from '../../src/agent/installer.runner.js';
import { buildDiskImage, readBootFile, readRootFile, type BuiltImage } from '../../src/disk-layout/test-support/disk-image.builder.js';
import { startCutProxy } from '../../src/agent/test-support/tcp-cut.proxy.js';
import {
  apartFromCheckin,
  CHECKIN_ROOT_FILES,
  coroBoardArgs,
  createVenueWithKarts,
  diffDiskWithImage,
  fsckPartitions,
  listDeployments,
  registerActiveImage,
  runAgentBundle,
  useAgentE2e,
  waitFor,
} from '../../src/agent/test-support/agent-e2e.harness.js';

const e2e = useAgentE2e('pitcrew-delivery-e2e-');

beforeEach(async () => {
  await createVenueWithKarts(e2e.server, 'CORO', '1-9');
});

async function imageIn(name: string, scheme: 'mbr' | 'gpt' = 'mbr', rootFiles: Record<string, Buffer> = {}): Promise<BuiltImage> {
  const work = join(e2e.dir, name);
  await mkdir(work, { recursive: true });
  return buildDiskImage(work, { flavour: 'rpi-preseed', scheme, rootFiles });
}

/** A card that held something else: random bytes, a little larger than the image. */
async function usedCard(path: string, image: BuiltImage): Promise<Buffer> {
  const old = randomBytes(image.size + (3 << 20));
  await writeFile(path, old);
  return old;
}

describe('pitcrew-agent with image delivery v2', () => {
  it.each(['mbr', 'gpt'] as const)('deploys onto a card full of old data (%s): filesystems clean, every file as the master, first boot customised', async (scheme) => {
    const { dir, bundle, server: t } = e2e;
    const image = await imageIn(`used-${scheme}`, scheme);
    const registered = await registerActiveImage(t, image.path, 'KXP2', '2025.12.1');
    expect(registered.delivery!.mapped_bytes).toBeLessThan(image.size);
    const disk = join(dir, `used-${scheme}.img`);
    const old = await usedCard(disk, image);

    const agent = await runAgentBundle(bundle, coroBoardArgs(`10000000000d00${scheme === 'mbr' ? '01' : '02'}`, disk, t.deviceUrl));
    expect(agent.code, agent.stderr).toBe(0);
    expect(agent.stdout).toMatch(/image delivery v2: .* mapped of .* in \d+ zstd chunks \((zlib|zstd-cli)\)/);
    expect(agent.stdout).toMatch(/\[completed\] installed 2025\.12\.1 as KXP2-CORO-00\d; image delivery v2 \((zlib|zstd-cli)\); first boot via rpi-preseed; verified \(o_direct\)\n/);

    await fsckPartitions(disk, image, join(dir, `used-${scheme}`));
    const diff = await diffDiskWithImage(disk, image, join(dir, `used-${scheme}`, 'diff'));
    expect(diff.boot).toEqual(['/rpi-preseed.toml']);
    expect(apartFromCheckin(diff.root)).toEqual(['/etc/hostname', '/etc/hosts']);
    expect(diff.root).toEqual(expect.arrayContaining(CHECKIN_ROOT_FILES));
    // Outside the partitions only what follows the last one may keep old bytes: nothing there is read (an MBR
    // disk), or it is mapped (the backup GPT).
    const afterRoot = `${image.root.startByte + image.root.sizeBytes}-${image.size}`;
    expect(diff.outsidePartitions.filter((range) => range !== afterRoot)).toEqual([]);
    if (scheme === 'gpt') expect(diff.outsidePartitions).toEqual([]);
    const hostname = await readRootFile(disk, image.root.startByte, '/etc/hostname');
    expect(hostname).toMatch(/^KXP2-CORO-00\d\n$/);
    expect(await readBootFile(disk, image.boot.startByte, 'rpi-preseed.toml')).toContain(`hostname = "${hostname!.trim()}"`);

    // Unmapped blocks kept their old bytes (nothing was written there), and the card's last MiB is zeroed as in v1.
    const content = await readFile(disk);
    let kept = 0;
    for (let at = image.boot.startByte; at < image.size - 4096; at += 4096) if (content.subarray(at, at + 4096).equals(old.subarray(at, at + 4096))) kept++;
    expect(kept * 4096).toBeGreaterThan((image.size - registered.delivery!.mapped_bytes) / 2);
    expect(content.subarray(content.length - (1 << 20)).every((b) => b === 0)).toBe(true);

    const [deployment] = await listDeployments(t, { search: hostname!.trim() });
    expect(deployment).toMatchObject({ status: 'completed', bytes_total: registered.delivery!.mapped_bytes, bytes_done: registered.delivery!.mapped_bytes, eta_s: null });
  });

  it('retries a chunk whose connection is cut mid-way', async () => {
    const { dir, bundle, server: t } = e2e;
    const image = await imageIn('cut');
    const registered = await registerActiveImage(t, image.path, 'KXP2', '2025.12.2');
    const proxy = await startCutProxy(t.deviceUrl);
    try {
      proxy.cutNextImageDownloadAfter(Math.floor(registered.delivery!.compressed_bytes / registered.delivery!.chunk_count), /\.chunks\/[1-9]\d*$/);
      const disk = join(dir, 'cut.img');
      const agent = await runAgentBundle(bundle, coroBoardArgs('10000000000d0003', disk, proxy.url));
      expect(agent.code, agent.stderr).toBe(0);
      expect(proxy.cuts).toBe(1);
      expect(agent.stderr).toMatch(/chunk \d+ \(image bytes \d+-\d+\): .*; retry 1 in/);
      expect(proxy.requests.filter((r) => r.startsWith('GET /images/') && !r.endsWith('.manifest'))).toHaveLength(registered.delivery!.chunk_count + 1);
      expect(proxy.requests.some((r) => /^GET \/images\/[^/]+\.img$/.test(r))).toBe(false);
      expect((await diffDiskWithImage(disk, image, join(dir, 'cut', 'diff'))).outsidePartitions).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('fails clearly, naming the chunk, when a chunk on the server is corrupt', async () => {
    const { dir, bundle, server: t } = e2e;
    const image = await imageIn('corrupt');
    const registered = await registerActiveImage(t, image.path, 'KXP2', '2025.12.3');
    const chunksFile = t.server.core.imageStore.deliveryPathsOf(registered.filename).chunks;
    const manifest = (await (await fetch(`${t.deviceUrl}/images/${registered.filename}.manifest`)).json()) as { chunks: Array<{ offset: number; compressed_length: number }> };
    // The last byte of the chunk file: inside the last chunk's frame.
    const file = await open(chunksFile, 'r+');
    const { size } = await file.stat();
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, size - 1);
    byte[0]! ^= 0x10;
    await file.write(byte, 0, 1, size - 1);
    await file.close();

    const disk = join(dir, 'corrupt.img');
    const agent = await runAgentBundle(bundle, coroBoardArgs('10000000000d0004', disk, t.deviceUrl));
    const last = manifest.chunks.length - 1;
    expect(agent.code).toBe(1);
    expect(agent.stderr).toMatch(new RegExp(`installation failed while downloading: chunk ${last} \\(image bytes ${manifest.chunks[last]!.offset}-\\d+\\) arrived corrupt 3 times in a row`));
    const [deployment] = await listDeployments(t, { search: '10000000000d0004' });
    expect(deployment).toMatchObject({ status: 'failed' });
    expect(deployment!.error_message).toMatch(new RegExp(`^chunk ${last} .*arrived corrupt`));
    expect((await readFile(disk)).subarray(0, 1 << 20).every((b) => b === 0)).toBe(true);
  });

  it('survives a server restart mid-deployment, losing at most the chunks in flight', async () => {
    const { dir } = e2e;
    let t = e2e.server;
    // Enough data for several chunks, fetched one at a time: the restart falls between two of them.
    const image = await imageIn('restart', 'mbr', { '/usr/share/pitcrew-test/big.bin': randomBytes(10 << 20) });
    const registered = await registerActiveImage(t, image.path, 'KXP2', '2025.12.4');
    const mapped = registered.delivery!.mapped_bytes;
    const devicePort = Number(new URL(t.deviceUrl).port);
    const disk = join(dir, 'restart.img');
    await usedCard(disk, image);
    const written: number[] = [];
    const retries: string[] = [];
    const installing = runInstaller({
      serverUrl: t.deviceUrl,
      target: disk,
      identity: { serial: '10000000000d0005', mac: 'd8:3a:dd:00:d0:05', model: 'Raspberry Pi 5', iface: null },
      productType: 'KXP2',
      venueCode: 'CORO',
      // Room for a slow restart on a busy machine: some 20 s of retries per chunk.
      retryPolicy: { maxRetries: 45, baseDelayMs: 20, maxDelayMs: 500 },
      reportIntervalMs: 50,
      // A slow card: the download takes a few seconds, so the restart lands in its middle.
      cardWriteBytesPerSecond: Math.ceil(mapped / 4),
      chunksInFlight: 1,
      onEvent: (e: InstallerEvent) => {
        if (e.type === 'progress' && e.phase === 'downloading') written.push(e.bytesDone);
        if (e.type === 'retry') retries.push(e.reason);
      },
    });
    await waitFor(() => written.some((n) => n > 0), 20_000, 'the first chunk written');
    const dataDir = t.dataDir;
    await t.server.close();
    // Down until the installer has found it so.
    await waitFor(() => retries.length > 0, 20_000, 'a chunk request refused');
    expect(written.at(-1)!).toBeLessThan(mapped);
    t = await e2e.startServer({ dataDir, devicePort }, { users: false });
    const result = await installing;

    expect(result, result.error ?? '').toMatchObject({ ok: true, delivery: 'chunked', verifyMethod: 'o_direct' });
    expect(result.resumes).toBeGreaterThan(0);
    // A closing server answers 503 on connections already open (they are kept alive between chunks), then refuses.
    expect(retries[0]).toMatch(/ECONNREFUSED|ECONNRESET|socket hang up|HTTP 503/);
    // Progress went on from where it was: nothing already written was fetched again, beyond chunks in flight.
    expect(result.bytes).toBeLessThan(registered.delivery!.compressed_bytes + 2 * (4 << 20));
    expect(written.every((n, i) => i === 0 || n >= written[i - 1]!)).toBe(true);
    await fsckPartitions(disk, image, join(dir, 'restart'));
    const deployment = t.server.core.deployments.get(result.deploymentId!);
    expect(deployment).toMatchObject({ status: 'completed', hostname: result.hostname });
  });

  it('takes the raw path when the server has no chunks for the image', async () => {
    const { dir, bundle, server: t } = e2e;
    const image = await imageIn('raw');
    const registered = await registerActiveImage(t, image.path, 'KXP2', '2025.12.5');
    // As a database from before v2 has it, until the background preparation reaches the image.
    t.server.db.prepare('DELETE FROM image_chunks WHERE image_id = ?').run(registered.id);
    t.server.db.prepare('UPDATE images SET block_map = NULL, mapped_bytes = NULL, compressed_bytes = NULL WHERE id = ?').run(registered.id);
    const disk = join(dir, 'raw.img');
    const agent = await runAgentBundle(bundle, coroBoardArgs('10000000000d0006', disk, t.deviceUrl));
    expect(agent.code, agent.stderr).toBe(0);
    expect(agent.stdout).toMatch(/raw image: [\d.]+ MiB/);
    expect(agent.stdout).not.toMatch(/image delivery v2/);
    const diff = await diffDiskWithImage(disk, image, join(dir, 'raw', 'diff'));
    expect({ ...diff, root: apartFromCheckin(diff.root) }).toEqual({ outsidePartitions: [], boot: ['/rpi-preseed.toml'], root: ['/etc/hostname', '/etc/hosts'] });
    const [deployment] = await listDeployments(t, { search: '10000000000d0006' });
    expect(deployment).toMatchObject({ status: 'completed', bytes_total: image.size });
  });
});
