import { createHash, randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadImage, type DownloadOptions } from './image.downloader.js';
import { startDeviceApiFixture, type DeviceApiFixture } from './test-support/device-api.fixture.js';
import { makeTempDir } from '../disk-layout/test-support/disk-image.builder.js';

const policy = { maxRetries: 3, baseDelayMs: 2, maxDelayMs: 10 };

describe('downloadImage', () => {
  let dir: string;
  let data: Buffer;
  let fixture: DeviceApiFixture;
  let url: string;

  beforeEach(async () => {
    dir = await makeTempDir();
    data = randomBytes(5 * (1 << 20) + 999);
    await writeFile(join(dir, 'image.img'), data);
    fixture = await startDeviceApiFixture(join(dir, 'image.img'));
    url = fixture.config.image_url;
  });
  afterEach(async () => {
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  });

  const download = async (overrides: Partial<DownloadOptions> = {}) => {
    const chunks: Buffer[] = [];
    const result = await downloadImage({ url, expectedSize: data.length, policy, onData: (c) => void chunks.push(Buffer.from(c)), ...overrides });
    return { result, bytes: Buffer.concat(chunks) };
  };

  it('delivers every byte once, in order', async () => {
    const { result, bytes } = await download();
    expect(bytes.equals(data)).toBe(true);
    expect(result).toEqual({ bytes: data.length, resumes: 0, etag: fixture.etag });
    expect(fixture.imageRequests).toEqual([{ range: null, ifRange: null, status: 200 }]);
  });

  it('resumes from the exact byte after several cuts', async () => {
    fixture.cutNextDownloadAfter(1_000_000);
    const chunks: Buffer[] = [];
    const resumed = await downloadImage({
      url,
      expectedSize: data.length,
      policy,
      onData: (c) => void chunks.push(Buffer.from(c)),
      onRetry: () => {
        if (fixture.imageRequests.length < 2) fixture.cutNextDownloadAfter(700_000);
      },
    });
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(resumed.resumes).toBe(2);
    const [first, second, third] = fixture.imageRequests.map((r) => r.range);
    expect(first).toBeNull();
    const from = [second, third].map((range) => Number(/^bytes=(\d+)-$/.exec(range ?? '')?.[1]));
    expect(from[0]).toBeGreaterThan(0);
    expect(from[1]).toBeGreaterThan(from[0]!);
    expect(fixture.imageRequests.slice(1).every((r) => r.status === 206 && r.ifRange === fixture.etag)).toBe(true);
  });

  it('drops already-received bytes when the server ignores Range', async () => {
    fixture.ignoreRange = true;
    fixture.cutNextDownloadAfter(2_000_000);
    const { result, bytes } = await download();
    expect(bytes.equals(data)).toBe(true);
    expect(result.resumes).toBe(1);
    expect(fixture.imageRequests.map((r) => r.status)).toEqual([200, 200]);
  });

  it('stops when the image changes on the server between two requests', async () => {
    fixture.cutNextDownloadAfter(2_000_000);
    const pending = download({ onRetry: () => void (fixture.etag = '"another-image"') });
    await expect(pending).rejects.toMatchObject({ code: 'IMAGE_CHANGED', message: expect.stringMatching(/changed on the server/) });
  });

  it('refuses an image whose size differs from the configuration', async () => {
    await expect(download({ expectedSize: data.length + 1 })).rejects.toMatchObject({ code: 'BAD_RESPONSE', message: expect.stringMatching(/offers \d+ bytes/) });
  });

  it('fails permanently on 404 without retrying', async () => {
    await expect(download({ url: `${fixture.url}/images/missing.img` })).rejects.toMatchObject({ code: 'HTTP', status: 404, transient: false });
    expect(fixture.imageRequests).toHaveLength(0);
  });

  it('gives up after the allowed retries when the server is gone, naming the byte it reached', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const retries: number[] = [];
    await expect(download({ url: `http://127.0.0.1:${port}/images/image.img`, onRetry: (n) => retries.push(n.attempt) })).rejects.toMatchObject({
      code: 'NETWORK',
      message: expect.stringMatching(/after 3 retries at byte 0/),
    });
    expect(retries).toEqual([1, 2, 3]);
  });

  it('stops when aborted', async () => {
    const controller = new AbortController();
    const pending = download({
      signal: controller.signal,
      onData: () => controller.abort(new Error('operator stop')),
    });
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('waits for a slow consumer instead of buffering the image', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const hash = createHash('sha256');
    await downloadImage({
      url,
      expectedSize: data.length,
      policy,
      onData: async (chunk) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        hash.update(chunk);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
      },
    });
    expect(maxInFlight).toBe(1);
    expect(hash.digest('hex')).toBe(fixture.config.image_checksum);
  });

  it('honours a bandwidth cap and still delivers everything', async () => {
    const { bytes } = await download({ maxBytesPerSecond: 64 << 20 });
    expect(bytes.equals(data)).toBe(true);
  });
});
