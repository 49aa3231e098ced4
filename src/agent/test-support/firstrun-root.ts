// A throwaway root filesystem to run a generated firstrun.sh in (chroot, so it needs root): Debian's busybox for the
// shell and core tools, and stand-ins for the system tools firstrun.sh calls (Raspberry Pi OS's imager_custom and
// userconf, useradd, chpasswd, systemctl …) that record each call in /calls.log and do the part later steps read back
// (a user created or renamed in /etc/passwd, a home made), so a test sees what the script would run and leave behind.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const canChroot = (): boolean => process.getuid?.() === 0;

const BUSYBOX = '/usr/bin/busybox';
const APPLETS = ['sh', 'sed', 'grep', 'cut', 'printf', 'chmod', 'chown', 'ln', 'mkdir', 'cat', 'echo', 'id', 'rm', 'awk', 'ls', '[', 'test'];

/** One line per call: the tool's name, then each argument in brackets, so argument boundaries show. */
const log = '{ printf %s "${0##*/}"; for arg; do printf \' [%s]\' "$arg"; done; echo; } >>/calls.log';
const STUBS: Record<string, string> = {
  '/usr/bin/getent': 'awk -F: -v key="$2" \'$1 == key || $3 == key\' "/etc/$1" | grep . || exit 2',
  '/usr/sbin/useradd': `${log}\nfor name; do :; done\necho "$name:x:1001:1001::/home/$name:/bin/bash" >>/etc/passwd\necho "$name:x:1001:" >>/etc/group\nmkdir -p "/home/$name"`,
  '/usr/sbin/usermod': log,
  '/usr/sbin/groupmod': log,
  '/usr/sbin/chpasswd': `${log}\necho "chpasswd stdin [$(cat)]" >>/calls.log`,
  '/usr/bin/systemctl': log,
  '/usr/sbin/locale-gen': log,
  '/usr/sbin/rfkill': log,
  '/usr/sbin/dpkg-reconfigure': log,
};
/** Raspberry Pi OS's helpers: userconf renames the first user as the real one does. */
export const PI_OS_HELPERS: Record<string, string> = {
  '/usr/lib/raspberrypi-sys-mods/imager_custom': log,
  '/usr/lib/userconf-pi/userconf': `${log}\nold=$(awk -F: '$3 == 1000 { print $1 }' /etc/passwd)\nsed -i "s/^$old:\\(.*\\):\\/home\\/$old:/$1:\\1:\\/home\\/$1:/" /etc/passwd\nsed -i "s/^$old:/$1:/" /etc/group\nmkdir -p "/home/$1"`,
};

export interface FirstrunRoot {
  dir: string;
  /** Runs /boot/firmware/firstrun.sh as systemd.run= would (as root, no network); answers its output. */
  run: () => Promise<string>;
  calls: () => Promise<string[]>;
  read: (path: string) => Promise<string | null>;
}

export async function buildFirstrunRoot(dir: string, options: { files: Record<string, string>; helpers?: Record<string, string> }): Promise<FirstrunRoot> {
  const { stdout } = await run('ldd', [BUSYBOX]);
  for (const lib of stdout.matchAll(/(\/\S+\.so[.\d]*)/g)) {
    await mkdir(join(dir, dirname(lib[1]!)), { recursive: true });
    await copyFile(lib[1]!, join(dir, lib[1]!));
  }
  await mkdir(join(dir, 'bin'), { recursive: true });
  await copyFile(BUSYBOX, join(dir, 'bin/busybox'));
  for (const applet of APPLETS) await symlink('busybox', join(dir, 'bin', applet));
  for (const [path, body] of Object.entries({ ...STUBS, ...options.helpers })) {
    await mkdir(join(dir, dirname(path)), { recursive: true });
    await writeFile(join(dir, path), `#!/bin/sh\n${body}\n`);
    await chmod(join(dir, path), 0o755);
  }
  for (const [path, content] of Object.entries(options.files)) {
    await mkdir(join(dir, dirname(path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  // What every Debian root has.
  for (const folder of ['tmp', 'dev', 'root', 'home', 'etc/default']) await mkdir(join(dir, folder), { recursive: true });
  await run('mknod', ['-m', '666', join(dir, 'dev/null'), 'c', '1', '3']);
  await writeFile(join(dir, 'calls.log'), '');
  return {
    dir,
    run: async () => {
      const result = await run('chroot', [dir, '/bin/sh', '/boot/firmware/firstrun.sh'], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
      return result.stdout + result.stderr;
    },
    calls: async () => (await readFile(join(dir, 'calls.log'), 'utf8')).split('\n').filter(Boolean),
    read: async (path) => readFile(join(dir, path), 'utf8').catch(() => null),
  };
}
