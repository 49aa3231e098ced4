import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readDiskId } from '../agent/block-devices.reader.js';
import { prepareSampleTftpTree } from '../netboot/test-support/sample-tftp-tree.js';
import { runPitcrewProcess } from './test-support/cli-process.js';

const run = promisify(execFile);

describe('pitcrew netboot usb-image', () => {
  let dir: string;
  let dataDir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pitcrew-cli-stick-'));
    dataDir = join(dir, 'data');
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('writes the stick image from the prepared folder, without a running server', async () => {
    await prepareSampleTftpTree(dir, { outDir: join(dataDir, 'netboot', 'tftp'), extraCmdline: ['pitcrew.venue=CORO'] });
    const output = join(dir, 'stick.img');
    const result = await runPitcrewProcess(dataDir, ['netboot', 'usb-image', '--server-url', 'http://192.168.1.10:5001', '-o', output, '--cmdline', 'pitcrew.stick-wait=120']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const diskId = await readDiskId(output);
    expect(result.stdout).toContain(`Wrote ${output} (`);
    expect(result.stdout).toContain(`disk identifier ${diskId}): installers will reach Pitcrew at http://192.168.1.10:5001`);
    expect(result.stdout).toContain(`cmdline.txt: console=serial0,115200 console=tty1 loglevel=4 pitcrew.server=http://192.168.1.10:5001 pitcrew.venue=CORO pitcrew.stick-wait=120 pitcrew.stick=${diskId}`);
    const { stdout } = await run('mtype', ['-i', `${output}@@1048576`, '::/cmdline.txt'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    expect(stdout).toContain(`pitcrew.stick=${diskId}`);
  });

  it('says in one line what to do when the folder is not prepared or the URL is wrong, and writes nothing', async () => {
    const output = join(dir, 'stick.img');
    const unprepared = await runPitcrewProcess(dataDir, ['netboot', 'usb-image', '-o', output]);
    expect(unprepared.status).toBe(1);
    expect(unprepared.stderr).toMatch(/^pitcrew: the network boot folder .*netboot\/tftp is not prepared: run `pitcrew netboot build` and `pitcrew netboot prepare --image <raspios\.img>` first\n$/);
    await prepareSampleTftpTree(dir, { outDir: join(dataDir, 'netboot', 'tftp') });
    const badUrl = await runPitcrewProcess(dataDir, ['netboot', 'usb-image', '--server-url', 'https://pitcrew.example', '-o', output]);
    expect(badUrl.status).toBe(1);
    expect(badUrl.stderr).toBe('pitcrew: the server URL must start with http:// (the installer has no TLS), not "https://pitcrew.example"\n');
    const noOutput = await runPitcrewProcess(dataDir, ['netboot', 'usb-image']);
    expect(noOutput.status).not.toBe(0);
    expect(noOutput.stderr).toMatch(/required option '-o, --output <file>' not specified/);
    expect((await readdir(dir)).filter((name) => name.includes('stick'))).toEqual([]);
  });
});
