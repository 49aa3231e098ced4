import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { safeImageFilename } from './image-store.js';
import { createCoreFixture, type CoreFixture } from './test-support/core-fixture.js';
import { tinyDiskImage } from '../disk-layout/test-support/tiny-disk-image.js';

describe('master images', () => {
  let f: CoreFixture;
  let source: string;
  let content: Buffer;
  beforeEach(() => {
    f = createCoreFixture();
    content = tinyDiskImage(randomBytes(3 * 1024 * 1024 + 17));
    source = join(f.dir, 'raspios.img');
    writeFileSync(source, content);
  });
  afterEach(() => f.close());

  const storeFiles = () => readdirSync(f.core.imageStore.root).sort();
  /** A registered image's files: the raw disk, its chunks and its bmap. */
  const filesOf = (filename: string) => [filename, `${filename}.bmap`, `${filename}.chunks`];
  const register = (version: string, product: 'KXP2' | 'RXP2' = 'KXP2') => f.core.images.registerFile({ product_type: product, version }, source);

  it('registers a local file with its streamed SHA-256 and size, copying it into the store', async () => {
    const progress: number[] = [];
    const image = await f.core.images.registerFile({ product_type: 'KXP2', version: '2.1.0', description: ' Spring build ' }, source, { onProgress: (n) => progress.push(n) });
    expect(image).toMatchObject({ product_type: 'KXP2', version: '2.1.0', size_bytes: content.length, description: 'Spring build', active: false, filename: 'kxp2_v2.1.0_raspios.img' });
    expect(image.sha256).toBe(createHash('sha256').update(content).digest('hex'));
    expect(readFileSync(join(f.core.imageStore.root, image.filename)).equals(content)).toBe(true);
    expect(progress.at(-1)).toBe(content.length);
    expect(f.eventsNamed('image_uploaded')).toEqual([{ image_id: image.id, image }]);
  });

  it('refuses a second image with the same product and version before storing anything', async () => {
    await register('1.0');
    await expect(register('1.0')).rejects.toThrow(/KXP2 version 1.0 already exists/);
    expect(await register('1.0', 'RXP2')).toMatchObject({ product_type: 'RXP2' });
    expect(storeFiles()).toEqual([...filesOf('kxp2_v1.0_raspios.img'), ...filesOf('rxp2_v1.0_raspios.img')]);
  });

  it.each(['', '../1', 'v 1', '.hidden', 'x'.repeat(65)])('refuses version %j', async (version) => {
    await expect(register(version)).rejects.toThrow(/Version/);
    expect(storeFiles()).toEqual([]);
  });

  it('refuses a missing file', async () => {
    await expect(f.core.images.registerFile({ product_type: 'KXP2', version: '1' }, join(f.dir, 'nope.img'))).rejects.toThrow(/no file/);
  });

  it('keeps exactly one active image per product, switching atomically', async () => {
    const one = await register('1');
    const two = await register('2');
    const other = await register('9', 'RXP2');
    f.core.images.activate(one.id);
    f.core.images.activate(other.id);
    f.core.images.activate(two.id);
    expect(f.core.images.list().filter((i) => i.active).map((i) => i.id).sort()).toEqual([two.id, other.id].sort());
    expect(f.core.images.findActive('KXP2')?.id).toBe(two.id);
    expect(f.eventsNamed('image_activated').map((e) => e.image_id)).toEqual([one.id, other.id, two.id]);
  });

  it('never deletes the active image; deleting another removes its file', async () => {
    const one = await register('1');
    const two = await register('2');
    f.core.images.activate(one.id);
    await expect(f.core.images.delete(one.id)).rejects.toThrow(/is the active image/);
    await f.core.images.delete(two.id);
    expect(storeFiles()).toEqual(filesOf(one.filename));
    await expect(f.core.images.delete(two.id)).rejects.toThrow(/no image/);
  });

  it('leaves no file and no record when the stream fails half-way', async () => {
    const broken = new Readable({
      read() {
        this.push(Buffer.alloc(1024 * 1024));
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(f.core.images.upload({ product_type: 'KXP2', version: '1' }, 'a.img', broken)).rejects.toThrow(/connection reset/);
    expect(storeFiles()).toEqual([]);
    expect(f.core.images.list()).toEqual([]);
  });

  it('counts an upload as in progress from its first byte until it is registered or dropped', async () => {
    expect(f.core.images.uploadsInProgress()).toBe(0);
    const incoming = new Readable({ read() {} });
    const done = f.core.images.upload({ product_type: 'KXP2', version: '1' }, 'a.img', incoming);
    incoming.push(content);
    expect(f.core.images.uploadsInProgress()).toBe(1);
    incoming.push(null);
    await done;
    expect(f.core.images.uploadsInProgress()).toBe(0);

    const cut = new Readable({ read() {} });
    const failed = f.core.images.upload({ product_type: 'KXP2', version: '2' }, 'b.img', cut);
    expect(f.core.images.uploadsInProgress()).toBe(1);
    cut.destroy(new Error('connection reset'));
    await expect(failed).rejects.toThrow(/connection reset/);
    expect(f.core.images.uploadsInProgress()).toBe(0);
  });

  it('stops a stream past the size limit and leaves nothing', async () => {
    await expect(f.core.images.upload({ product_type: 'KXP2', version: '1' }, 'a.img', Readable.from([content]), { maxBytes: 1024 })).rejects.toThrow(/larger than the 1.0 KiB limit/);
    expect(storeFiles()).toEqual([]);
  });

  it('serves only registered files', async () => {
    const image = await register('1');
    expect(f.core.images.fileFor(image.filename).path).toBe(join(f.core.imageStore.root, image.filename));
    for (const name of ['../pitcrew.db', '.incoming-x', 'other.img', '']) expect(() => f.core.images.fileFor(name)).toThrow();
  });

  it('refuses a local file that is not a disk image, naming why and keeping nothing (the CLI path)', async () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ['notes.txt', Buffer.from('KXP2 master image, v2\nsee wiki\n'), /notes\.txt is not a disk image: the image has no partition table/],
      ['cut.img', tinyDiskImage(randomBytes(8192)).subarray(0, 4096), /partition 1 ends at byte 8704, past the end of the 4096-byte file/],
      ['odd.img', Buffer.concat([tinyDiskImage('x'), Buffer.from('tail')]), /not a whole number of 512-byte sectors/],
      ['empty-table.img', (() => { const b = tinyDiskImage('x'); b.fill(0, 446, 510); return b; })(), /lists no partitions/],
    ];
    for (const [name, bytes, reason] of cases) {
      const path = join(f.dir, name);
      writeFileSync(path, bytes);
      await expect(f.core.images.registerFile({ product_type: 'KXP2', version: '1' }, path), name).rejects.toMatchObject({ code: 'NOT_A_DISK_IMAGE', message: expect.stringMatching(reason) });
    }
    expect(storeFiles()).toEqual([]);
    expect(f.core.images.list()).toEqual([]);
    // The version is still free.
    expect(await register('1')).toMatchObject({ version: '1' });
  });

  it('flags the same content under another version on both images, and unflags it when one goes', async () => {
    const first = await register('1.0');
    expect(first.same_content_as).toEqual([]);
    const second = await register('1.1');
    expect(second.same_content_as).toEqual([{ id: first.id, product_type: 'KXP2', version: '1.0' }]);
    expect(f.core.images.get(first.id).same_content_as).toEqual([{ id: second.id, product_type: 'KXP2', version: '1.1' }]);
    // Dashboards hear that the first image's flag changed.
    expect(f.eventsNamed('image_updated').at(-1)).toMatchObject({ image_id: first.id, image: { same_content_as: [{ id: second.id }] } });
    await f.core.images.delete(second.id);
    expect(f.core.images.get(first.id).same_content_as).toEqual([]);
    expect(f.eventsNamed('image_updated').at(-1)).toMatchObject({ image_id: first.id, image: { same_content_as: [] } });
  });

  it('removes leftovers of interrupted uploads', async () => {
    writeFileSync(join(f.core.imageStore.root, '.incoming-deadbeef'), 'partial');
    expect(await f.core.imageStore.removeIncomplete()).toBe(1);
    expect(storeFiles()).toEqual([]);
  });
});

describe('safeImageFilename', () => {
  it.each([
    ['KXP2', '1.0', 'raspios.img', 'kxp2_v1.0_raspios.img'],
    ['KXP2', '1.0', '../../etc/passwd', 'kxp2_v1.0_passwd'],
    ['KXP2', '1.0', 'C:\\Users\\me\\pi image.img', 'kxp2_v1.0_pi_image.img'],
    ['KXP2', '1.0', '..', 'kxp2_v1.0_image.img'],
    ['KXP2', '1.0', '.bashrc', 'kxp2_v1.0_bashrc'],
    // Never the name of another image's delivery files, nor a route beside a raw image.
    ['KXP2', '1+x', 'y.img.bmap', 'kxp2_v1_x_y.img.bmap.img'],
    ['KXP2', '1', 'y.img.chunks', 'kxp2_v1_y.img.chunks.img'],
    ['KXP2', '1', 'y.img.manifest', 'kxp2_v1_y.img.manifest.img'],
  ])('%s %s %j → %s', (product, version, original, expected) => {
    expect(safeImageFilename(product, version, original)).toBe(expected);
  });

  it('never produces a path separator or a leading dot', () => {
    for (let i = 0; i < 200; i++) {
      const name = safeImageFilename('RXP2', '1', randomBytes(24).toString('latin1'));
      expect(name).not.toMatch(/[/\\]|^\./);
      expect(existsSync(name)).toBe(false);
    }
  });
});
