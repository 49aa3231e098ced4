// Image delivery v2 end to end against the device-API double: manifest, chunks, faults on the wire and on the disk.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { zlibHasZstd } from './chunk.decompressor.js';
import { runInstaller, type InstallerEvent, type InstallerOptions } from './installer.runner.js';
import { buildDiskImage, makeTempDir, readRootFile, sha256File, type BuiltImage } from '../disk-layout/test-support/disk-image.builder.js';
import { startDeviceApiFixture, type DeviceApiFixture } from './test-support/device-api.fixture.js';
import { startCutProxy } from './test-support/tcp-cut.proxy.js';
import { attachLoopDevice, canUseLoopDevices, detachLoopDevice } from './test-support/loop-device.js';

const FAST_RETRY = { maxRetries: 4, baseDelayMs: 5, maxDelayMs: 20 };
const identity = { serial: '10000000abcdef02', mac: 'dc:a6:32:00:00:02', model: 'Raspberry Pi 5 Model B Rev 1.0', iface: 'eth0' };

describe('runInstaller with image delivery v2', () => {
  let dir: string;
  let image: BuiltImage;
  let fixture: DeviceApiFixture;
  let disk: string;

  beforeEach(async () => {
    dir = await makeTempDir();
    image = await buildDiskImage(dir, { flavour: 'rpi-preseed' });
    fixture = await startDeviceApiFixture(image.path, {}, { chunks: true });
    disk = join(dir, 'disk.img');
  });
  afterEach(async () => {
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  });

  const install = (overrides: Partial<InstallerOptions> = {}) =>
    runInstaller({ serverUrl: fixture.url, target: disk, identity, productType: 'KXP2', retryPolicy: FAST_RETRY, reportIntervalMs: 20, ...overrides });
  const phases = () => fixture.reports.map((r) => r.status).filter((s, i, all) => s !== all[i - 1]);
  const manifest = () => fixture.manifest!;
  const largestChunk = () => manifest().chunks.reduce((best, c, i, all) => (c.compressed_length > all[best]!.compressed_length ? i : best), 0);

  it('fetches only the mapped chunks, writes them at their offsets, verifies and customises', async () => {
    // Several chunks past the held-back MiB, onto a card that takes about two seconds for them all, so the rate and
    // the time left are measured and reported on the way.
    await fixture.close();
    image = await buildDiskImage(dir, { flavour: 'rpi-preseed', fileName: 'bigger.img', rootFiles: { '/usr/share/pitcrew-test/big.bin': randomBytes(9 << 20) } });
    fixture = await startDeviceApiFixture(image.path, {}, { chunks: true });
    expect(manifest().chunks.length).toBeGreaterThanOrEqual(4);
    const events: InstallerEvent[] = [];
    const result = await install({ onEvent: (e) => events.push(e), cardWriteBytesPerSecond: Math.ceil(manifest().mapped_bytes / 2) });

    expect(result).toMatchObject({ ok: true, delivery: 'chunked', decompressMethod: zlibHasZstd() ? 'zlib' : 'zstd-cli', verifyMethod: 'o_direct', chunksRefetched: 0 });
    expect(manifest().mapped_bytes).toBeLessThan(image.size);
    expect(fixture.imageRequests).toEqual([]);
    expect(fixture.chunkRequests.map((r) => r.index).sort((a, b) => a - b)).toEqual([...manifest().chunks.keys()]);
    expect(result.bytes).toBe(manifest().compressed_bytes);
    expect(events).toContainEqual(expect.objectContaining({ type: 'delivery', delivery: 'chunked' }));
    expect(phases()).toEqual(['assigned', 'downloading', 'verifying', 'customizing', 'completed']);
    // Progress counts mapped bytes, with a time left once the rate is known.
    const downloading = fixture.reports.filter((r) => r.status === 'downloading');
    expect(downloading.every((r) => r.bytes_total === manifest().mapped_bytes)).toBe(true);
    const verified = events.filter((e) => e.type === 'progress' && e.phase === 'verifying').at(-1);
    expect(verified).toMatchObject({ bytesDone: manifest().mapped_bytes, bytesTotal: manifest().mapped_bytes });
    expect(fixture.reports.some((r) => typeof r.eta_s === 'number')).toBe(true);
    expect(fixture.reports.at(-1)).toMatchObject({ status: 'completed', progress: 100 });
    expect(fixture.reports.at(-1)!.message).toMatch(/image delivery v2/);
    expect(await readRootFile(disk, image.root.startByte, '/etc/hostname')).toBe('KXP2-TEST-001\n');
    expect(await sha256File(disk, 0, image.boot.startByte)).toBe(await sha256File(image.path, 0, image.boot.startByte));
  });

  it('leaves a fresh disk byte-identical to the image when not customising', async () => {
    const result = await install({ customize: false, chunksInFlight: 1 });
    expect(result.ok).toBe(true);
    expect(await sha256File(disk)).toBe(image.sha256);
  });

  it('keeps the unmapped bytes of a disk that held something else, and never shows a partition table before the end', async () => {
    const old = randomBytes(image.size + (2 << 20));
    await writeFile(disk, old);
    const seen: string[] = [];
    const result = await install({
      customize: false,
      sendReport: async (url, report) => {
        const sector = (await readFile(disk)).subarray(0, 512);
        if (sector.readUInt16LE(510) === 0xaa55) seen.push(report.status);
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(report) });
        if (!res.ok) throw new Error(`status ${res.status}`);
      },
    });
    expect(result.ok).toBe(true);
    expect(seen).toEqual(['completed']);
    const content = await readFile(disk);
    const source = await readFile(image.path);
    const mapped = Buffer.alloc(image.size);
    for (const chunk of manifest().chunks) mapped.fill(1, chunk.offset, chunk.offset + chunk.raw_length);
    let unmappedKept = 0;
    for (let i = 0; i < image.size; i += 4096) {
      if (mapped[i]) expect(content.subarray(i, i + 4096).equals(source.subarray(i, i + 4096))).toBe(true);
      else if (content.subarray(i, i + 4096).equals(old.subarray(i, i + 4096))) unmappedKept++;
    }
    expect(unmappedKept).toBeGreaterThan(0);
    // The last MiB is zeroed as in v1: no stale backup GPT of the old content survives.
    expect(content.subarray(content.length - (1 << 20)).every((b) => b === 0)).toBe(true);
  });

  it('fetches a chunk corrupted on the wire again', async () => {
    const index = manifest().chunks.length - 1;
    fixture.corruptChunkOnWire(index);
    const retries: InstallerEvent[] = [];
    const result = await install({ onEvent: (e) => e.type === 'retry' && retries.push(e) });
    expect(result).toMatchObject({ ok: true, chunksRefetched: 1 });
    expect(fixture.chunkRequests.filter((r) => r.index === index)).toHaveLength(2);
    expect(retries).toContainEqual(expect.objectContaining({ what: expect.stringContaining(`chunk ${index} `), reason: expect.stringMatching(/arrived corrupt/) }));
  });

  it('fails clearly, naming the chunk and its offset, when a chunk keeps arriving corrupt', async () => {
    const index = 1;
    fixture.corruptChunkOnWire(index, 100);
    const result = await install();
    const chunk = manifest().chunks[index]!;
    expect(result).toMatchObject({ ok: false, exitCode: 1, errorCode: 'CHECKSUM_MISMATCH', failedPhase: 'downloading' });
    expect(result.error).toContain(`chunk ${index} (image bytes ${chunk.offset}-${chunk.offset + chunk.raw_length}) arrived corrupt 3 times in a row`);
    expect(fixture.reports.at(-1)).toMatchObject({ status: 'failed', error_message: result.error });
    expect((await readFile(disk)).subarray(0, 512).every((b) => b === 0)).toBe(true);
  });

  it('catches a chunk that reads back wrong from the disk and writes it once more', async () => {
    const chunk = manifest().chunks.find((c) => c.offset >= image.root.startByte)!;
    const warnings: string[] = [];
    const result = await install({
      customize: false,
      faults: { corruptWriteAt: chunk.offset + 100, corruptWriteOnce: true },
      onEvent: (e) => e.type === 'warning' && warnings.push(e.message),
    });
    expect(result).toMatchObject({ ok: true, chunksRefetched: 1 });
    expect(warnings).toContainEqual(expect.stringMatching(new RegExp(`1 chunk\\(s\\) read back wrong, the first at offset ${chunk.offset}`)));
    expect(await sha256File(disk, chunk.offset, chunk.offset + chunk.raw_length)).toBe(chunk.sha256);
  });

  it('fails verification clearly when the card keeps returning the wrong bytes', async () => {
    const chunk = manifest().chunks.find((c) => c.offset >= image.root.startByte)!;
    const result = await install({ faults: { corruptWriteAt: chunk.offset + 100 } });
    expect(result).toMatchObject({ ok: false, errorCode: 'VERIFY_MISMATCH', failedPhase: 'verifying' });
    expect(result.error).toMatch(new RegExp(`^the card failed verification at offset ${chunk.offset} \\(chunk \\d+`));
    expect(fixture.reports.at(-1)).toMatchObject({ status: 'failed' });
    expect((await readFile(disk)).subarray(0, 512).every((b) => b === 0)).toBe(true);
  });

  it('retries a chunk whose connection is cut mid-way', async () => {
    const proxy = await startCutProxy(fixture.url);
    try {
      const biggest = largestChunk();
      proxy.cutNextImageDownloadAfter(manifest().chunks[biggest]!.compressed_length / 2, new RegExp(`^GET /images/.*\\.chunks/${biggest}$`));
      const result = await install({ serverUrl: proxy.url });
      expect(result).toMatchObject({ ok: true, delivery: 'chunked' });
      expect(proxy.cuts).toBe(1);
      expect(result.resumes).toBe(1);
      expect(proxy.requests.filter((r) => /\.chunks\//.test(r)).length).toBe(manifest().chunks.length + 1);
    } finally {
      await proxy.close();
    }
  });

  it('retries a chunk that stalls, and one cut by the installer itself', async () => {
    fixture.stallChunkAfter(largestChunk(), 1000);
    const result = await install({ stallTimeoutMs: 300, faults: { cutDownloadAfterBytes: Math.floor(manifest().compressed_bytes / 2) } });
    expect(result).toMatchObject({ ok: true });
    expect(result.resumes).toBe(2);
    expect(fixture.chunkRequests).toHaveLength(manifest().chunks.length + 2);
  });

  it('refuses a manifest that describes another image, before touching the disk', async () => {
    fixture.manifest = { ...manifest(), image_sha256: 'f'.repeat(64) };
    const result = await install();
    expect(result).toMatchObject({ ok: false, errorCode: 'BAD_RESPONSE', failedPhase: 'assigned' });
    expect(result.error).toMatch(/the image manifest describes another image \(sha256 f{64}/);
    expect(fixture.reports.at(-1)).toMatchObject({ status: 'failed' });
    expect(fixture.chunkRequests).toEqual([]);
    expect(existsSync(disk)).toBe(false);
  });

  it('refuses a malformed manifest', async () => {
    fixture.manifest = { ...manifest(), chunks: [manifest().chunks[1]!, manifest().chunks[0]!] };
    const result = await install();
    expect(result).toMatchObject({ ok: false, errorCode: 'BAD_RESPONSE' });
    expect(result.error).toMatch(/chunk 1 .* overlaps or precedes chunk 0/);
  });

  it('downloads the raw image when the advertised manifest is gone, or when asked to', async () => {
    const chunks = fixture.manifest;
    fixture.manifest = null;
    const warnings: string[] = [];
    const fallback = await install({ onEvent: (e) => e.type === 'warning' && warnings.push(e.message) });
    expect(fallback).toMatchObject({ ok: true, delivery: 'raw' });
    expect(warnings).toContainEqual(expect.stringMatching(/no manifest .*HTTP 404/));
    fixture.manifest = chunks;
    const raw = await install({ rawOnly: true });
    expect(raw).toMatchObject({ ok: true, delivery: 'raw' });
    expect(fixture.manifestRequests).toBe(1);
    expect(fixture.imageRequests).toHaveLength(2);
  });

  it('caps the rate of writes to the target (a simulated card)', async () => {
    const rate = Math.ceil(manifest().mapped_bytes / 0.6);
    const started = performance.now();
    const result = await install({ target: 'sink', cardWriteBytesPerSecond: rate });
    expect(result).toMatchObject({ ok: true, delivery: 'chunked', verifyMethod: 'stream' });
    expect(performance.now() - started).toBeGreaterThan(500);
  });

  // A real block device (a loop device over a file): a file target grows to the image, a card cannot. Root only;
  // without it (a developer's laptop) skipped, CI runs as root and must run it.
  it.skipIf(!canUseLoopDevices() && !process.env.CI)('refuses a target smaller than the mapped extent before writing anything', async () => {
    const small = join(dir, 'small.img');
    const old = randomBytes(image.size - (4 << 20));
    await writeFile(small, old);
    const loop = await attachLoopDevice(small);
    try {
      const result = await install({ target: loop });
      expect(result).toMatchObject({ ok: false, errorCode: 'TARGET', failedPhase: 'assigned' });
      expect(result.error).toMatch(new RegExp(`the target ${loop} holds ${old.length} bytes but the image needs ${image.size}`));
      expect(fixture.reports.at(-1)).toMatchObject({ status: 'failed', error_message: result.error });
      expect(fixture.chunkRequests).toEqual([]);
    } finally {
      await detachLoopDevice(loop);
    }
    expect((await readFile(small)).equals(old)).toBe(true);
    expect((await stat(small)).size).toBe(old.length);
  });
});
