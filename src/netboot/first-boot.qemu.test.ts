// Proof on a real system, under emulation: a Debian arm64 master built from Debian's packages (a unit's capture,
// with its machine-id and SSH host keys) is deployed by the real installer, through the real server, to two
// file-backed cards at once; each card is then powered on under qemu-system-aarch64 as a Raspberry Pi's firmware
// starts it (config.txt, cmdline.txt), runs its first boot (firstrun.sh, then a reboot), boots again into
// multi-user, reports itself on the serial console and powers off. What each system became is then read from
// outside, on the powered-off disk, as well as from what the running system said.
import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildAgentBundle, createVenueWithKarts, listDeployments, registerActiveImage, runAgentBundle, startTestServer, type TestServer,
} from '../agent/test-support/agent-e2e.harness.js';
import { checkFilesystems, readBootFile, readRootFile, statRootPath } from '../disk-layout/test-support/disk-image.builder.js';
import type { DeploymentCheckinAnswer } from '../contracts/checkin.js';
import type { ProvisioningProfileInput } from '../contracts/provisioning-profile.js';
import { ED25519_KEY, SHA512_HASH } from '../contracts/test-support/profile-samples.js';
import { WPA_SUPPLICANT_CONF } from '../agent/provisioning.renderer.js';
import { buildDebianMaster, REPORT_BEGIN, REPORT_END, type DebianMaster } from './test-support/debian-master.builder.js';
import { bootFromDisk, type DiskBootRun } from './test-support/qemu-board.js';

const REPO = join(import.meta.dirname, '..', '..');
// The built master, kept between runs and named by its recipe (CI starts without it and builds it).
const CACHE = join(REPO, 'data', 'test-cache');
/** Each board's console of the last run, kept for reading after a failure. */
const CONSOLES = join(CACHE, 'first-boot-consoles');
/** One emulated boot on a loaded two-core machine: generous, but a hung board still fails the test. */
const BOOT_TIMEOUT_MS = 420_000;

const CARDS = [
  { name: 'card-a', serial: '10000000de0b0a01', mac: 'dc:a6:32:de:0b:01' },
  { name: 'card-b', serial: '10000000de0b0a02', mac: 'dc:a6:32:de:0b:02' },
] as const;

interface SystemReport {
  state: string;
  hostname: string;
  machineId: string;
  sshd: string;
  failed: string;
  hostKeys: string[];
}

