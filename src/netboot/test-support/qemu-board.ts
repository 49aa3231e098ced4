// An emulated arm64 board under qemu-system-aarch64 -M virt (user-mode networking: the guest reaches the host's
// 127.0.0.1 as 10.0.2.2), and a boot from a written disk the way a Raspberry Pi's firmware starts one: config.txt
// on the FAT boot partition names the kernel and initramfs, cmdline.txt is the kernel's command line.
import { execFile, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readBootFile } from '../../disk-layout/test-support/disk-image.builder.js';

const run = promisify(execFile);

export interface QemuRun {
  code: number | null;
  /** Everything the board printed on its serial console (and QEMU on stderr), with \r removed. */
  console: string;
  timedOut: boolean;
}

/**
 * Runs QEMU to its end (or kills it after `timeoutMs`), keeping the console; also written to `consoleLog`.
 * `onConsole` sees the console so far each time more arrives (e.g. to act on the monitor at a message).
 */
export function runQemu(args: string[], timeoutMs: number, consoleLog?: string, onConsole?: (text: string) => void): Promise<QemuRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-aarch64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    // Decoded per stream, not per chunk: a chunk may end inside a multi-byte character (the banner's "—").
    const collect = (text: string) => {
      output += text;
      onConsole?.(output);
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      void (consoleLog ? writeFile(consoleLog, output).catch(() => {}) : Promise.resolve())
        .then(() => resolve({ code, console: output.replace(/\r/g, ''), timedOut }));
    });
  });
}

export interface DiskBoot {
  disk: string;
  /** Byte offset of the FAT boot partition on the disk. */
  bootStartByte: number;
  /** The board's Ethernet address (what its installer reported). */
  mac: string;
  /** Where the kernel and initramfs are copied out to. */
  workDir: string;
  timeoutMs: number;
  consoleLog?: string;
}

export interface DiskBootRun extends QemuRun {
  /** The command line the kernel got: cmdline.txt as it was on the disk at power-on. */
  cmdline: string;
  /** How the system ended, as the kernel said on the console. */
  ending: 'rebooted' | 'powered off' | 'unknown';
}

/**
 * Powers the board on from `disk` as the Pi firmware would (-no-reboot: a reboot ends the run, so the caller sees
 * each boot and can look at the disk in between). One core and 1 GiB, as small as a Pi 3.
 */
export async function bootFromDisk(options: DiskBoot): Promise<DiskBootRun> {
  const config = await readBootFile(options.disk, options.bootStartByte, 'config.txt');
  const cmdline = await readBootFile(options.disk, options.bootStartByte, 'cmdline.txt');
  if (config === null || cmdline === null) throw new Error(`${options.disk} has no config.txt or cmdline.txt on its boot partition: the firmware would not start it`);
  const kernelName = /^kernel=(\S+)/m.exec(config)?.[1] ?? 'kernel8.img';
  const initramfsName = /^initramfs\s+(\S+)/m.exec(config)?.[1];
  await mkdir(options.workDir, { recursive: true });
  const copyOut = async (name: string) => {
    const target = join(options.workDir, name);
    await run('mcopy', ['-o', '-i', `${options.disk}@@${options.bootStartByte}`, `::/${name}`, target], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    return target;
  };
  const kernel = await copyOut(kernelName);
  const initramfs = initramfsName ? await copyOut(initramfsName) : null;
  const result = await runQemu([
    '-M', 'virt', '-cpu', 'cortex-a72', '-smp', '1', '-m', '1024',
    '-nographic', '-no-reboot', '-nodefaults', '-serial', 'stdio',
    '-kernel', kernel, ...(initramfs ? ['-initrd', initramfs] : []), '-append', cmdline.trim(),
    '-netdev', 'user,id=net0', '-device', `virtio-net-pci,netdev=net0,romfile=,mac=${options.mac}`,
    '-drive', `file=${options.disk},format=raw,if=none,id=disk0,cache=unsafe`, '-device', 'virtio-blk-pci,drive=disk0',
  ], options.timeoutMs, options.consoleLog);
  // The kernel's last words (printed at emergency level, so even a quiet kernel says them).
  const ending = /reboot: Restarting system/.test(result.console) ? 'rebooted' : /reboot: Power down/.test(result.console) ? 'powered off' : 'unknown';
  return { ...result, cmdline: cmdline.trim(), ending };
}
