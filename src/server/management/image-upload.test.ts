// POST /api/images/upload over real HTTP: multi-GB streaming with flat server memory, interrupted uploads that
// leave nothing, size limits, bad and late fields, duplicate versions refused before any byte is stored, file
// names that try to leave the store, and a full disk.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../core/index.js';
import { buildCompressedImages, childProcessesNamed, COMPRESSED, SUFFIX, type CompressedImages } from '../../core/test-support/compressed-images.js';
import { generatedFile, memoryOf, minorFaultsOf, resetPeakMemory, uploadForm, type FormField, type FormFile, type UploadAnswer, type UploadOptions } from '../device/test-support/image-http.js';
import { spawnServer } from '../device/test-support/image-server.js';
import { startTestServer, waitFor, type TestServer } from '../test-support/test-server.js';
import { tinyDiskImage, writeOnePartitionMbr } from '../../disk-layout/test-support/tiny-disk-image.js';

const MIB = 1 << 20;

/**
 * What receiving 1 GiB may cost the server, by Node line. By design the upload holds the disk ring (24 MiB) and one
 * compression window per core; the rest is socket and frame buffers waiting for the garbage collector, and glibc's
 * heap faulted in again where it was handed back. Node 20 and 22 measure about +87 MiB and 16,000–24,000 faults;
 * Node 24's V8 collects those buffers later and glibc gives more back: about +130–145 MiB and 82,000–85,000 faults
 * (126,000 without the raised malloc thresholds, malloc-thresholds.ts). Memory that grew with the upload would be
 * ten times either bound.
 */
const UPLOAD_COST = Number(process.versions.node.split('.')[0]) >= 24
  ? { growthMib: 170, faultsPerGib: 105_000 }
  : { growthMib: 100, faultsPerGib: (1 << 30) / (16 << 10) };

interface Fixture {
  t: TestServer;
  core: Core;
  dataDir: string;
  /** Uploads as an operator (or as `options.headers` say). */
  upload(parts: Array<FormField | FormFile>, options?: UploadOptions): Promise<UploadAnswer>;
  storeFiles(): string[];
}

/** The real server (both listeners, accounts, access hooks) on ephemeral ports and a temp data dir. */
/** A registered image's files in the store: the raw disk, its chunks and its bmap. */
const filesOf = (filename: string) => [filename, `${filename}.bmap`, `${filename}.chunks`];

async function withServer(run: (fixture: Fixture) => Promise<void>, overrides: Parameters<typeof startTestServer>[0] = {}) {
  const t = await startTestServer(overrides);
  try {
    const cookie = t.as.operator.cookie!;
    await run({
      t,
      core: t.server.core,
      dataDir: t.dataDir,
      upload: (parts, options = {}) => uploadForm(t.managementUrl, parts, { ...options, headers: { cookie, ...options.headers } }),
      storeFiles: () => readdirSync(t.server.core.imageStore.root).sort(),
    });
  } finally {
    await t.close();
  }
}

const fields = (product = 'KXP2', version = '2.1.0', description?: string): FormField[] => [
  { name: 'product_type', value: product },
  { name: 'version', value: version },
  ...(description !== undefined ? [{ name: 'description', value: description }] : []),
];

const fileOf = (mib: number, tail = 0, filename = 'master.img', seed = 1) => {
  const generated = generatedFile(mib, tail, seed);
  const part: FormFile = { name: 'image', filename, size: generated.size, chunks: generated.chunks() };
  return { generated, part };
};

/** A file on disk as the form's image part, streamed from the disk as it is sent. */
const diskFile = (path: string, filename: string): FormFile => ({ name: 'image', filename, size: statSync(path).size, chunks: createReadStream(path, { highWaterMark: MIB }) });

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: MIB }), hash);
  return hash.digest('hex');
}

