// The first-boot mechanism of a master image, found when it is registered and shown over real HTTP with the image:
// the same decision the installer makes on each card (src/disk-layout/first-boot.detector.ts), on real disk images,
// with what the installer will warn about; images registered before are inspected in the background.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDiskImage, makeTempDir, type BuildOptions } from '../../disk-layout/test-support/disk-image.builder.js';
import type { MasterImage } from '../../contracts/domain.js';
import { tinyDiskImage } from '../../disk-layout/test-support/tiny-disk-image.js';
import { startTestServer, type TestServer } from '../test-support/test-server.js';

describe('image first-boot detection', () => {
  let dir: string;
  let t: TestServer;
  let version = 0;

  beforeAll(async () => {
    dir = await makeTempDir('pitcrew-image-first-boot-test-');
    t = await startTestServer({}, { users: true });
  });
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Registers a disk image built with `options` and answers it as the management API shows it. */
  async function register(options: BuildOptions): Promise<MasterImage> {
    version++;
    const built = await buildDiskImage(dir, { ...options, fileName: `image-${version}.img` });
    const image = await t.server.core.images.registerFile({ product_type: 'KXP2', version: `1.0.${version}` }, built.path);
    const answer = await t.as.viewer.get(`/api/images/${image.id}`);
    expect(answer.status).toBe(200);
    return answer.body.image as MasterImage;
  }

  it.each([
    ['rpi-preseed', '/boot/firmware'],
    ['cloud-init', '/boot/firmware'],
    ['firstrun', '/boot/firmware'],
  ] as const)('finds %s on an image that runs it, with where its OS mounts the boot partition', async (flavour, mount) => {
    const image = await register({ flavour });
    expect(image.first_boot_preview).toEqual({ flavour, boot_mount: mount, warnings: [], problem: null });
  }, 30_000);

  it('says what the installer will warn about: cloud-init that is installed but disabled falls back to firstrun.sh', async () => {
    const image = await register({ flavour: 'cloud-init', rootFiles: { '/etc/cloud/cloud-init.disabled': '' } });
    expect(image.first_boot_preview?.flavour).toBe('firstrun');
    expect(image.first_boot_preview?.warnings).toEqual([expect.stringContaining('cloud-init is disabled (/etc/cloud/cloud-init.disabled)')]);
  }, 30_000);

  it('names no mechanism on an image without systemd, and says the hostname is only in /etc/hostname', async () => {
    const image = await register({ flavour: 'none' });
    expect(image.first_boot_preview).toMatchObject({ flavour: 'none', problem: null });
    expect(image.first_boot_preview?.warnings).toEqual([expect.stringContaining('the hostname is only in /etc/hostname')]);
  }, 30_000);

  it('inspects images registered before, in the background pass, and leaves inspected ones alone', async () => {
    const image = await register({ flavour: 'rpi-preseed' });
    t.server.db.prepare('UPDATE images SET first_boot_preview = NULL, generalization_preview = NULL WHERE id = ?').run(image.id);
    expect((await t.as.viewer.get(`/api/images/${image.id}`)).body.image.first_boot_preview).toBeNull();

    expect(await t.server.core.images.inspectUninspected()).toBe(1);
    const after = (await t.as.viewer.get(`/api/images/${image.id}`)).body.image as MasterImage;
    expect(after.first_boot_preview).toEqual(image.first_boot_preview);
    expect(after.generalization_preview).toEqual(image.generalization_preview);
    expect(await t.server.core.images.inspectUninspected()).toBe(0);
  }, 30_000);

  it('inspects again an image whose inspection found a problem (a tool installed since), and leaves one that cannot be read as it was', async () => {
    const image = await register({ flavour: 'cloud-init' });
    const failed = { flavour: null, boot_mount: null, warnings: [], problem: 'mcopy is not installed on this machine (install the mtools package)' };
    t.server.db.prepare('UPDATE images SET first_boot_preview = ? WHERE id = ?').run(JSON.stringify(failed), image.id);
    const notADisk = join(dir, 'no-root.img');
    await writeFile(notADisk, tinyDiskImage('no file systems at all'));
    const unreadable = await t.server.core.images.registerFile({ product_type: 'RXP2', version: '9.0.0' }, notADisk);
    expect(unreadable.first_boot_preview).toMatchObject({ flavour: null, problem: 'the image has no ext4 root partition' });

    expect(await t.server.core.images.inspectUninspected()).toBe(1);
    expect((await t.as.viewer.get(`/api/images/${image.id}`)).body.image.first_boot_preview).toEqual(image.first_boot_preview);
    expect(await t.server.core.images.inspectUninspected()).toBe(0);
  }, 30_000);
});
