// The System page offers the installer stick once the network boot folder is prepared: the server URL prefilled, a
// bad one refused before anything is asked of the server, and the image downloaded naming the URL given.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDiskId } from '../../src/agent/block-devices.reader.js';
import { netbootPaths } from '../../src/netboot/netboot.service.js';
import { prepareSampleTftpTree } from '../../src/netboot/test-support/sample-tftp-tree.js';
import { openDashboard, type Dashboard } from './support/dashboard.session.js';

const run = promisify(execFile);

describe('the USB installer stick on the System page', () => {
  let dashboard: Dashboard;
  let page: Page;
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'pitcrew-e2e-stick-'));
    dashboard = await openDashboard();
    ({ page } = dashboard);
  });
  afterAll(async () => {
    await dashboard?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('says what to run while the network boot folder is not prepared', async () => {
    await page.goto(`${dashboard.server.managementUrl}/system`);
    await page.getByTestId('usb-stick-unavailable').filter({ hasText: 'pitcrew netboot prepare' }).waitFor();
    expect(await page.getByTestId('usb-stick-download').count()).toBe(0);
  });

  it('downloads the stick for the server URL given, after refusing one the installer could not use', async () => {
    await prepareSampleTftpTree(work, { outDir: netbootPaths(dashboard.server.dataDir).tftpRoot });
    await page.reload();
    const url = page.getByTestId('usb-stick-server-url');
    await url.waitFor();
    expect(await url.inputValue()).toBe('http://10.42.0.1:5001');

    await url.fill('https://pitcrew.example');
    await page.getByTestId('usb-stick-server-url-error').filter({ hasText: 'The server URL must start with http://' }).waitFor();
    expect(await page.getByTestId('usb-stick-download').isDisabled()).toBe(true);

    await url.fill('http://192.168.7.2:5001');
    await page.getByTestId('usb-stick-server-url-error').waitFor({ state: 'detached' });
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('usb-stick-download').click()]);
    expect(download.suggestedFilename()).toBe('pitcrew-installer-usb.img');
    const file = join(work, 'stick.img');
    await download.saveAs(file);
    const diskId = await readDiskId(file);
    expect(diskId).toMatch(/^[0-9a-f]{8}$/);
    const { stdout } = await run('mtype', ['-i', `${file}@@1048576`, '::/cmdline.txt'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    expect(stdout.trim()).toMatch(new RegExp(`pitcrew\\.server=http://192\\.168\\.7\\.2:5001 pitcrew\\.stick=${diskId}$`));
  });
});