describe('image upload', () => {
  it('streams a generated 1 GiB image with flat server memory, hashing it exactly as the client did', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'pitcrew-upload-big-'));
    const server = await spawnServer({ dataDir }).catch(async (error: unknown) => {
      await rm(dataDir, { recursive: true, force: true });
      throw error;
    });
    try {
      const pid = server.child.pid!;
      // Warm the routes up so lazily loaded code is not counted as upload memory.
      const warm = fileOf(1, 0, 'warm.img', 9);
      expect((await uploadForm(server.managementUrl, [...fields('RXP2', '0.0.1'), warm.part], { headers: { cookie: server.cookie } })).status).toBe(200);

      const peakWasReset = resetPeakMemory(pid);
      const before = memoryOf(pid).current;
      const faultsBefore = minorFaultsOf(pid);
      let sampledPeak = before;
      const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, memoryOf(pid).current)), 25);
      const { generated, part } = fileOf(1024, 4321, 'raspios-kxp2.img');
      let answer;
      try {
        answer = await uploadForm(server.managementUrl, [...fields('KXP2', '3.0.0', 'one gibibyte and a bit'), part], { headers: { cookie: server.cookie } });
      } finally {
        clearInterval(sampler);
      }
      const peak = Math.max(sampledPeak, peakWasReset ? memoryOf(pid).peak : 0);
      const growthMib = (peak - before) / MIB;
      const faults = minorFaultsOf(pid) - faultsBefore;

      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      const body = answer.body as { success: boolean; checksum: string; filename: string; image: { size_bytes: number; sha256: string; version: string } };
      expect(body.success).toBe(true);
      expect(body.checksum).toBe(generated.sha256());
      expect(body.image).toMatchObject({ size_bytes: generated.size, sha256: generated.sha256(), version: '3.0.0' });
      expect(body.filename).toBe('kxp2_v3.0.0_raspios-kxp2.img');
      // What is on disk is what was sent.
      const stored = join(dataDir, 'images', body.filename);
      expect(await sha256OfFile(stored)).toBe(generated.sha256());
      expect(readdirSync(join(dataDir, 'images')).filter((name) => name.startsWith('.'))).toEqual([]);
      console.log(`1 GiB upload: server RSS ${(before / MIB).toFixed(0)} MiB before, peak ${(peak / MIB).toFixed(0)} MiB (+${growthMib.toFixed(1)} MiB), ${faults} page faults`);
      expect(growthMib, `server RSS grew by ${growthMib.toFixed(1)} MiB`).toBeLessThan(UPLOAD_COST.growthMib);
      // The memory the request buffers come and go in stays mapped (malloc-thresholds.ts): about 16,000 faults here
      // on Node 20 and 22, where handing it back to the kernel after every garbage collection cost about 116,000.
      expect(faults, 'page faults while receiving 1 GiB').toBeLessThan((generated.size / (1 << 30)) * UPLOAD_COST.faultsPerGib);
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);

  it('lets operators and admins upload; viewers get 403 and anonymous clients 401 before any byte is stored', () =>
    withServer(async ({ t, core, upload, storeFiles }) => {
      const anonymous = await upload([...fields('KXP2', '1.0'), fileOf(64).part], { headers: { cookie: '' } });
      expect(anonymous.status).toBe(401);
      const viewer = await upload([...fields('KXP2', '1.0'), fileOf(64).part], { headers: { cookie: t.as.viewer.cookie! } });
      expect(viewer.status).toBe(403);
      expect(viewer.body).toMatchObject({ success: false, code: 'FORBIDDEN' });
      expect(storeFiles()).toEqual([]);
      expect(core.images.list()).toEqual([]);

      const admin = await upload([...fields('KXP2', '1.0'), fileOf(1).part], { headers: { cookie: t.as.admin.cookie! } });
      expect(admin.status).toBe(200);
      const operator = await upload([...fields('KXP2', '1.1', 'operator build'), fileOf(1, 0, 'master.img', 2).part]);
      expect(operator.status).toBe(200);
      expect(core.images.list().map((image) => [image.version, image.description])).toEqual(expect.arrayContaining([['1.0', null], ['1.1', 'operator build']]));
      // Each upload is audited as whoever streamed it, though the entry is written after seconds of streaming.
      const uploads = core.accounts.listAudit(1, 50).items.filter((entry) => entry.action === 'image.upload');
      expect(uploads.map((entry) => [entry.actor, entry.target])).toEqual([['operator', 'KXP2 1.1'], ['admin', 'KXP2 1.0']]);
    }));

  it('leaves no file and no record when the client disappears half-way, and the version stays free', () =>
    withServer(async ({ core, upload, storeFiles }) => {
      const { part } = fileOf(64);
      const cut = await upload([...fields(), part], { abortAfterBytes: 32 * MIB });
      expect(cut.status).toBe(0);
      expect(cut.bytesSent).toBeLessThan(cut.totalBytes);
      // An empty store alone proves nothing: the server may not have opened the file yet, or not yet let go of it.
      await waitFor(() => core.images.uploadsInProgress() === 0 && storeFiles().length === 0, 10_000, 'the server to drop the partial upload');
      expect(core.images.list()).toEqual([]);

      // Nothing of the interrupted attempt blocks a retry of the same version.
      const retry = fileOf(2, 10);
      const answer = await upload([...fields(), retry.part]);
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ checksum: retry.generated.sha256() });
      expect(storeFiles()).toEqual(filesOf('kxp2_v2.1.0_master.img'));
    }));

  it('refuses an image over the size limit with 413, whether the length is declared or not, storing nothing', () =>
    withServer(async ({ core, upload, storeFiles }) => {
      const declared = await upload([...fields(), fileOf(8).part]);
      expect(declared.status).toBe(413);
      expect(declared.body).toMatchObject({ success: false, code: 'PAYLOAD_TOO_LARGE' });
      expect(String(declared.body!.error)).toContain('4.0 MiB');
      expect(declared.bytesSent).toBeLessThan(declared.totalBytes);

      const chunked = await upload([...fields(), fileOf(8).part], { chunked: true });
      expect(chunked.status).toBe(413);
      expect(chunked.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });

      await waitFor(() => storeFiles().length === 0, 5000, 'the refused upload to be removed');
      expect(core.images.list()).toEqual([]);
      // Exactly at the limit is fine.
      const atLimit = fileOf(4);
      expect((await upload([...fields(), atLimit.part])).status).toBe(200);
    }, { maxImageBytes: 4 * MIB }));

  it('refuses missing, unknown, repeated, late and malformed fields with a 400 that says what to fix', () =>
    withServer(async ({ t, core, upload, storeFiles }) => {
      const cases: Array<[string, Array<FormField | FormFile>, string]> = [
        ['no version', [{ name: 'product_type', value: 'KXP2' }, fileOf(1).part], 'version'],
        ['no product', [{ name: 'version', value: '1.0' }, fileOf(1).part], 'product_type'],
        ['file before fields', [fileOf(1).part, ...fields()], 'before the image file'],
        ['no file', fields(), 'No image file'],
        ['unknown product', [...fields('ZZZ9'), fileOf(1).part], 'KXP2 or RXP2'],
        ['bad version', [...fields('KXP2', '1.0/../../x'), fileOf(1).part], 'Version'],
        ['traversal version', [...fields('KXP2', '../../etc'), fileOf(1).part], 'Version'],
        ['unknown field', [...fields(), { name: 'path', value: '/etc' }, fileOf(1).part], 'Unknown field'],
        ['repeated field', [...fields(), { name: 'version', value: '9' }, fileOf(1).part], 'twice'],
        ['field after the file', [{ name: 'product_type', value: 'KXP2' }, { name: 'version', value: '1.0' }, fileOf(1).part, { name: 'description', value: 'late' }], 'came after'],
        ['two files', [...fields(), fileOf(1).part, { ...fileOf(1).part, filename: 'second.img' }], 'one image'],
        ['wrong file field', [...fields(), { ...fileOf(1).part, name: 'file' }], 'Unexpected file field'],
        ['empty file', [...fields(), fileOf(0).part], 'is empty'],
        ['description too long', [...fields('KXP2', '1.0', 'x'.repeat(2001)), fileOf(1).part], 'description'],
      ];
      for (const [label, parts, words] of cases) {
        const answer = await upload(parts);
        expect(answer.status, label).toBe(400);
        expect(answer.body, label).toMatchObject({ success: false, code: 'VALIDATION' });
        expect(String(answer.body!.error), label).toContain(words);
      }
      await waitFor(() => storeFiles().length === 0, 5000, 'refused uploads to leave nothing');
      expect(core.images.list()).toEqual([]);

      const notMultipart = await t.as.operator.post('/api/images/upload', {});
      expect(notMultipart.status).toBe(400);
      expect(String(notMultipart.body.error)).toContain('multipart/form-data');
    }));

  it('refuses a duplicate version with 409 as soon as the file starts, before its bytes are stored', () =>
    withServer(async ({ core, upload, storeFiles }) => {
      expect((await upload([...fields('KXP2', '5.0'), fileOf(1).part])).status).toBe(200);
      const before = storeFiles();
      // A big declared file: the answer must come long before the client could have sent it.
      const answer = await upload([...fields('KXP2', '5.0'), fileOf(512).part]);
      expect(answer.status).toBe(409);
      expect(answer.body).toMatchObject({ success: false, code: 'CONFLICT' });
      expect(String(answer.body!.error)).toContain('5.0 already exists');
      expect(answer.bytesSent).toBeLessThan(answer.totalBytes / 4);
      expect(storeFiles()).toEqual(before);
      expect(core.images.list()).toHaveLength(1);
    }));

  it('lets exactly one of two concurrent uploads of the same version through', () =>
    withServer(async ({ core, upload, storeFiles }) => {
      const [first, second] = await Promise.all([
        upload([...fields('RXP2', '7.1'), fileOf(24, 0, 'a.img', 1).part]),
        upload([...fields('RXP2', '7.1'), fileOf(24, 0, 'b.img', 2).part]),
      ]);
      expect([first.status, second.status].sort()).toEqual([200, 409]);
      const images = core.images.list();
      expect(images).toHaveLength(1);
      await waitFor(() => storeFiles().length === 3, 5000, 'the refused upload to leave nothing');
      expect(storeFiles()).toEqual(filesOf(images[0]!.filename));
    }));

  it('keeps every uploaded name inside the store, stripped of paths and odd characters', () =>
    withServer(async ({ core, dataDir, upload, storeFiles }) => {
      const before = readdirSync(dataDir).sort();
      const parentBefore = new Set(readdirSync(join(dataDir, '..')));
      const names = ['../../../evil.img', '..\\..\\windows.img', '/etc/passwd', '.hidden.img', 'a/b/../c.img', 'spaced name (1).img', '.incoming-deadbeef', '...img'];
      for (const [index, filename] of names.entries()) {
        const answer = await upload([...fields('KXP2', `9.${index}`), { ...fileOf(1, 1, 'x', index).part, filename }]);
        expect(answer.status, filename).toBe(200);
        const stored = String((answer.body as { filename: string }).filename);
        expect(stored, filename).toMatch(/^kxp2_v9\.\d+_[A-Za-z0-9][A-Za-z0-9._-]*$/);
        expect(existsSync(join(core.imageStore.root, stored)), filename).toBe(true);
      }
      // Nothing appeared beside the store, in the data folder or around it.
      expect(readdirSync(dataDir).sort()).toEqual(before);
      expect(readdirSync(join(dataDir, '..')).filter((name) => !parentBefore.has(name) && /evil|windows|passwd|hidden|incoming/.test(name))).toEqual([]);
      expect(storeFiles().filter((name) => name.startsWith('.'))).toEqual([]);
      expect(core.images.list()).toHaveLength(names.length);
      // A name that is only a path step is no name at all, as a browser's empty file input.
      for (const filename of ['..', '.', '']) {
        const answer = await upload([...fields('KXP2', '10.0'), { ...fileOf(1).part, filename }]);
        expect(answer.status, filename).toBe(400);
        expect(String(answer.body!.error), filename).toContain('No file selected');
      }
    }));

  it('answers 507 when the disk fills up, removing the partial file so the space is usable again', async (context) => {
    const canMount = process.getuid?.() === 0 && spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status === 0;
    if (!canMount) {
      context.skip('needs root and unshare to give the server a small private tmpfs');
      return;
    }
    const dataDir = await mkdtemp(join(tmpdir(), 'pitcrew-upload-full-'));
    // The server runs in its own mount namespace with a 24 MiB tmpfs as its data folder; nothing else sees it.
    const wrapper = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o size=24m tmpfs "${dataDir}" && exec "$@"`, 'sh'];
    const server = await spawnServer({ dataDir }, wrapper).catch(async (error: unknown) => {
      await rm(dataDir, { recursive: true, force: true });
      throw error;
    });
    const post = (parts: Array<FormField | FormFile>, options: UploadOptions = {}) => uploadForm(server.managementUrl, parts, { ...options, headers: { cookie: server.cookie } });
    try {
      // A declared size that cannot fit is refused before the file is sent.
      const declared = await post([...fields(), fileOf(40).part]);
      expect(declared.status).toBe(507);
      expect(declared.body).toMatchObject({ success: false, code: 'INSUFFICIENT_STORAGE' });
      expect(String(declared.body!.error)).toContain('too little for this');
      expect(declared.bytesSent).toBeLessThan(declared.totalBytes);

      // Without a declared size the disk fills up part-way.
      const answer = await post([...fields(), fileOf(40).part], { chunked: true });
      expect(answer.status).toBe(507);
      expect(answer.body).toMatchObject({ success: false, code: 'INSUFFICIENT_STORAGE' });
      expect(String(answer.body!.error)).toContain('out of disk space');
      // The server's view of its data folder (its own mount namespace) holds no leftover.
      const storeInNamespace = `/proc/${server.child.pid}/root${dataDir}/images`;
      await waitFor(() => readdirSync(storeInNamespace).length === 0, 5000, 'the partial file to be removed');
      // The space came back, and no record holds the version: the same version that fits is accepted.
      const fits = fileOf(8);
      const retry = await post([...fields(), fits.part]);
      expect(retry.status).toBe(200);
      expect(retry.body).toMatchObject({ checksum: fits.generated.sha256() });
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

/** A 1×1 PNG, as a browser's file picker could hand over by mistake. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const memoryFile = (bytes: Buffer, filename: string): FormFile => ({ name: 'image', filename, size: bytes.length, chunks: [bytes] });

describe('disk image check', () => {
  it('refuses files that are not disk images with a 422 saying why, keeping nothing and leaving the version free', () =>
    withServer(async ({ core, upload, storeFiles }) => {
      const cases: Array<[string, Buffer, string]> = [
        ['notes.txt', Buffer.from('KXP2 master image, version 2.1\n'), 'no partition table'],
        ['photo.png', PNG, 'no partition table'],
        // A real image cut short mid-partition (a download that stopped), at a sector boundary and not.
        ['cut.img', tinyDiskImage(randomBytes(64 * 1024)).subarray(0, 32 * 1024), 'partition 1 ends at byte 66048, past the end of the 32768-byte file'],
        ['cut-odd.img', tinyDiskImage(randomBytes(64 * 1024)).subarray(0, 32 * 1024 + 100), 'not a whole number of 512-byte sectors'],
        // Whole, but its table describes a larger disk than the file.
        ['overrun.img', tinyDiskImage(randomBytes(4096), { partitionSectors: 1 << 20 }), 'partition 1 ends at byte 536871424, past the end'],
        ['no-partitions.img', (() => { const bytes = tinyDiskImage('x'); bytes.fill(0, 446, 510); return bytes; })(), 'lists no partitions'],
      ];
      for (const [filename, bytes, reason] of cases) {
        const answer = await upload([...fields('KXP2', '2.1'), memoryFile(bytes, filename)]);
        expect(answer.status, filename).toBe(422);
        expect(answer.body, filename).toMatchObject({ success: false, code: 'NOT_A_DISK_IMAGE' });
        expect(String(answer.body!.error), filename).toContain(`${filename} is not a disk image: `);
        expect(String(answer.body!.error), filename).toContain(reason);
      }
      await waitFor(() => core.images.uploadsInProgress() === 0, 5000, 'the refused uploads to end');
      expect(storeFiles()).toEqual([]);
      expect(core.images.list()).toEqual([]);
      const good = await upload([...fields('KXP2', '2.1'), memoryFile(tinyDiskImage(randomBytes(4096)), 'kxp2.img')]);
      expect(good.status).toBe(200);
    }));

  it('refuses a large file that is no disk image at its first sector, long before the rest arrives', () =>
    withServer(async ({ core, upload, storeFiles }) => {
      // 512 MiB of log text: produced lazily, so only what the client really sends is ever made.
      const line = Buffer.from('Dec  1 19:20:00 pit-lane kernel: [ 1.000000] nothing to see here, just a log file\n'.padEnd(1024, '.'));
      const total = 512 * MIB;
      const chunks = function* () {
        for (let sent = 0; sent < total; sent += MIB) yield Buffer.concat(Array.from({ length: 1024 }, () => line));
      };
      const answer = await upload([...fields('KXP2', '2.2'), { name: 'image', filename: 'syslog.img', size: total, chunks: chunks() }]);
      expect(answer.status).toBe(422);
      expect(answer.body).toMatchObject({ code: 'NOT_A_DISK_IMAGE', error: expect.stringContaining('syslog.img is not a disk image: the image has no partition table') });
      // The answer came while most of the file was still unsent.
      expect(answer.bytesSent).toBeLessThan(answer.totalBytes / 2);
      await waitFor(() => core.images.uploadsInProgress() === 0, 5000, 'the refused upload to end');
      expect(storeFiles()).toEqual([]);
    }));

  it('checks each of several concurrent uploads on its own: the disk images register, the others leave nothing', () =>
    withServer(async ({ core, upload, storeFiles }) => {
      const answers = await Promise.all([
        upload([...fields('KXP2', '3.0'), memoryFile(tinyDiskImage(randomBytes(256 * 1024)), 'a.img')]),
        upload([...fields('KXP2', '3.1'), memoryFile(Buffer.from('not an image at all'), 'b.img')]),
        upload([...fields('RXP2', '3.0'), fileOf(2, 0, 'c.img', 3).part]),
        upload([...fields('RXP2', '3.1'), memoryFile(PNG, 'd.img')]),
      ]);
      expect(answers.map((a) => a.status)).toEqual([200, 422, 200, 422]);
      await waitFor(() => core.images.uploadsInProgress() === 0, 5000, 'the uploads to end');
      const registered = core.images.list().map((i) => i.filename).sort();
      expect(registered).toEqual(['kxp2_v3.0_a.img', 'rxp2_v3.0_c.img']);
      expect(storeFiles()).toEqual(registered.flatMap(filesOf).sort());
    }));

  it('flags the same content under another version on the image record, without refusing it', () =>
    withServer(async ({ t, upload }) => {
      const bytes = tinyDiskImage(randomBytes(8192));
      const first = await upload([...fields('KXP2', '4.0'), memoryFile(bytes, 'a.img')]);
      const second = await upload([...fields('KXP2', '4.1'), memoryFile(bytes, 'b.img')]);
      expect([first.status, second.status]).toEqual([200, 200]);
      const firstId = (first.body as { image: { id: number } }).image.id;
      expect(second.body).toMatchObject({ image: { same_content_as: [{ id: firstId, product_type: 'KXP2', version: '4.0' }] } });
      const listed = (await t.as.viewer.get('/api/images')).body.images as Array<{ version: string; same_content_as: Array<{ version: string }> }>;
      expect(listed.find((i) => i.version === '4.0')!.same_content_as.map((o) => o.version)).toEqual(['4.1']);
    }));
});

describe('compressed image upload', () => {
  let dir: string;
  let images: CompressedImages;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pitcrew-upload-compressed-'));
    images = await buildCompressedImages(dir);
  }, 60_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('takes .img.xz, .img.gz and .img.zst, registering the raw disk under a raw name with the format it came in', () =>
    withServer(async ({ core, upload, storeFiles }) => {
      for (const [index, format] of COMPRESSED.entries()) {
        const answer = await upload([...fields('KXP2', `4.${index}`), diskFile(images.archive[format], `raspios.img${SUFFIX[format]}`)]);
        expect(answer.status, format).toBe(200);
        const body = answer.body as { checksum: string; filename: string; image: { sha256: string; size_bytes: number; source_format: string } };
        expect(body.checksum, format).toBe(images.raw.sha256);
        expect(body.image, format).toMatchObject({ sha256: images.raw.sha256, size_bytes: images.raw.size, source_format: format });
        expect(body.filename, format).toBe(`kxp2_v4.${index}_raspios.img`);
        expect(await sha256OfFile(join(core.imageStore.root, body.filename)), format).toBe(images.raw.sha256);
      }
      expect(core.images.list().map((image) => image.source_format).sort()).toEqual(['gzip', 'xz', 'zstd']);
      expect(storeFiles().filter((name) => name.startsWith('.'))).toEqual([]);
    }));

  it('goes by the bytes, not the name: an xz called .img is decompressed, a raw disk called .img.xz is stored as is', () =>
    withServer(async ({ upload }) => {
      const xzAsImg = await upload([...fields('RXP2', '1.0'), diskFile(images.archive.xz, 'raspios.img')]);
      expect(xzAsImg.status).toBe(200);
      expect(xzAsImg.body).toMatchObject({ checksum: images.raw.sha256, image: { source_format: 'xz', size_bytes: images.raw.size } });
      const rawAsXz = await upload([...fields('RXP2', '1.1'), diskFile(images.raw.path, 'raspios.img.xz')]);
      expect(rawAsXz.status).toBe(200);
      expect(rawAsXz.body).toMatchObject({ checksum: images.raw.sha256, filename: 'rxp2_v1.1_raspios.img', image: { source_format: 'raw' } });
    }));

  it('refuses truncated and corrupt archives with a 422 naming the problem, keeping no file and not taking the version', () =>
    withServer(async ({ core, upload, storeFiles }) => {
      for (const format of COMPRESSED) {
        for (const [label, path] of [['truncated', images.truncated[format]], ['corrupt', images.corrupt[format]]] as const) {
          const answer = await upload([...fields('KXP2', '6.0'), diskFile(path, `raspios.img${SUFFIX[format]}`)]);
          expect(answer.status, `${label} ${format}`).toBe(422);
          expect(answer.body, `${label} ${format}`).toMatchObject({ success: false, code: 'INVALID_ARCHIVE' });
          expect(String(answer.body!.error), `${label} ${format}`).toContain(`not a valid ${SUFFIX[format]} archive: `);
        }
      }
      await waitFor(() => core.images.uploadsInProgress() === 0 && storeFiles().length === 0, 5000, 'refused uploads to leave nothing');
      expect(core.images.list()).toEqual([]);
      expect(await childProcessesNamed('xz')).toEqual([]);
      expect(await childProcessesNamed('zstd')).toEqual([]);
      // The version is still free.
      const retry = await upload([...fields('KXP2', '6.0'), diskFile(images.archive.xz, 'raspios.img.xz')]);
      expect(retry.status).toBe(200);
    }));

  it('applies the upload limit to the decompressed disk, not the archive', () =>
    withServer(async ({ core, upload, storeFiles }) => {
      for (const format of COMPRESSED) {
        expect(statSync(images.archive[format]).size, format).toBeLessThan(4 * MIB);
        const answer = await upload([...fields('KXP2', '7.0'), diskFile(images.archive[format], `raspios.img${SUFFIX[format]}`)]);
        expect(answer.status, format).toBe(413);
        expect(answer.body, format).toMatchObject({ success: false, code: 'PAYLOAD_TOO_LARGE' });
        expect(String(answer.body!.error), format).toContain('4.0 MiB');
      }
      await waitFor(() => core.images.uploadsInProgress() === 0 && storeFiles().length === 0, 5000, 'refused uploads to leave nothing');
      expect(core.images.list()).toEqual([]);
      expect(await childProcessesNamed('xz')).toEqual([]);
    }, { maxImageBytes: 4 * MIB }));

  it('kills the decompressor and keeps nothing when the client disappears half-way through an archive', () =>
    withServer(async ({ core, upload, storeFiles }) => {
      for (const format of ['xz', 'zstd'] as const) {
        const file = diskFile(images.archive[format], `raspios.img${SUFFIX[format]}`);
        const cut = await upload([...fields('KXP2', '8.0'), file], { abortAfterBytes: Math.floor(file.size / 2) });
        expect(cut.status, format).toBe(0);
        await waitFor(() => core.images.uploadsInProgress() === 0 && storeFiles().length === 0, 10_000, 'the server to drop the partial upload');
        expect(await childProcessesNamed(format), format).toEqual([]);
      }
      expect(core.images.list()).toEqual([]);
    }));

  it('decompresses a 1 GiB disk sent as .img.xz with flat server memory', async () => {
    // Mostly free space, as a real image: compresses to little, so the test sends little and the disk side works.
    const archive = join(dir, 'big.img.xz');
    const xz = spawn('xz', ['-T0', '-1', '-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const written = pipeline(xz.stdout, createWriteStream(archive));
    const hash = createHash('sha256');
    const block = Buffer.alloc(MIB);
    for (let i = 0; i < 1024; i++) {
      block.fill(0);
      block.writeUInt32LE(i, 0);
      block.write(`block ${i} of a mostly empty disk`, 64);
      if (i === 0) writeOnePartitionMbr(block, 1024 * 2048 - 1);
      hash.update(block);
      if (!xz.stdin.write(block)) await new Promise((resolve) => xz.stdin.once('drain', resolve));
    }
    xz.stdin.end();
    await written;
    const sha256 = hash.digest('hex');

    const dataDir = await mkdtemp(join(tmpdir(), 'pitcrew-upload-big-xz-'));
    const server = await spawnServer({ dataDir }).catch(async (error: unknown) => {
      await rm(dataDir, { recursive: true, force: true });
      throw error;
    });
    try {
      const pid = server.child.pid!;
      const post = (parts: Array<FormField | FormFile>) => uploadForm(server.managementUrl, parts, { headers: { cookie: server.cookie } });
      // Warm the routes and the decompressing path up so lazily loaded code is not counted as upload memory.
      const small = join(dir, 'warm.img.xz');
      await copyFile(images.archive.xz, small);
      expect((await post([...fields('RXP2', '0.0.1'), diskFile(small, 'warm.img.xz')])).status).toBe(200);

      const peakWasReset = resetPeakMemory(pid);
      const before = memoryOf(pid).current;
      let sampledPeak = before;
      const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, memoryOf(pid).current)), 25);
      let answer;
      try {
        answer = await post([...fields('KXP2', '3.0.0'), diskFile(archive, 'raspios.img.xz')]);
      } finally {
        clearInterval(sampler);
      }
      const peak = Math.max(sampledPeak, peakWasReset ? memoryOf(pid).peak : 0);
      const growthMib = (peak - before) / MIB;
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body).toMatchObject({ checksum: sha256, filename: 'kxp2_v3.0.0_raspios.img', image: { size_bytes: 1024 * MIB, source_format: 'xz' } });
      console.log(`1 GiB .img.xz upload (${(statSync(archive).size / MIB).toFixed(1)} MiB sent): server RSS ${(before / MIB).toFixed(0)} MiB before, peak ${(peak / MIB).toFixed(0)} MiB (+${growthMib.toFixed(1)} MiB)`);
      expect(growthMib, `server RSS grew by ${growthMib.toFixed(1)} MiB`).toBeLessThan(UPLOAD_COST.growthMib);
      expect(await childProcessesNamed('xz', pid)).toEqual([]);
    } finally {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});
