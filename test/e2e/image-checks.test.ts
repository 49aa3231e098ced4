// Images checked before they can hurt, in the browser against the real server: real files that are not disk images
// are refused with the reason and nothing is kept; a real Raspberry Pi OS-shaped image is accepted, and activating it
// shows what it holds (partitions, file systems) and the first-boot mechanism its cards will use; the same bytes
// under another version are flagged.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDiskImage, makeTempDir } from '../../src/disk-layout/test-support/disk-image.builder.js';
import type { MasterImage } from '../../src/contracts/domain.js';
import { ApiSession } from './support/api.session.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';
import { ADMIN_PASSWORD, WEB_DIR } from './support/server.harness.js';

describe('image checks in the browser', () => {
  let dashboard: Dashboard;
  let page: Page;
  let dir: string;
  let api: ApiSession;

  beforeAll(async () => {
    dir = await makeTempDir('pitcrew-image-checks-');
    dashboard = await openDashboard();
    page = dashboard.page;
    api = await ApiSession.login(dashboard.server.managementUrl, 'admin', ADMIN_PASSWORD);
  }, 60_000);
  afterAll(async () => {
    await dashboard?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Uploads `bytes` as a file called `name` through the page's upload form. */
  async function upload(name: string, bytes: Buffer, version: string): Promise<void> {
    const file = join(await mkdtemp(join(dir, 'upload-')), name);
    await writeFile(file, bytes);
    await page.goto('/images');
    await page.getByTestId('image-upload').waitFor();
    await page.getByTestId('image-file').setInputFiles(file);
    await page.getByTestId('image-version').fill(version);
    await page.getByTestId('image-upload-submit').click();
  }

  const images = async () => (await api.get<{ images: MasterImage[] }>('/api/images')).images;

  it.each([
    ['a text file', 'notes.img', () => Buffer.from('kart 7 needs a new SD card\n'), 'has no partition table'],
    ['a gzip archive of text', 'backup.img.gz', () => gzipSync(Buffer.from('not a disk\n'.repeat(1000))), 'has no partition table'],
    ['the dashboard page itself', 'index.img', () => readFile(join(WEB_DIR, 'index.html')), 'has no partition table'],
    ['a program', 'ls.img', () => readFile('/bin/ls'), 'has no partition table'],
  ])('refuses %s with the reason and keeps nothing', async (_what, name, bytes, reason) => {
    await upload(name, await bytes(), '9.9.9');
    const error = page.getByTestId('image-upload-error');
    await error.filter({ hasText: 'is not a disk image' }).waitFor();
    expect(await error.textContent()).toContain(reason);
    expect(await images()).toEqual([]);
  }, 30_000);

  it('shows partitions, file systems and the detected first boot when activating, and flags the same bytes under another version', async () => {
    const built = await buildDiskImage(dir, { flavour: 'cloud-init', fileName: 'kxp2.img' });
    const bytes = await readFile(built.path);
    await upload('kxp2_v4.0.0.img', bytes, '4.0.0');
    await page.getByTestId('image-upload-result').waitFor({ timeout: 60_000 });
    const row = page.locator('[data-testid^="image-row-"][data-version="4.0.0"]');
    await row.waitFor();

    await row.locator('[data-testid^="image-activate-"]').click();
    const contents = page.getByTestId('image-activate-contents');
    await contents.filter({ hasText: 'p1 FAT32' }).filter({ hasText: 'p2 ext4' }).waitFor();
    const firstBoot = page.getByTestId('image-activate-first-boot');
    await firstBoot.locator('[data-flavour="cloud-init"]').waitFor();
    expect(await firstBoot.textContent()).toContain('boot partition at /boot/firmware');
    await page.getByTestId('confirm-ok').click();
    await page.locator('[data-testid^="image-row-"][data-version="4.0.0"][data-active="true"]').waitFor();

    await upload('kxp2_v4.0.1.img', bytes, '4.0.1');
    await page.getByTestId('image-upload-result').waitFor({ timeout: 60_000 });
    const [first, second] = (await images()).sort((a, b) => a.id - b.id);
    await page.getByTestId(`image-same-content-${second!.id}`).filter({ hasText: 'KXP2 4.0.0' }).waitFor();
    await page.getByTestId(`image-same-content-${first!.id}`).filter({ hasText: 'KXP2 4.0.1' }).waitFor();
  }, 120_000);
});
