// GET|HEAD /images/{filename} over real HTTP: whole files, every kind of Range, validators, resumption, names that
// try to leave the store, and shutdown with downloads in flight.
import { createHash, randomBytes } from 'node:crypto';
import { unlink, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { MasterImage } from '../../contracts/domain.js';
import type { Core } from '../../core/index.js';
import { startTestServer, waitFor, type TestServer } from '../test-support/test-server.js';
import { tinyDiskImage } from '../../disk-layout/test-support/tiny-disk-image.js';
import { jsonOf, rawRequest } from './test-support/image-http.js';

interface Fixture {
  t: TestServer;
  /** The device listener's base URL. */
  url: string;
  core: Core;
  image: MasterImage;
  content: Buffer;
  path: string;
  activeDownloads(): number;
  bytesServed(): number;
}

/**
 * The real server with one registered disk image of about `size` bytes, one partition of random bytes (default: 3 MiB
 * and a bit, so ranges cross chunks).
 */
async function withImage(run: (fixture: Fixture) => Promise<void>, size = 3 * (1 << 20) + 12_800, overrides: Parameters<typeof startTestServer>[0] = {}) {
  const t = await startTestServer(overrides, { users: false });
  try {
    const content = tinyDiskImage(randomBytes(size - 512));
    const core = t.server.core;
    const image = await core.images.upload({ product_type: 'KXP2', version: '2.1.0' }, 'master.img', Readable.from([content]));
    const bytesServed = () => Number(/^pitcrew_image_bytes_served_total (\d+)/m.exec(t.server.metrics.render([]))?.[1] ?? NaN);
    await run({ t, url: t.deviceUrl, core, image, content, path: `/images/${image.filename}`, activeDownloads: () => t.server.deps.activeDownloads(), bytesServed });
  } finally {
    await t.close();
  }
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('image download', () => {
  it('serves the whole file with its length, SHA-256 ETag, Last-Modified and Accept-Ranges', () =>
    withImage(async ({ url, image, content, path, bytesServed }) => {
      const answer = await rawRequest(url, 'GET', path);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-length']).toBe(String(content.length));
      expect(answer.headers.etag).toBe(`"${image.sha256}"`);
      expect(answer.headers['accept-ranges']).toBe('bytes');
      expect(answer.headers['content-type']).toBe('application/octet-stream');
      expect(Date.parse(answer.headers['last-modified']!)).toBeGreaterThan(0);
      expect(answer.body.equals(content)).toBe(true);
      expect(sha256(answer.body)).toBe(image.sha256);
      expect(bytesServed()).toBe(content.length);
    }));

  it('answers HEAD with the same headers and no body', () =>
    withImage(async ({ url, image, content, path }) => {
      const answer = await rawRequest(url, 'HEAD', path);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-length']).toBe(String(content.length));
      expect(answer.headers.etag).toBe(`"${image.sha256}"`);
      expect(answer.headers['accept-ranges']).toBe('bytes');
      expect(answer.body.length).toBe(0);
      const ranged = await rawRequest(url, 'HEAD', path, { range: 'bytes=10-19' });
      expect(ranged.status).toBe(206);
      expect(ranged.headers['content-range']).toBe(`bytes 10-19/${content.length}`);
      expect(ranged.headers['content-length']).toBe('10');
      expect(ranged.body.length).toBe(0);
    }));

  it('serves single ranges at the start, middle, end, as suffix and open-ended, clamping past the end', () =>
    withImage(async ({ url, content, path }) => {
      const size = content.length;
      const mib = 1 << 20;
      const cases: Array<[string, number, number]> = [
        ['bytes=0-99', 0, 99],
        ['bytes=0-0', 0, 0],
        [`bytes=${mib - 10}-${mib + 10}`, mib - 10, mib + 10], // across a read-chunk boundary
        [`bytes=${size - 100}-${size - 1}`, size - 100, size - 1],
        ['bytes=-500', size - 500, size - 1],
        [`bytes=-${size + 1000}`, 0, size - 1],
        [`bytes=${2 * mib + 1}-`, 2 * mib + 1, size - 1],
        [`bytes=${size - 5}-${size + 5000}`, size - 5, size - 1],
        [`bytes = ${mib}-${mib + 1}`, mib, mib + 1],
      ];
      for (const [range, start, end] of cases) {
        const answer = await rawRequest(url, 'GET', path, { range });
        expect(answer.status, range).toBe(206);
        expect(answer.headers['content-range'], range).toBe(`bytes ${start}-${end}/${size}`);
        expect(answer.headers['content-length'], range).toBe(String(end - start + 1));
        expect(answer.body.equals(content.subarray(start, end + 1)), range).toBe(true);
      }
    }));

  it('answers 416 with Content-Range bytes */size for ranges that cannot be satisfied', () =>
    withImage(async ({ url, content, path }) => {
      for (const range of [`bytes=${content.length}-`, `bytes=${content.length + 10}-${content.length + 20}`, 'bytes=-0']) {
        const answer = await rawRequest(url, 'GET', path, { range });
        expect(answer.status, range).toBe(416);
        expect(answer.headers['content-range'], range).toBe(`bytes */${content.length}`);
        expect(jsonOf(answer), range).toMatchObject({ success: false, code: 'RANGE_NOT_SATISFIABLE' });
        expect(String(jsonOf(answer).error)).toContain('outside');
      }
    }));

  it('ignores malformed, multiple and foreign-unit ranges and sends the whole file', () =>
    withImage(async ({ url, content, path }) => {
      for (const range of ['bytes=abc', 'bytes=10-5', 'bytes=0-1,5-6', 'items=0-5', 'bytes=', 'bytes=1e3-']) {
        const answer = await rawRequest(url, 'GET', path, { range });
        expect(answer.status, range).toBe(200);
        expect(answer.body.equals(content), range).toBe(true);
      }
    }));

  it('honours If-Range only when the validator still names this exact file', () =>
    withImage(async ({ url, image, content, path }) => {
      const head = await rawRequest(url, 'HEAD', path);
      const lastModified = head.headers['last-modified']!;
      const ranged = (ifRange: string) => rawRequest(url, 'GET', path, { range: 'bytes=100-199', 'if-range': ifRange });

      const sameTag = await ranged(`"${image.sha256}"`);
      expect(sameTag.status).toBe(206);
      expect(sameTag.body.equals(content.subarray(100, 200))).toBe(true);
      expect((await ranged(lastModified)).status).toBe(206);

      for (const stale of [`"${'0'.repeat(64)}"`, `W/"${image.sha256}"`, new Date(Date.parse(lastModified) - 60_000).toUTCString(), 'not a date']) {
        const answer = await ranged(stale);
        expect(answer.status, stale).toBe(200);
        expect(answer.body.equals(content), stale).toBe(true);
      }
    }));

  it('answers 304 to If-None-Match with the current ETag', () =>
    withImage(async ({ url, image, path }) => {
      const answer = await rawRequest(url, 'GET', path, { 'if-none-match': `"${image.sha256}"` });
      expect(answer.status).toBe(304);
      expect(answer.body.length).toBe(0);
      expect((await rawRequest(url, 'GET', path, { 'if-none-match': '"other"' })).status).toBe(200);
    }));

  it('resumes a download cut half-way with Range and reassembles the exact file', () =>
    withImage(async ({ url, image, content, path, activeDownloads }) => {
      // First attempt: read about half, then drop the connection like a device losing its link.
      const firstPart = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let received = 0;
        const request = httpRequest(`${url}${path}`, { agent: false }, (response) => {
          response.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            received += chunk.length;
            if (received >= content.length / 2) {
              request.destroy();
              resolve(Buffer.concat(chunks));
            }
          });
        });
        request.on('error', (error) => (received >= content.length / 2 ? undefined : reject(error)));
        request.end();
      });
      expect(firstPart.length).toBeGreaterThan(0);
      expect(firstPart.length).toBeLessThan(content.length);
      await waitFor(() => activeDownloads() === 0, 5000, 'the cut download to end on the server');

      const rest = await rawRequest(url, 'GET', path, { range: `bytes=${firstPart.length}-`, 'if-range': `"${image.sha256}"` });
      expect(rest.status).toBe(206);
      expect(rest.headers['content-range']).toBe(`bytes ${firstPart.length}-${content.length - 1}/${content.length}`);
      const whole = Buffer.concat([firstPart, rest.body]);
      expect(whole.length).toBe(content.length);
      expect(sha256(whole)).toBe(image.sha256);
    }));

  it('serves 16 concurrent ranged readers correctly', () =>
    withImage(async ({ url, content, path, activeDownloads }) => {
      const slice = Math.ceil(content.length / 16);
      const answers = await Promise.all(
        Array.from({ length: 16 }, (_, i) => rawRequest(url, 'GET', path, { range: `bytes=${i * slice}-${Math.min(content.length, (i + 1) * slice) - 1}` })),
      );
      expect(answers.every((answer) => answer.status === 206)).toBe(true);
      expect(Buffer.concat(answers.map((answer) => answer.body)).equals(content)).toBe(true);
      expect(activeDownloads()).toBe(0);
    }));

  it('serves only registered images: traversal, encoded slashes, dotfiles and unfinished uploads are all 404', () =>
    withImage(async ({ url, core, image }) => {
      const store = core.imageStore.root;
      await writeFile(join(store, '.incoming-0123456789abcdef'), 'half an upload');
      await writeFile(join(store, '.hidden'), 'not an image');
      await writeFile(join(store, 'stray.img'), 'on disk but never registered');
      const attempts = [
        '/images/..%2F..%2F..%2Fetc%2Fpasswd',
        '/images/..%2fpitcrew.db',
        '/images/%2e%2e%2fpitcrew.db',
        '/images/%2E%2E/pitcrew.db',
        '/images/../pitcrew.db',
        '/images/..',
        '/images/.incoming-0123456789abcdef',
        '/images/.hidden',
        '/images/stray.img',
        `/images/images%2F${image.filename}`,
        `/images/.%2F${image.filename}`,
        `/images/%5C..%5Cpitcrew.db`,
        '/images/pitcrew.db%00.img',
        '/images/',
        `/images/${'a'.repeat(300)}`,
        '/images/nonexistent.img',
      ];
      for (const path of attempts) {
        const answer = await rawRequest(url, 'GET', path);
        expect([400, 404], path).toContain(answer.status);
        expect(jsonOf(answer), path).toMatchObject({ success: false });
        expect(answer.body.toString(), path).not.toContain('half an upload');
        expect(answer.body.toString(), path).not.toContain('root:');
      }
    }));

  it('answers 404 with a clear message when a registered file has gone missing from the store', () =>
    withImage(async ({ url, core, image, path }) => {
      await unlink(join(core.imageStore.root, image.filename));
      const answer = await rawRequest(url, 'GET', path);
      expect(answer.status).toBe(404);
      expect(String(jsonOf(answer).error)).toContain('missing from the image store');
    }));

  it('lets a download in flight finish when the server closes within the grace period', () =>
    withImage(async ({ t, url, image, path, activeDownloads }) => {
      const slow = startSlowDownload(`${url}${path}`);
      await waitFor(() => activeDownloads() === 1 && slow.response(), 5000, 'the download to start');
      const closing = t.close();
      slow.response()!.resume();
      const outcome = await slow.ended;
      await closing;
      expect(outcome.how).toBe('complete');
      expect(sha256(outcome.body)).toBe(image.sha256);
    }, 64 << 20));

  it('cuts downloads still running when the grace period ends, so shutdown completes', () =>
    withImage(async ({ t, url, path, activeDownloads }) => {
      const slow = startSlowDownload(`${url}${path}`);
      await waitFor(() => activeDownloads() === 1 && slow.response(), 5000, 'the download to start');
      await t.close(); // grace of 1 s; the client reads nothing meanwhile
      expect(activeDownloads()).toBe(0);
      // The client now reads what reached it and finds the body cut short, as a resuming installer expects.
      slow.response()!.resume();
      const outcome = await slow.ended;
      expect(outcome.how).toBe('cut');
      expect(outcome.body.length).toBeLessThan(outcome.expected);
    }, 64 << 20, { shutdownGraceSeconds: 1 }));
});

/** A GET whose client does not read until told to (a slow device): the transfer stays in flight on the server. */
function startSlowDownload(url: string) {
  let paused: IncomingMessage | undefined;
  const ended = new Promise<{ how: 'complete' | 'cut'; body: Buffer; expected: number }>((resolve) => {
    const chunks: Buffer[] = [];
    let expected = 0;
    const finish = (how: 'complete' | 'cut') => {
      const body = Buffer.concat(chunks);
      resolve({ how: how === 'complete' && body.length === expected ? 'complete' : 'cut', body, expected });
    };
    const request = httpRequest(url, { agent: false }, (response) => {
      expected = Number(response.headers['content-length']);
      response.pause();
      paused = response;
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => finish('complete'));
      response.on('aborted', () => finish('cut'));
      response.on('error', () => finish('cut'));
    });
    request.on('error', () => finish('cut'));
    request.end();
  });
  return { ended, response: () => paused };
}
