import { copyFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GENERALIZATION_STEPS, NOT_IN_THIS_IMAGE, type GeneralizationStep, type GeneralizationStepId } from '../contracts/generalization.js';
import { generalizeClone, HOST_KEYS_UNIT, HOST_KEYS_UNIT_TEXT, UNINITIALIZED_MACHINE_ID } from '../disk-layout/clone.generalizer.js';
import { Ext4Volume } from '../disk-layout/ext4.volume.js';
import { customizeFirstBoot } from './first-boot.customizer.js';
import { parsePartitionTable } from './partition-table.parser.js';
import { diffDiskWithImage } from './test-support/agent-e2e.harness.js';
import {
  ALL_CLONE_ARTEFACTS,
  buildDiskImage,
  checkFilesystems,
  KEPT_BESIDE_ARTEFACTS,
  makeTempDir,
  readBootFile,
  sha256File,
  type BuildOptions,
  type BuiltImage,
  type CloneArtefacts,
} from '../disk-layout/test-support/disk-image.builder.js';

const WANTS = '/etc/systemd/system/multi-user.target.wants';
const REGENERATE_UNIT = '/usr/lib/systemd/system/regenerate_ssh_host_keys.service';

const stepOf = (steps: GeneralizationStep[], id: GeneralizationStepId) => steps.find((s) => s.step === id)!;
const done = (steps: GeneralizationStep[]) => steps.filter((s) => s.done).map((s) => s.step);

