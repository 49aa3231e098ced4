import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readDiskId } from '../agent/block-devices.reader.js';
import { prepareSampleTftpTree, type SampleTree } from './test-support/sample-tftp-tree.js';
import { buildUsbStickImage, parseInstallerCmdline, STICK_README_FILE } from './usb-stick.builder.js';

const run = promisify(execFile);
const env = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

/** The stick's one partition: start and length in bytes, and its type, read from the MBR as a bootloader would. */
async function readPartition(image: string) {
  const mbr = (await readFile(image)).subarray(0, 512);
  const entries = [0, 1, 2, 3].map((i) => mbr.subarray(446 + i * 16, 462 + i * 16));
  return {
    signature: mbr.readUInt16BE(510),
    type: entries[0]![4],
    start: entries[0]!.readUInt32LE(8) * 512,
    length: entries[0]!.readUInt32LE(12) * 512,
    others: entries.slice(1).filter((entry) => entry[4] !== 0).length,
  };
}

async function readStickFile(image: string, offset: number, name: string): Promise<Buffer> {
  const { stdout } = await run('mtype', ['-i', `${image}@@${offset}`, `::/${name}`], { env, encoding: 'buffer', maxBuffer: 64 << 20 });
  return stdout;
}

describe('USB installer stick image', () => {
  let dir: string;
  let tree: SampleTree;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pitcrew-stick-test-'));
    tree = await prepareSampleTftpTree(dir, { extraCmdline: ['pitcrew.venue=CORO', 'pitcrew.token=s3cret'] });
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('holds the netboot folder on one FAT32 partition, with a cmdline.txt naming the new server and the stick itself', async () => {
    const output = join(dir, 'stick.img');
    const stick = await buildUsbStickImage({ tftpDir: tree.outDir, output, serverUrl: 'http://192.168.1.10:5001/', extraCmdline: ['pitcrew.shell'] });

    expect(stick.diskId).toMatch(/^[0-9a-f]{8}$/);
    expect(await readDiskId(output)).toBe(stick.diskId);
    expect((await stat(output)).size).toBe(stick.sizeBytes);
    const partition = await readPartition(output);
    expect(partition).toMatchObject({ signature: 0x55aa, type: 0x0c, start: 1024 * 1024, others: 0 });
    expect(partition.start + partition.length).toBe(stick.sizeBytes);

    // A valid FAT32 file system, as fsck sees it, labelled for the technician's PC.
    const fat = join(dir, 'fat.img');
    await run('dd', [`if=${output}`, `of=${fat}`, 'bs=1M', `skip=${partition.start / 1048576}`, 'status=none']);
    const fsck = await run('fsck.fat', ['-n', '-v', fat]);
    expect(fsck.stdout).toMatch(/2 FATs, 32 bit entries/);
    expect(fsck.stdout).toMatch(/2048 hidden sectors/);
    const bootSector = (await readFile(fat)).subarray(0, 512);
    expect(bootSector.readUInt32LE(0x43).toString(16).padStart(8, '0')).toBe(stick.diskId); // the volume serial
    expect(bootSector.subarray(0x47, 0x52).toString()).toBe('PITCREW    ');

    // The boot files the Pi 4/5 bootloaders read from USB: the folder's, byte for byte.
    for (const name of ['kernel8.img', 'kernel_2712.img', 'start4.elf', 'fixup4.dat', 'bcm2711-rpi-4-b.dtb', 'bcm2712-rpi-5-b.dtb', 'overlays/vc4-kms-v3d.dtbo', 'pitcrew-installer.img']) {
      expect(await readStickFile(output, partition.start, name), name).toEqual(await readFile(join(tree.outDir, name)));
    }
    const config = (await readStickFile(output, partition.start, 'config.txt')).toString();
    expect(config).toContain(await readFile(join(tree.outDir, 'config.txt'), 'utf8'));
    expect(config).toMatch(/^# Pitcrew installer stick/);
    // A Pi 5 on a 3 A supply boots USB only with the current limit lifted, and the last section read is [all] again.
    expect(config).toMatch(/\n\[pi5\]\nusb_max_current_enable=1\n\[all\]\n$/);

    const cmdline = (await readStickFile(output, partition.start, 'cmdline.txt')).toString();
    expect(cmdline.split('\n')).toHaveLength(2); // one line, as the firmware reads it
    expect(cmdline.trim()).toBe(`console=serial0,115200 console=tty1 loglevel=4 pitcrew.server=http://192.168.1.10:5001 pitcrew.venue=CORO pitcrew.token=s3cret pitcrew.shell pitcrew.stick=${stick.diskId}`);
    expect(stick.cmdline).toBe(cmdline.trim());
    expect((await readStickFile(output, partition.start, STICK_README_FILE)).toString()).toMatch(new RegExp(`Server: http://192\\.168\\.1\\.10:5001\\r?\\nStick identifier \\(MBR disk identifier\\): ${stick.diskId}`));
    expect(stick.files).toEqual(expect.arrayContaining(['cmdline.txt', 'config.txt', 'kernel8.img', 'overlays/vc4-kms-v3d.dtbo', STICK_README_FILE]));
  });

  it('keeps the folder\'s server when none is given, and replaces an older stick word', async () => {
    const stick = await buildUsbStickImage({ tftpDir: tree.outDir, output: join(dir, 'stick.img'), diskId: '1a2b3c4d', extraCmdline: ['pitcrew.stick=deadbeef'] });
    expect(stick.serverUrl).toBe('http://10.42.0.1:5001');
    expect(parseInstallerCmdline(stick.cmdline)).toEqual({ serverUrl: 'http://10.42.0.1:5001', extra: ['pitcrew.venue=CORO', 'pitcrew.token=s3cret'] });
    expect(stick.cmdline.match(/pitcrew\.stick=\w+/g)).toEqual(['pitcrew.stick=1a2b3c4d']);
    expect(await readDiskId(join(dir, 'stick.img'))).toBe('1a2b3c4d');
  });

  it('refuses a folder that is not prepared, a bad server URL, bad words and a bad identifier, and leaves no file behind', async () => {
    const output = join(dir, 'out', 'stick.img');
    await run('mkdir', ['-p', join(dir, 'out')]);
    await expect(buildUsbStickImage({ tftpDir: join(dir, 'nothing'), output })).rejects.toThrow(/network boot folder .*nothing is not prepared: run `pitcrew netboot build` and `pitcrew netboot prepare/);
    await unlink(join(tree.outDir, 'pitcrew-installer.img'));
    await expect(buildUsbStickImage({ tftpDir: tree.outDir, output })).rejects.toThrow(/is not prepared/);
    tree = await prepareSampleTftpTree(dir);
    await expect(buildUsbStickImage({ tftpDir: tree.outDir, output, serverUrl: 'https://pitcrew.example' })).rejects.toThrow(/must start with http:\/\//);
    await expect(buildUsbStickImage({ tftpDir: tree.outDir, output, serverUrl: 'not a url' })).rejects.toThrow(/is not a URL/);
    await expect(buildUsbStickImage({ tftpDir: tree.outDir, output, extraCmdline: ['a b'] })).rejects.toThrow(/cannot go on the kernel command line/);
    await expect(buildUsbStickImage({ tftpDir: tree.outDir, output, diskId: '00000000' })).rejects.toThrow(/8 hex digits/);
    await expect(buildUsbStickImage({ tftpDir: tree.outDir, output, diskId: 'XYZ' })).rejects.toThrow(/8 hex digits/);
    expect(await readdir(join(dir, 'out'))).toEqual([]);
  });

  it('stops when told to, mid-build or before, and leaves no file behind', async () => {
    // A bigger installer, so the copy takes long enough to be caught under way.
    await mkdir(join(dir, 'big'));
    const big = await prepareSampleTftpTree(join(dir, 'big'), { initramfs: randomBytes(24 * 1024 * 1024) });
    const out = join(dir, 'out');
    await mkdir(out);
    const stop = new AbortController();
    const building = buildUsbStickImage({ tftpDir: big.outDir, output: join(out, 'stick.img'), signal: stop.signal });
    await vi.waitFor(async () => expect((await readdir(out)).some((name) => name.includes('partial'))).toBe(true), { timeout: 10_000, interval: 1 });
    stop.abort(new Error('the download was cancelled'));
    await expect(building).rejects.toThrow('the download was cancelled');
    expect(await readdir(out)).toEqual([]);

    await expect(buildUsbStickImage({ tftpDir: tree.outDir, output: join(out, 'stick.img'), signal: AbortSignal.abort(new Error('gone')) })).rejects.toThrow('gone');
    expect(await readdir(out)).toEqual([]);
  });

  it('builds sticks side by side, each with its own identifier, and one output written twice at once is whole', async () => {
    const [a, b] = await Promise.all([
      buildUsbStickImage({ tftpDir: tree.outDir, output: join(dir, 'a.img') }),
      buildUsbStickImage({ tftpDir: tree.outDir, output: join(dir, 'b.img') }),
    ]);
    expect(a.diskId).not.toBe(b.diskId);
    const same = await Promise.all([1, 2].map(() => buildUsbStickImage({ tftpDir: tree.outDir, output: join(dir, 'same.img') })));
    const id = await readDiskId(join(dir, 'same.img'));
    expect(same.map((s) => s.diskId)).toContain(id);
    const partition = await readPartition(join(dir, 'same.img'));
    expect((await readStickFile(join(dir, 'same.img'), partition.start, 'cmdline.txt')).toString()).toContain(`pitcrew.stick=${id}`);
    expect((await readdir(dir)).filter((name) => name.includes('partial'))).toEqual([]);
  });
});