/** The lines the master's report unit printed between its markers (see debian-master.builder.ts). */
function parseReport(console: string): SystemReport | null {
  const block = console.slice(console.indexOf(REPORT_BEGIN), console.indexOf(REPORT_END));
  if (!block.startsWith(REPORT_BEGIN)) return null;
  const values = (key: string) => [...block.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
  return {
    state: values('state')[0] ?? '',
    hostname: values('hostname')[0] ?? '',
    machineId: values('machine-id')[0] ?? '',
    sshd: values('sshd')[0] ?? '',
    failed: values('failed')[0] ?? '',
    hostKeys: values('host-key'),
  };
}

const consoleTail = (run: DiskBootRun) => `${run.console.split('\n').slice(-60).join('\n')}\n(cmdline: ${run.cmdline})`;
/** The key material of an OpenSSH public key line ("type base64 comment"). */
const keyBlob = (line: string) => line.trim().split(/\s+/).slice(0, 2).join(' ');

/** A port free on the host now: the device listener's, fixed before start so the check-in URL can name it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The venue's profile: a user with a key, a file per unit, Wi-Fi, and a first-boot command that leaves a trace. */
const PROFILE: ProvisioningProfileInput = {
  wifi: { ssid: 'Venue Karts', passphrase: 'correct horse battery', country: 'DE' },
  ssh: { authorized_keys: [ED25519_KEY], password_login: false },
  user: { name: 'crew', password_hash: SHA512_HASH },
  time_zone: null,
  keyboard: null,
  locale: null,
  files: [{ path: '/etc/kart/identity.conf', mode: '0640', owner: 'crew:crew', content: 'venue={venue_code}\nkart={kart_number}\nhost={hostname}\n' }],
  commands: ['echo provisioned {hostname} >/var/log/pitcrew-provisioned'],
};
/** debugfs stat's "User: N Group: N" and "Mode: 0NNN" of a path. */
const ownerAndMode = (stat: string) => ({ uid: Number(/User:\s+(\d+)/.exec(stat)?.[1]), gid: Number(/Group:\s+(\d+)/.exec(stat)?.[1]), mode: /Mode:\s+(\d+)/.exec(stat)?.[1] });

describe('a Debian arm64 master deployed to two cards and booted under QEMU', () => {
  let work: string;
  let server: TestServer;
  let master: DebianMaster;
  let bundle: string;
  const timings: string[] = [];
  const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await step();
    } finally {
      timings.push(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  };

  beforeAll(async () => {
    work = join(tmpdir(), `pitcrew-first-boot-${process.pid}`);
    await mkdir(work, { recursive: true });
    await mkdir(CONSOLES, { recursive: true });
    master = await timed('master image (mmdebstrap + disk layout, or the cache)', () => buildDebianMaster({ cacheDir: CACHE }));
    // The guests reach the host's loopback as 10.0.2.2 (QEMU user networking): the check-in URL says so.
    const devicePort = await freePort();
    server = await startTestServer({ devicePort, checkinUrl: `http://10.0.2.2:${devicePort}` });
    bundle = await buildAgentBundle(join(work, 'pitcrew-agent.mjs'));
  }, 2_400_000);

  afterAll(async () => {
    // The measured steps, for the record of how long this proof takes on the machine that ran it.
    process.stdout.write(`first-boot under QEMU, wall time per step:\n  ${timings.join('\n  ')}\n`);
    await server?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('gives each card its hostname and a machine-id and SSH host keys of its own, and both boot to multi-user', async () => {
    await createVenueWithKarts(server, 'QEMU', '21-22');
    const profile = await server.as.operator.put('/api/venues/QEMU/profile', PROFILE);
    expect(profile.status, profile.text).toBe(200);
    const registered = await timed('image registered (block map, chunks)', () => registerActiveImage(server, master.path, 'KXP2', '2026.12.1'));
    const batch = await server.as.operator.post('/api/batches', { venue_code: 'QEMU', product_type: 'KXP2', total_count: 2, peer_delivery: false });
    expect(batch.status, batch.text).toBe(201);
    expect((await server.as.operator.post(`/api/batches/${batch.body.batch.id}/start`)).status).toBe(200);

    // Both cards written at once by the real installer, as two boards on the bench would be.
    const disks = CARDS.map((card) => join(work, `${card.name}.img`));
    const agents = await timed('both cards written (installer, in parallel)', () => Promise.all(CARDS.map((card, i) => runAgentBundle(bundle, [
      '--server', server.deviceUrl, '--target', disks[i]!, '--product-type', 'KXP2', '--venue', 'QEMU',
      '--serial', card.serial, '--mac', card.mac, '--model', 'Raspberry Pi 4 Model B Rev 1.5',
    ]))));
    for (const agent of agents) {
      expect(agent.code, agent.stderr).toBe(0);
      // A plain Debian system: firstrun.sh through systemd.run=, the clone generalised, the venue's profile written.
      expect(agent.stdout).toMatch(/; first boot via firstrun; generalised: machine-id, (\S+, )*ssh-host-keys(, \S+)*; provisioned with profile revision 1; verified/);
      expect(agent.stdout).toMatch(/ssh-host-keys: \d+ host key file\(s\) removed; new ones made on first boot by pitcrew-ssh-hostkeys\.service/);
    }
    const deployments = await Promise.all(CARDS.map(async (card) => (await listDeployments(server, { search: card.serial }))[0]!));
    for (const [i, deployment] of deployments.entries()) {
      expect(deployment).toMatchObject({ status: 'completed', image_id: registered.id, image_checksum: master.sha256, mac_address: CARDS[i]!.mac, batch_id: batch.body.batch.id });
    }
    const hostnames = deployments.map((d) => d.hostname);
    expect(new Set(hostnames)).toEqual(new Set(['KXP2-QEMU-021', 'KXP2-QEMU-022']));

    // Power on, both boards at once (one emulated core each): the first boot runs firstrun.sh and reboots.
    const firstBoots = await timed('first boots (firstrun.sh, then reboot)', () => Promise.all(CARDS.map((card, i) => bootFromDisk({
      disk: disks[i]!, bootStartByte: master.boot.startByte, mac: card.mac, workDir: join(work, `${card.name}-boot1`), timeoutMs: BOOT_TIMEOUT_MS,
      consoleLog: join(CONSOLES, `${card.name}-boot1.log`),
    }))));
    for (const boot of firstBoots) {
      expect(boot.timedOut, consoleTail(boot)).toBe(false);
      // The master sets no locale, time zone or root password: systemd-firstboot must not wait on the console for them.
      expect(boot.cmdline, consoleTail(boot)).toMatch(/ systemd\.firstboot=off systemd\.run=\/boot\/firmware\/firstrun\.sh systemd\.run_success_action=reboot systemd\.unit=kernel-command-line\.target$/);
      expect(boot.ending, consoleTail(boot)).toBe('rebooted');
    }
    // firstrun.sh removed itself and its arguments: the firmware's next start is a normal boot, still without questions.
    for (const disk of disks) {
      expect(await readBootFile(disk, master.boot.startByte, 'cmdline.txt')).toBe(`${master.cmdline.trim()} systemd.firstboot=off\n`);
      expect(await readBootFile(disk, master.boot.startByte, 'firstrun.sh')).toBeNull();
    }

    const secondBoots = await timed('second boots (multi-user, report, power off)', () => Promise.all(CARDS.map((card, i) => bootFromDisk({
      disk: disks[i]!, bootStartByte: master.boot.startByte, mac: card.mac, workDir: join(work, `${card.name}-boot2`), timeoutMs: BOOT_TIMEOUT_MS,
      consoleLog: join(CONSOLES, `${card.name}-boot2.log`),
    }))));
    const reports = secondBoots.map((boot) => {
      expect(boot.timedOut, consoleTail(boot)).toBe(false);
      expect(boot.ending, consoleTail(boot)).toBe('powered off');
      const report = parseReport(boot.console);
      expect(report, consoleTail(boot)).not.toBeNull();
      return report!;
    });

    // What each running system said of itself.
    const masterKeys = Object.values(master.hostKeys).map(keyBlob);
    for (const [i, report] of reports.entries()) {
      expect(report, consoleTail(secondBoots[i]!)).toMatchObject({ state: 'running', failed: '', sshd: 'active', hostname: hostnames[i] });
      expect(report.machineId).toMatch(/^[0-9a-f]{32}$/);
      expect(report.hostKeys.length).toBe(masterKeys.length);
    }

    // And from outside, on each powered-off disk: the files the running systems were reporting from.
    const onDisk = await Promise.all(disks.map(async (disk) => {
      await checkFilesystems(disk, master);
      const read = (path: string) => readRootFile(disk, master.root.startByte, path);
      return {
        hostname: await read('/etc/hostname'),
        hosts: await read('/etc/hosts'),
        machineId: (await read('/etc/machine-id'))?.trim(),
        hostKeys: await Promise.all(Object.keys(master.hostKeys).map(async (name) => keyBlob((await read(`/etc/ssh/${name}`)) ?? ''))),
      };
    }));
    for (const [i, disk] of onDisk.entries()) {
      expect(disk.hostname).toBe(`${hostnames[i]}\n`);
      expect(disk.hosts).toMatch(new RegExp(`^127\\.0\\.1\\.1\\t${hostnames[i]}$`, 'm'));
      expect(disk.machineId).toBe(reports[i]!.machineId);
      expect(disk.hostKeys.sort()).toEqual(reports[i]!.hostKeys.map(keyBlob).sort());
    }
    // Each a machine of its own: no machine-id and no host key shared with the other card or the master.
    const machineIds = [master.machineId, ...onDisk.map((d) => d.machineId)];
    expect(new Set(machineIds).size).toBe(3);
    const allKeys = [...masterKeys, ...onDisk.flatMap((d) => d.hostKeys)];
    expect(allKeys.every((key) => /^ssh-\S+ [A-Za-z0-9+/=]{40,}$/.test(key) || /^ecdsa-\S+ [A-Za-z0-9+/=]{40,}$/.test(key))).toBe(true);
    expect(new Set(allKeys).size).toBe(masterKeys.length * 3);

    // The venue's profile, on each powered-off disk: the user with its key, the unit's own file, Wi-Fi where this
    // system reads it (it has no wireless stack: the file is checked, not used), and the first-boot command's trace.
    for (const [i, disk] of disks.entries()) {
      const read = (path: string) => readRootFile(disk, master.root.startByte, path);
      const passwd = (await read('/etc/passwd')) ?? '';
      const crew = /^crew:x:(\d+):(\d+):/m.exec(passwd);
      expect(crew, passwd).not.toBeNull();
      const [uid, gid] = [Number(crew![1]), Number(crew![2])];
      expect((await read('/etc/shadow'))?.match(/^crew:([^:]*):/m)?.[1]).toBe(SHA512_HASH);
      expect((await read('/home/crew/.ssh/authorized_keys'))?.trim()).toBe(ED25519_KEY);
      expect(ownerAndMode(await statRootPath(disk, master.root.startByte, '/home/crew/.ssh/authorized_keys'))).toMatchObject({ uid, gid, mode: '0600' });
      expect(await read('/etc/kart/identity.conf')).toBe(`venue=QEMU\nkart=${hostnames[i]!.slice(-2)}\nhost=${hostnames[i]}\n`);
      expect(ownerAndMode(await statRootPath(disk, master.root.startByte, '/etc/kart/identity.conf'))).toMatchObject({ uid, gid, mode: '0640' });
      expect(await read(WPA_SUPPLICANT_CONF)).toMatch(/ssid=.*\n[\s\S]*psk=[0-9a-f]{64}/);
      expect(await read('/var/log/pitcrew-provisioned')).toBe(`provisioned ${hostnames[i]}\n`);
      // The one-shot units did their work and removed themselves.
      expect(await read('/etc/systemd/system/pitcrew-provision.service')).toBeNull();
      expect(await read('/etc/systemd/system/pitcrew-checkin.service')).toBeNull();
    }
    const revisions = await Promise.all(deployments.map(async (d) => (await server.as.viewer.get(`/api/deployments/${d.id}/profile`)).body as { revision: { revision: number } | null }));
    expect(revisions.map((r) => r.revision?.revision)).toEqual([1, 1]);

    // Each system checked in on its first boot, with its own one-time token, and said what it is.
    for (const [i, deployment] of deployments.entries()) {
      const { checkin } = (await server.as.viewer.get(`/api/deployments/${deployment.id}/checkin`)).body as DeploymentCheckinAnswer;
      expect(checkin, `deployment ${deployment.id} (${deployment.hostname}) never checked in`).not.toBeNull();
      expect(checkin).toMatchObject({ deployment_id: deployment.id, hostname: hostnames[i], mac_address: CARDS[i]!.mac, image_version: '2026.12.1' });
      expect(checkin!.os_release).toMatch(/Debian GNU\/Linux 12/);
      expect(checkin!.ip_addresses).toContain('10.0.2.15');
      const [after] = await listDeployments(server, { search: CARDS[i]!.serial });
      expect(after!.booted_at).not.toBeNull();
    }
  }, 1_800_000);
});