describe('generalizeClone on real disk images', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const build = (artefacts: CloneArtefacts, options: Partial<BuildOptions> = {}) => buildDiskImage(dir, { flavour: 'firstrun', artefacts, ...options });
  /** Generalises a copy of the image, so the image stays the reference to compare with. */
  async function generalizeCopy(image: BuiltImage): Promise<{ disk: string; ext: Ext4Volume; steps: GeneralizationStep[] }> {
    const disk = join(dir, 'card.img');
    await copyFile(image.path, disk);
    const ext = new Ext4Volume(disk, image.root.startByte);
    return { disk, ext, steps: await generalizeClone(ext) };
  }
  const rootDiff = async (disk: string, image: BuiltImage) => {
    const diff = await diffDiskWithImage(disk, image, join(dir, `diff-${Math.random().toString(36).slice(2)}`));
    expect(diff.outsidePartitions).toEqual([]);
    expect(diff.boot).toEqual([]);
    return diff.root;
  };

  it('removes or resets every artefact of the master, keeps everything beside them, and leaves a clean filesystem', async () => {
    const image = await build(ALL_CLONE_ARTEFACTS);
    const { disk, ext, steps } = await generalizeCopy(image);

    expect(steps.map((s) => s.step)).toEqual([...GENERALIZATION_STEPS]);
    expect(done(steps)).toEqual([...GENERALIZATION_STEPS]);
    await checkFilesystems(disk, image);

    const after = await ext.inspect([
      '/etc/machine-id', '/var/lib/dbus/machine-id', '/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_rsa_key.pub', `${WANTS}/regenerate_ssh_host_keys.service`,
      HOST_KEYS_UNIT, '/var/lib/dhcp/dhclient.eth0.leases', '/var/lib/dhcpcd/duid', '/var/lib/NetworkManager/secret_key', '/var/lib/systemd/random-seed',
      '/var/log/journal', '/var/log/syslog', '/var/log/syslog.1', '/var/log/wtmp', '/root/.bash_history', '/home/pi/.bash_history',
      '/etc/udev/rules.d/70-persistent-net.rules',
    ]);
    const machineId = after.get('/etc/machine-id')!;
    expect(machineId.content?.toString()).toBe(UNINITIALIZED_MACHINE_ID);
    expect(machineId.mode & 0o7777).toBe(0o444);
    expect(after.get(`${WANTS}/regenerate_ssh_host_keys.service`)?.linkTarget).toBe(REGENERATE_UNIT);
    expect(after.get('/var/log/journal')?.type).toBe('directory');
    expect((await ext.list(['/var/log/journal'])).get('/var/log/journal')).toEqual([]);
    for (const gone of ['/var/lib/dbus/machine-id', '/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_rsa_key.pub', HOST_KEYS_UNIT, '/var/lib/dhcp/dhclient.eth0.leases',
      '/var/lib/dhcpcd/duid', '/var/lib/NetworkManager/secret_key', '/var/lib/systemd/random-seed', '/var/log/syslog.1', '/root/.bash_history', '/home/pi/.bash_history',
      '/etc/udev/rules.d/70-persistent-net.rules']) {
      expect(after.get(gone), gone).toBeNull();
    }

    // Live logs are emptied in place: their daemons keep appending to them with the owner and mode they had.
    const before = await new Ext4Volume(image.path, image.root.startByte).inspect(['/var/log/syslog', '/var/log/wtmp'], { content: false });
    for (const log of ['/var/log/syslog', '/var/log/wtmp']) {
      const [was, now] = [before.get(log)!, after.get(log)!];
      expect(now.size, log).toBe(0);
      expect([now.mode, now.uid, now.gid], log).toEqual([was.mode, was.uid, was.gid]);
    }

    // Everything else is as the image had it, byte for byte.
    const changed = await rootDiff(disk, image);
    for (const kept of KEPT_BESIDE_ARTEFACTS) expect(changed, kept).not.toContain(kept);
    expect(changed).toEqual(
      [
        '/etc/machine-id', '/var/lib/dbus/machine-id',
        ...['rsa', 'ecdsa', 'ed25519'].flatMap((type) => [`/etc/ssh/ssh_host_${type}_key`, `/etc/ssh/ssh_host_${type}_key.pub`]),
        '/etc/systemd', '/etc/systemd/system', '/etc/systemd/system/multi-user.target.wants', `${WANTS}/regenerate_ssh_host_keys.service`,
        '/var/lib/dhcp/dhclient.eth0.leases', '/var/lib/dhcpcd/eth0.lease', '/var/lib/dhcpcd/duid',
        '/var/lib/NetworkManager/internal-7d3f0e1c-eth0.lease', '/var/lib/NetworkManager/secret_key', '/var/lib/systemd/random-seed',
        '/var/log/journal/6f1c2e9a0b7d4c3e8f5a1b2c3d4e5f60',
        ...['system.journal', 'user-1000.journal', 'system@00061a2b3c4d5e6f-0123456789abcdef.journal~'].map((name) => `/var/log/journal/6f1c2e9a0b7d4c3e8f5a1b2c3d4e5f60/${name}`),
        '/var/log/syslog', '/var/log/syslog.1', '/var/log/auth.log.2.gz', '/var/log/dpkg.log-20250101', '/var/log/apt/history.log', '/var/log/apt/history.log.1.gz',
        '/var/log/wtmp', '/var/log/btmp', '/var/log/lastlog',
        '/root/.bash_history', '/home/pi/.bash_history', '/etc/udev/rules.d/70-persistent-net.rules',
      ].sort(),
    );
  });

  it('skips every step with "not in this image" on an image that has none of the artefacts, and changes nothing', async () => {
    const image = await build({});
    const { disk, steps } = await generalizeCopy(image);
    expect(done(steps)).toEqual([]);
    for (const step of steps) expect(step.note, step.step).toMatch(new RegExp(`^${NOT_IN_THIS_IMAGE}`));
    expect(await sha256File(disk)).toBe(image.sha256);
  });

  it.each<[GeneralizationStepId, CloneArtefacts]>([
    ['machine-id', { machineId: 'id' }],
    ['dbus-machine-id', { dbusMachineId: 'file' }],
    ['ssh-host-keys', { sshHostKeys: true }],
    ['dhcp-leases', { leases: true }],
    ['random-seed', { randomSeed: true }],
    ['journal', { journal: true }],
    ['logfiles', { logs: true }],
    ['shell-history', { histories: true }],
    ['udev-persistent-net', { udevPersistentNet: true }],
  ])('runs %s where the image has it and only that step', async (step, artefacts) => {
    const image = await build(artefacts);
    const { disk, steps } = await generalizeCopy(image);
    expect(done(steps)).toEqual([step]);
    await checkFilesystems(disk, image);
  });

  it('marks an empty machine-id "uninitialized" (an empty one is not a first boot), and leaves one already so', async () => {
    const empty = await build({ machineId: 'empty' });
    const first = await generalizeCopy(empty);
    expect(stepOf(first.steps, 'machine-id')).toMatchObject({ done: true, note: expect.stringMatching(/^an empty file replaced/) });
    expect((await first.ext.readFile('/etc/machine-id'))?.toString()).toBe(UNINITIALIZED_MACHINE_ID);

    const marked = await build({ machineId: 'uninitialized' }, { fileName: 'marked.img' });
    const second = await generalizeCopy(marked);
    expect(stepOf(second.steps, 'machine-id')).toEqual({ step: 'machine-id', done: false, note: 'already "uninitialized"' });
    expect(await sha256File(second.disk)).toBe(marked.sha256);
  });

  it("leaves D-Bus's machine-id when it is Debian's link to /etc/machine-id", async () => {
    const image = await build({ machineId: 'id', dbusMachineId: 'link' });
    const { ext, steps } = await generalizeCopy(image);
    expect(stepOf(steps, 'dbus-machine-id')).toEqual({ step: 'dbus-machine-id', done: false, note: 'a link to /etc/machine-id, left as it is' });
    expect((await ext.stat('/var/lib/dbus/machine-id'))?.linkTarget).toBe('/etc/machine-id');
  });

  it.each<[string, CloneArtefacts]>([
    ['plain Debian (ssh.service alone)', { sshHostKeys: true, sshServer: 'debian' }],
    ["Debian trixie (its sshd-keygen.service runs on first boot only; Raspberry Pi OS's unit is not enabled beside it)", { sshHostKeys: true, sshServer: 'debian-trixie' }],
    ["Raspberry Pi OS with its regenerate unit masked", { sshHostKeys: true, sshServer: 'raspberry-pi-os', sshRegenerateMasked: true }],
  ])('makes new host keys with a unit of its own on %s: ssh-keygen -A before sshd, while no key exists', async (_, artefacts) => {
    const image = await build({ ...artefacts, machineId: 'id' });
    const { disk, ext, steps } = await generalizeCopy(image);
    const unitName = HOST_KEYS_UNIT.slice(HOST_KEYS_UNIT.lastIndexOf('/') + 1);
    expect(stepOf(steps, 'ssh-host-keys')).toMatchObject({ done: true, note: `6 host key file(s) removed; new ones made on first boot by ${unitName} (ssh-keygen -A before sshd)` });
    const unit = await ext.inspect([HOST_KEYS_UNIT, `${WANTS}/${unitName}`, `${WANTS}/regenerate_ssh_host_keys.service`]);
    expect(unit.get(HOST_KEYS_UNIT)?.content?.toString()).toBe(HOST_KEYS_UNIT_TEXT);
    expect(HOST_KEYS_UNIT_TEXT).toMatch(/^ConditionPathExistsGlob=!\/etc\/ssh\/ssh_host_\*_key$/m);
    expect(HOST_KEYS_UNIT_TEXT).toMatch(/^Before=ssh\.service .*sshd-keygen\.service/m);
    expect(unit.get(`${WANTS}/${unitName}`)?.linkTarget).toBe(HOST_KEYS_UNIT);
    expect(unit.get(`${WANTS}/regenerate_ssh_host_keys.service`)).toBeNull();
    await checkFilesystems(disk, image);
  });

  it("enables Raspberry Pi OS's own regenerate_ssh_host_keys.service even where the image already has no keys", async () => {
    const image = await build({ sshServer: 'raspberry-pi-os' });
    const { ext, steps } = await generalizeCopy(image);
    expect(stepOf(steps, 'ssh-host-keys')).toMatchObject({ done: true, note: 'no host keys in the image; new ones made on first boot by regenerate_ssh_host_keys.service (enabled)' });
    expect((await ext.stat(`${WANTS}/regenerate_ssh_host_keys.service`))?.linkTarget).toBe(REGENERATE_UNIT);
  });

  it('removes host keys from an image without an SSH server, and says there is nothing to make new ones for', async () => {
    const image = await build({ sshHostKeys: true });
    const { ext, steps } = await generalizeCopy(image);
    expect(stepOf(steps, 'ssh-host-keys').note).toBe('6 host key file(s) removed; no SSH server in this image to make new ones for');
    expect(await ext.exists(HOST_KEYS_UNIT)).toBe(false);
    expect(await ext.exists('/etc/ssh/sshd_config')).toBe(true);
  });

  it('runs before the hostname is written, and the image switch off leaves every artefact where it was', async () => {
    const image = await build(ALL_CLONE_ARTEFACTS);
    const head = (await readFile(image.path)).subarray(0, 1 << 20);
    const customize = async (disk: string, generalize: boolean) => {
      await copyFile(image.path, disk);
      return customizeFirstBoot({
        devicePath: disk,
        table: parsePartitionTable(head),
        hostname: 'KXP2-CORO-007',
        instanceId: 'pitcrew-1-abc',
        generalize,
        readDisk: async (position, length) => (await readFile(disk)).subarray(position, position + length),
      });
    };

    const off = await customize(join(dir, 'off.img'), false);
    expect(off.generalization).toBeNull();
    // The hostname alone: firstrun.sh and cmdline.txt on the boot partition, /etc/hostname and /etc/hosts on the root.
    const diff = await diffDiskWithImage(join(dir, 'off.img'), image, join(dir, 'diff-off'));
    expect(diff.root).toEqual(['/etc/hostname', '/etc/hosts']);

    const on = await customize(join(dir, 'on.img'), true);
    expect(done(on.generalization!)).toEqual([...GENERALIZATION_STEPS]);
    expect(on.flavour).toBe('firstrun');
    await checkFilesystems(join(dir, 'on.img'), image);
  });
});

