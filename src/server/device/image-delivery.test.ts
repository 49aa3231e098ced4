// Image delivery v2 over real HTTP: the manifest in the config answer, chunks that decompress to exactly the raw
// image's mapped bytes, the bmaptool file checked by the real bmaptool, the image's sizes on the management API,
// images from before v2 prepared in the background, and every bad path a 404.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDiskImage, makeTempDir, type BuiltImage } from '../../disk-layout/test-support/disk-image.builder.js';
import type { ConfigResponse } from '../../contracts/device-api.js';
import type { MasterImage } from '../../contracts/domain.js';
import type { ImageManifest } from '../../contracts/image-delivery.js';
import { startTestServer, type TestServer } from '../test-support/test-server.js';
import { jsonOf, rawRequest } from './test-support/image-http.js';
import { unzstd } from '../../core/test-support/zstd-frames.js';

const run = promisify(execFile);

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('image delivery v2', () => {
  let dir: string;
  let built: BuiltImage;
  let t: TestServer;
  let image: MasterImage;

  beforeAll(async () => {
    dir = await makeTempDir('pitcrew-delivery-test-');
    built = await buildDiskImage(dir, { flavour: 'firstrun' });
    t = await startTestServer({}, { users: true });
    t.server.core.venues.create({ code: 'DLVR', name: 'Delivery' });
    t.server.core.pool.importKartNumbers({ venue_code: 'DLVR', numbers: '1-5' });
    image = await t.server.core.images.registerFile({ product_type: 'KXP2', version: '1.0.0' }, built.path);
    t.server.core.images.activate(image.id);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await run('rm', ['-rf', dir]);
  });

  const config = async (serial: string): Promise<ConfigResponse> => {
    const answer = await rawRequest(t.deviceUrl, 'POST', '/api/config', { 'content-type': 'application/json' },
      Buffer.from(JSON.stringify({ product_type: 'KXP2', venue_code: 'DLVR', serial_number: serial })));
    expect(answer.status).toBe(200);
    return jsonOf<ConfigResponse>(answer);
  };

  it('records the image with its block map, sizes and ratios, on the management API too', async () => {
    const answer = await t.as.viewer.get(`/api/images/${image.id}`);
    expect(answer.status).toBe(200);
    const { delivery } = answer.body.image as MasterImage;
    expect(delivery).not.toBeNull();
    expect(delivery!.chunk_count).toBeGreaterThan(0);
    expect(delivery!.mapped_bytes).toBeGreaterThan(0);
    expect(delivery!.mapped_bytes).toBeLessThanOrEqual(built.size);
    expect(delivery!.compressed_bytes).toBeLessThan(delivery!.mapped_bytes);
    expect(delivery!.mapped_ratio).toBeCloseTo(delivery!.mapped_bytes / built.size, 2);
    expect(delivery!.wire_ratio).toBeCloseTo(built.size / delivery!.compressed_bytes, 1);
    expect((await t.as.viewer.get('/api/images/999999')).status).toBe(404);
  });

  it('advertises the manifest in the config answer, and every chunk decompresses to the raw bytes at its offset', async () => {
    const answer = await config('D1');
    expect(answer.image_manifest_url).toBe(`${answer.image_url}.manifest`);
    const manifestAnswer = await rawRequest(t.deviceUrl, 'GET', new URL(answer.image_manifest_url!).pathname);
    expect(manifestAnswer.status).toBe(200);
    const manifest = jsonOf<ImageManifest>(manifestAnswer);
    expect(manifest).toMatchObject({ image_sha256: built.sha256, image_size: built.size, compression: 'zstd', chunk_url: `${answer.image_url}.chunks` });

    const raw = await readFile(built.path);
    let previousEnd = -1;
    let compressed = 0;
    for (const [index, chunk] of manifest.chunks.entries()) {
      expect(chunk.offset).toBeGreaterThan(previousEnd - 1); // disk order, no overlap
      previousEnd = chunk.offset + chunk.raw_length;
      const got = await rawRequest(t.deviceUrl, 'GET', `${new URL(manifest.chunk_url).pathname}/${index}`);
      expect(got.status).toBe(200);
      expect(got.headers['content-type']).toBe('application/zstd');
      expect(got.headers.etag).toBe(`"${chunk.sha256}"`);
      expect(got.body.length).toBe(chunk.compressed_length);
      const data = unzstd(got.body);
      expect(data.length).toBe(chunk.raw_length);
      expect(sha256(data)).toBe(chunk.sha256);
      expect(data.equals(raw.subarray(chunk.offset, chunk.offset + chunk.raw_length))).toBe(true);
      compressed += chunk.compressed_length;
    }
    expect(manifest.compressed_bytes).toBe(compressed);
    expect(manifest.chunks[0]!.offset).toBe(0); // the partition table is always mapped
  });

  it('answers 404 for chunks, manifests and maps that do not exist', async () => {
    const { image_url } = await config('D2');
    const base = new URL(image_url).pathname;
    for (const path of [`${base}.chunks/${image.delivery!.chunk_count}`, `${base}.chunks/99999999`, '/images/nothing.img.manifest', '/images/nothing.img.chunks/0', '/images/nothing.img.bmap', `${base}.chunks/x`, `${base}.chunks/-1`]) {
      const answer = await rawRequest(t.deviceUrl, 'GET', path);
      expect(answer.status, path).toBe(404);
    }
  });

  it('serves a bmap that the real bmaptool uses to deploy from the raw URL, checking every range', async () => {
    const { image_url } = await config('D3');
    const target = join(dir, 'bmaptool-target.img');
    // A card that held something else: unmapped blocks keep their old bytes.
    await writeFile(target, randomBytes(built.size));
    const bmap = join(dir, 'image.bmap');
    const got = await rawRequest(t.deviceUrl, 'GET', `${new URL(image_url).pathname}.bmap`);
    expect(got.status).toBe(200);
    await writeFile(bmap, got.body);
    const { stderr } = await run('bmaptool', ['copy', '--bmap', bmap, image_url, target], { maxBuffer: 16 << 20 });
    expect(stderr).toMatch(/synchronizing|copying time/i);
    // Every mapped range on the target equals the master, as bmaptool's own checksums already said.
    const manifest = jsonOf<ImageManifest>(await rawRequest(t.deviceUrl, 'GET', `${new URL(image_url).pathname}.manifest`));
    const written = await open(target, 'r');
    try {
      for (const chunk of manifest.chunks) {
        const data = Buffer.alloc(chunk.raw_length);
        await written.read(data, 0, chunk.raw_length, chunk.offset);
        expect(sha256(data)).toBe(chunk.sha256);
      }
    } finally {
      await written.close();
    }
  }, 60_000);

  it('refuses a bmap whose own checksum does not match (bmaptool checks the file we publish)', async () => {
    const { image_url } = await config('D4');
    const got = await rawRequest(t.deviceUrl, 'GET', `${new URL(image_url).pathname}.bmap`);
    const tampered = join(dir, 'tampered.bmap');
    await writeFile(tampered, got.body.toString('utf8').replace(/<ImageSize> (\d+) <\/ImageSize>/, (_, n: string) => `<ImageSize> ${Number(n) - 512} </ImageSize>`));
    await expect(run('bmaptool', ['copy', '--bmap', tampered, image_url, join(dir, 'never.img')])).rejects.toThrow(/checksum/i);
  }, 30_000);
});

