import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDiskId } from '../../agent/block-devices.reader.js';
import { netbootPaths } from '../../netboot/netboot.service.js';
import { prepareSampleTftpTree } from '../../netboot/test-support/sample-tftp-tree.js';
import { startTestServer, waitFor, type HttpClient, type TestServer } from '../test-support/test-server.js';
import { MAX_STICKS_AT_ONCE } from './netboot.route.js';

const run = promisify(execFile);

let t: TestServer;
let work: string;
beforeAll(async () => {
  t = await startTestServer();
  work = await mkdtemp(join(tmpdir(), 'pitcrew-stick-route-'));
});
afterAll(async () => {
  await t.close();
  await rm(work, { recursive: true, force: true });
});

/** Downloads the stick as a browser would (the session cookie), keeping the bytes. */
async function download(client: HttpClient, query = ''): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
  const response = await fetch(`${client.baseUrl}/api/netboot/usb-image${query}`, { headers: client.cookie ? { cookie: client.cookie } : {} });
  return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
}

async function stickCmdline(bytes: Buffer, name: string): Promise<string> {
  const file = join(work, name);
  await writeFile(file, bytes);
  const { stdout } = await run('mtype', ['-i', `${file}@@1048576`, '::/cmdline.txt'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  return stdout.trim();
}

describe('the installer stick download', () => {
  it('is refused with a clear reason until the network boot folder is prepared', async () => {
    const answer = await t.as.operator.get('/api/netboot/usb-image');
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ success: false, code: 'CONFLICT', error: expect.stringMatching(/is not prepared: run `pitcrew netboot build` and `pitcrew netboot prepare/) });
    expect((await t.as.viewer.get('/api/system/status')).body.usb_stick).toEqual({ available: false, server_url: null });
  });

  it('needs an operator: viewers and strangers get nothing', async () => {
    expect((await t.anonymous.get('/api/netboot/usb-image')).status).toBe(401);
    expect((await t.as.viewer.get('/api/netboot/usb-image')).status).toBe(403);
  });

  it('sends the stick image naming the server asked for, or the folder\'s, and leaves no file behind', async () => {
    await prepareSampleTftpTree(work, { outDir: netbootPaths(t.dataDir).tftpRoot, extraCmdline: ['pitcrew.venue=CORO'] });
    const status = (await t.as.viewer.get('/api/system/status')).body;
    expect(status.usb_stick).toEqual({ available: true, server_url: 'http://10.42.0.1:5001' });
    expect(status.device_port).toBe(Number(new URL(t.deviceUrl).port));

    const asked = await download(t.as.operator, `?server_url=${encodeURIComponent('http://192.168.1.10:5001')}`);
    expect(asked.status).toBe(200);
    expect(asked.headers.get('content-type')).toBe('application/octet-stream');
    expect(asked.headers.get('content-disposition')).toBe('attachment; filename="pitcrew-installer-usb.img"');
    expect(Number(asked.headers.get('content-length'))).toBe(asked.bytes.length);
    const diskId = asked.headers.get('x-pitcrew-disk-id');
    await writeFile(join(work, 'asked.img'), asked.bytes);
    expect(await readDiskId(join(work, 'asked.img'))).toBe(diskId);
    expect(await stickCmdline(asked.bytes, 'asked.img')).toBe(`console=serial0,115200 console=tty1 loglevel=4 pitcrew.server=http://192.168.1.10:5001 pitcrew.venue=CORO pitcrew.stick=${diskId}`);

    const folders = await download(t.as.operator);
    expect(await stickCmdline(folders.bytes, 'folders.img')).toMatch(/pitcrew\.server=http:\/\/10\.42\.0\.1:5001 pitcrew\.venue=CORO pitcrew\.stick=[0-9a-f]{8}$/);
    expect(await readdir(join(netbootPaths(t.dataDir).root, 'usb-images'))).toEqual([]);
  });

  it('answers a bad server URL with 400 and what is wrong', async () => {
    for (const [url, message] of [['https://x.example', /must start with http:\/\//], ['nonsense', /is not a URL/], ['http://a b', /is not a URL|spaces/], ['http://10.0.0.1:5001/"', /may hold only/]] as const) {
      const answer = await t.as.operator.get(`/api/netboot/usb-image?server_url=${encodeURIComponent(url)}`);
      expect(answer.status, url).toBe(400);
      expect(answer.body).toMatchObject({ code: 'VALIDATION', error: expect.stringMatching(message) });
    }
    expect((await t.as.operator.get(`/api/netboot/usb-image?server_url=${'x'.repeat(300)}`)).status).toBe(400);
    expect(await readdir(join(netbootPaths(t.dataDir).root, 'usb-images'))).toEqual([]);
  });

  it('builds two sticks at once, each whole and with its own identifier', async () => {
    const [a, b] = await Promise.all([download(t.as.operator), download(t.as.admin)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.headers.get('x-pitcrew-disk-id')).not.toBe(b.headers.get('x-pitcrew-disk-id'));
    expect(await stickCmdline(a.bytes, 'a.img')).toContain(`pitcrew.stick=${a.headers.get('x-pitcrew-disk-id')}`);
    expect(await stickCmdline(b.bytes, 'b.img')).toContain(`pitcrew.stick=${b.headers.get('x-pitcrew-disk-id')}`);
    expect(await readdir(join(netbootPaths(t.dataDir).root, 'usb-images'))).toEqual([]);
  });
});

describe('stick images at once', () => {
  it(`builds at most ${MAX_STICKS_AT_ONCE} at a time, counting each until its download ends, and refuses more with a 503 and when to retry`, async () => {
    const headers = { cookie: t.as.operator.cookie! };
    const url = `${t.as.operator.baseUrl}/api/netboot/usb-image`;
    // Downloads whose bodies are not read yet: their builds are done, their responses still open.
    const open = await Promise.all(Array.from({ length: MAX_STICKS_AT_ONCE }, () => fetch(url, { headers })));
    expect(open.map((response) => response.status)).toEqual(open.map(() => 200));

    // A HEAD would build a whole image for its headers: there is none.
    expect((await fetch(url, { headers, method: 'HEAD' })).status).toBe(404);
    const refused = await fetch(url, { headers });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(await refused.json()).toMatchObject({ success: false, code: 'UNAVAILABLE', error: expect.stringContaining('being built or downloaded already') });

    // One download read to its end frees its place.
    await open[0]!.arrayBuffer();
    const next = await waitFor(async () => {
      const response = await fetch(url, { headers });
      if (response.status === 200) return response;
      await response.body?.cancel();
      return false;
    }, 10_000, 'a place for another stick');
    expect(await stickCmdline(Buffer.from(await next.arrayBuffer()), 'after.img')).toContain(`pitcrew.stick=${next.headers.get('x-pitcrew-disk-id')}`);
    for (const response of open.slice(1)) await response.body?.cancel();
    await waitFor(async () => (await readdir(join(netbootPaths(t.dataDir).root, 'usb-images'))).length === 0, 10_000, 'the build folders to be removed');
  });
});

describe('a stick download abandoned while the image is being built', () => {
  it('stops the build and leaves nothing behind; the next download is whole', async () => {
    // A bigger installer, so the build is caught under way.
    const big = join(work, 'big');
    await mkdir(big);
    await prepareSampleTftpTree(big, { outDir: netbootPaths(t.dataDir).tftpRoot, initramfs: randomBytes(24 * 1024 * 1024) });
    const scratchRoot = join(netbootPaths(t.dataDir).root, 'usb-images');
    const leaving = new AbortController();
    const abandoned = fetch(`${t.as.operator.baseUrl}/api/netboot/usb-image`, { headers: { cookie: t.as.operator.cookie! }, signal: leaving.signal }).catch((error: unknown) => error);
    await waitFor(async () => {
      for (const build of await readdir(scratchRoot).catch(() => [])) {
        if ((await readdir(join(scratchRoot, build)).catch(() => [])).some((name) => name.includes('partial'))) return true;
      }
      return false;
    }, 10_000, 'the build to start');
    leaving.abort();
    expect(await abandoned).toMatchObject({ name: 'AbortError' });
    await waitFor(async () => (await readdir(scratchRoot)).length === 0, 10_000, 'the build folder to be removed');

    const next = await download(t.as.operator);
    expect(next.status).toBe(200);
    expect(await stickCmdline(next.bytes, 'next.img')).toContain(`pitcrew.stick=${next.headers.get('x-pitcrew-disk-id')}`);
  });
});

describe('a stick build cut short by a crash', () => {
  it('leaves nothing behind once the server starts again', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pitcrew-stick-leftover-'));
    const leftover = join(netbootPaths(dataDir).root, 'usb-images', 'build-abc123');
    await mkdir(leftover, { recursive: true });
    await writeFile(join(leftover, 'pitcrew-installer-usb.img'), Buffer.alloc(4096));
    const restarted = await startTestServer({ dataDir });
    try {
      expect(await readdir(netbootPaths(dataDir).root)).not.toContain('usb-images');
    } finally {
      await restarted.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