describe('a first boot made by generalisation asks nothing on the console', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const FIRSTBOOT_UNIT = { '/usr/lib/systemd/system/systemd-firstboot.service': '[Unit]\nConditionFirstBoot=yes\n[Service]\nExecStart=systemd-firstboot --prompt-locale --prompt-timezone --prompt-root-password\n' };

  /** Customises a copy of a fresh image built with `options`; answers the result and both cmdline.txt files. */
  async function customizeImage(options: Partial<BuildOptions>, generalize = true) {
    const image = await buildDiskImage(dir, { flavour: 'firstrun', fileName: `master-${Math.random().toString(36).slice(2)}.img`, ...options });
    const disk = join(dir, `card-${Math.random().toString(36).slice(2)}.img`);
    await copyFile(image.path, disk);
    const result = await customizeFirstBoot({
      devicePath: disk,
      table: parsePartitionTable((await readFile(disk)).subarray(0, 1 << 20)),
      hostname: 'KXP2-CORO-008',
      instanceId: 'pitcrew-2-abc',
      generalize,
      readDisk: async (position, length) => (await readFile(disk)).subarray(position, position + length),
    });
    const cmdline = (await readBootFile(disk, image.boot.startByte, 'cmdline.txt'))!;
    return { result, cmdline, masterCmdline: (await readBootFile(image.path, image.boot.startByte, 'cmdline.txt'))!, image, disk };
  }

  it('tells systemd-firstboot not to ask, before the firstrun.sh arguments, and says so in the machine-id step', async () => {
    const { result, cmdline, image, disk } = await customizeImage({ artefacts: { machineId: 'id' }, rootFiles: FIRSTBOOT_UNIT });
    expect(cmdline).toMatch(/ systemd\.firstboot=off systemd\.run=\/boot\/firmware\/firstrun\.sh systemd\.run_success_action=reboot systemd\.unit=kernel-command-line\.target\n$/);
    expect(stepOf(result.generalization!, 'machine-id').note).toMatch(/replaced by "uninitialized".*; systemd-firstboot asks nothing \(systemd\.firstboot=off on cmdline\.txt\)$/);
    await checkFilesystems(disk, image);
  });

  it('keeps a firstrun.sh the image wired itself, as it has it (an older Imager\'s two arguments), and puts the argument before it', async () => {
    const wired = 'console=serial0,115200 root=/dev/mmcblk0p2 rootwait systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot\n';
    const { cmdline, result } = await customizeImage({ artefacts: { machineId: 'id' }, rootFiles: FIRSTBOOT_UNIT, bootFiles: { 'cmdline.txt': wired, 'firstrun.sh': '#!/bin/bash\nset +e\nexit 0\n' } });
    expect(result.flavour).toBe('firstrun');
    expect(cmdline).toBe(wired.replace(' systemd.run=', ' systemd.firstboot=off systemd.run='));
  });

  it('on an rpi-preseed image, whose cmdline.txt is otherwise left alone, adds that one argument', async () => {
    const { cmdline, masterCmdline } = await customizeImage({ flavour: 'rpi-preseed', artefacts: { machineId: 'id' }, rootFiles: FIRSTBOOT_UNIT });
    expect(cmdline).toBe(`${masterCmdline.trim()} systemd.firstboot=off\n`);
  });

  it.each([
    ['the image is a first-boot image already', { artefacts: { machineId: 'uninitialized' }, rootFiles: FIRSTBOOT_UNIT }, true],
    ['the image has no systemd-firstboot', { artefacts: { machineId: 'id' } }, true],
    ['systemd-firstboot is masked', { artefacts: { machineId: 'id' }, rootFiles: FIRSTBOOT_UNIT, rootSymlinks: { '/etc/systemd/system/systemd-firstboot.service': '/dev/null' } }, true],
    ['generalisation is off', { artefacts: { machineId: 'id' }, rootFiles: FIRSTBOOT_UNIT }, false],
  ] as const)('leaves cmdline.txt without it when %s', async (_why, options, generalize) => {
    const { cmdline, result } = await customizeImage(options, generalize);
    expect(cmdline).not.toContain('systemd.firstboot');
    expect(cmdline).toContain('systemd.run=/boot/firmware/firstrun.sh');
    if (result.generalization) expect(stepOf(result.generalization, 'machine-id').note).not.toContain('systemd-firstboot');
  });
});