/** A server of its own and a generated Pi-OS-shaped image, both removed after the test. */
async function withImageServer(test: (t: TestServer, built: BuiltImage) => Promise<void>): Promise<void> {
  const dir = await makeTempDir('pitcrew-delivery-own-');
  const t = await startTestServer({}, { users: false });
  try {
    await test(t, await buildDiskImage(dir, { flavour: 'none' }));
  } finally {
    await t.close();
    await run('rm', ['-rf', dir]);
  }
}

/** Makes a registered image look as a database from before v2 has it: no block map, no chunks, no chunk files. */
async function forgetDelivery(t: TestServer, image: MasterImage): Promise<void> {
  t.server.db.prepare('DELETE FROM image_chunks WHERE image_id = ?').run(image.id);
  t.server.db.prepare('UPDATE images SET block_map = NULL, mapped_bytes = NULL, compressed_bytes = NULL WHERE id = ?').run(image.id);
  const files = t.server.core.imageStore.deliveryPathsOf(image.filename);
  await Promise.all([rm(files.chunks), rm(files.bmap)]);
}

describe('images registered before delivery v2', () => {
  it('get their chunks in the background after start-up; meanwhile devices are sent the raw path', () =>
    withImageServer(async (t, built) => {
      const image = await t.server.core.images.registerFile({ product_type: 'KXP2', version: '0.9.0' }, built.path);
      await forgetDelivery(t, image);
      t.server.core.images.activate(image.id);
      t.server.core.venues.create({ code: 'OLDI', name: 'Old image' });
      t.server.core.pool.importKartNumbers({ venue_code: 'OLDI', numbers: '1-2' });
      expect(t.server.core.images.get(image.id).delivery).toBeNull();
      expect((await rawRequest(t.deviceUrl, 'GET', `/images/${image.filename}.manifest`)).status).toBe(404);
      const before = jsonOf<ConfigResponse>(await rawRequest(t.deviceUrl, 'POST', '/api/config', { 'content-type': 'application/json' },
        Buffer.from(JSON.stringify({ product_type: 'KXP2', venue_code: 'OLDI', serial_number: 'A1' }))));
      expect(before.image_manifest_url).toBeNull();

      expect(await t.server.core.images.prepareMissingDeliveries((_, error) => { throw error; })).toBe(1);
      const prepared = t.server.core.images.get(image.id);
      expect(prepared.delivery?.chunk_count).toBeGreaterThan(0);
      const after = jsonOf<ConfigResponse>(await rawRequest(t.deviceUrl, 'POST', '/api/config', { 'content-type': 'application/json' },
        Buffer.from(JSON.stringify({ product_type: 'KXP2', venue_code: 'OLDI', serial_number: 'A2' }))));
      expect(after.image_manifest_url).toBe(`${after.image_url}.manifest`);
      expect(await t.server.core.images.prepareMissingDeliveries(() => {})).toBe(0);
    }), 60_000);

  it('delete stops a background preparation of that image, which then touches nothing of an image registered under its name', () =>
    withImageServer(async (t, built) => {
      const image = await t.server.core.images.registerFile({ product_type: 'KXP2', version: '0.8.0' }, built.path);
      await forgetDelivery(t, image);
      const failures: unknown[] = [];
      const preparing = t.server.core.images.prepareMissingDeliveries((_, error) => failures.push(error));
      await t.server.core.images.delete(image.id);
      // The same version again, under the same file name: nothing of the stopped preparation may touch it.
      const again = await t.server.core.images.registerFile({ product_type: 'KXP2', version: '0.8.0' }, built.path);
      expect(again.filename).toBe(image.filename);
      expect(await preparing).toBe(0);
      expect(failures).toEqual([]);
      expect(readdirSync(t.server.core.imageStore.root).sort()).toEqual([again.filename, `${again.filename}.bmap`, `${again.filename}.chunks`]);
      expect((await rawRequest(t.deviceUrl, 'GET', `/images/${again.filename}.chunks/0`)).status).toBe(200);
    }), 60_000);

  it('delete removes the delivery files with the raw file', () =>
    withImageServer(async (t, built) => {
      const image = await t.server.core.images.registerFile({ product_type: 'RXP2', version: '3.0.0' }, built.path);
      const files = t.server.core.imageStore.deliveryPathsOf(image.filename);
      expect((await readFile(files.chunks)).length).toBeGreaterThan(0);
      await t.server.core.images.delete(image.id);
      await expect(readFile(files.chunks)).rejects.toThrow(/ENOENT/);
      await expect(readFile(files.bmap)).rejects.toThrow(/ENOENT/);
    }), 60_000);
});
