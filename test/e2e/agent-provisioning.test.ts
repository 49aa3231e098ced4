// The installer bundle against the real server with a venue profile: each card written carries its own rendered
// profile where its image reads it on first boot (files plus a one-shot unit on a Pi-OS-like Debian, user-data and
// network-config on a cloud-init image), the rest of the disk equals the image, and each deployment records the
// revision it got, also when the profile changes between two cards.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDiskImage, checkFilesystems, readBootFile, readRootFile, statRootPath } from '../../src/disk-layout/test-support/disk-image.builder.js';
import { coroBoardArgs, createVenueWithKarts, diffDiskWithImage, listDeployments, registerActiveImage, runAgentBundle, useAgentE2e } from '../../src/agent/test-support/agent-e2e.harness.js';
import { COMMANDS_SCRIPT, COMMANDS_UNIT, COMMANDS_UNIT_LINK, IFUPDOWN_WLAN, PROVISION_SCRIPT, PROVISION_UNIT, SSHD_DROP_IN, WPA_SUPPLICANT_CONF } from '../../src/agent/provisioning.renderer.js';
import { FULL_PROFILE, SHA512_HASH } from '../../src/contracts/test-support/profile-samples.js';

const e2e = useAgentE2e('pitcrew-agent-provisioning-');

const install = (disk: string, serial: string, mac: string) => runAgentBundle(e2e.bundle, coroBoardArgs(serial, disk, e2e.server.deviceUrl, mac));

async function recordedRevision(serial: string): Promise<number> {
  const [deployment] = await listDeployments(e2e.server, { search: serial });
  expect(deployment).toMatchObject({ status: 'completed' });
  return (await e2e.server.as.viewer.get(`/api/deployments/${deployment!.id}/profile`)).body.revision.revision;
}

describe('pitcrew-agent provisions each card with its venue profile', () => {
  it('feeds a Pi-OS-like Debian through firstrun.sh, each card with its own variables and the revision it was given', async () => {
    const { dir, server: t } = e2e;
    const work = join(dir, 'debian');
    await mkdir(work, { recursive: true });
    const image = await buildDiskImage(work, { flavour: 'firstrun' });
    await createVenueWithKarts(t, 'CORO', '7-9');
    await registerActiveImage(t, image.path, 'KXP2', '2025.12.1');
    expect((await t.as.operator.put('/api/venues/CORO/profile', FULL_PROFILE)).status).toBe(200);

    const first = join(work, 'card-1.img');
    const agent = await install(first, '10000000feed0007', 'D8:3A:DD:00:00:07');
    expect(agent.code, agent.stderr).toBe(0);
    expect(agent.stdout).toContain('provisioned with profile revision 1');
    for (const secret of [FULL_PROFILE.wifi!.passphrase, SHA512_HASH]) expect(agent.stdout + agent.stderr).not.toContain(secret);

    const root = (disk: string, path: string) => readRootFile(disk, image.root.startByte, path);
    const firstrun = async (disk: string) => (await readBootFile(disk, image.boot.startByte, 'firstrun.sh')) ?? '';
    expect(await root(first, '/etc/kart/identity.conf')).toBe('venue=CORO\nkart=7\nhost=KXP2-CORO-007\nserial=10000000feed0007\nmac=d8:3a:dd:00:00:07\n');
    const psk = '1989ebb102e3315213e5be13db4f64365b801ff677a6e01d0caa40063167816b'; // wpa_passphrase 'Venue Karts' 'correct horse battery'
    expect(await firstrun(first)).toContain(`set_wlan 'Venue Karts' ${psk} DE\n`);
    expect(await firstrun(first)).toContain(`/usr/lib/userconf-pi/userconf 'crew' '${SHA512_HASH}'\n`);
    expect(await firstrun(first)).toContain("set_timezone 'Europe/Berlin'\n");
    expect(await root(first, SSHD_DROP_IN)).toContain('PasswordAuthentication no');
    expect(await root(first, '/opt/camera/KXP2-CORO-007.json')).toBe('{"kart": "7"}\n');
    expect(await statRootPath(first, image.root.startByte, '/opt/camera/KXP2-CORO-007.json')).toMatch(/Mode:\s+0600/);
    const changed = await diffDiskWithImage(first, image, join(work, 'diff-1'));
    expect(changed.outsidePartitions).toEqual([]);
    expect(changed.boot).toEqual(expect.arrayContaining(['/firstrun.sh', '/cmdline.txt']));
    expect(changed.root).toEqual(expect.arrayContaining([SSHD_DROP_IN, COMMANDS_SCRIPT, COMMANDS_UNIT, COMMANDS_UNIT_LINK, '/etc/kart/identity.conf', '/opt/camera/KXP2-CORO-007.json']));
    // firstrun.sh does what the fallback's files and unit would.
    for (const path of [PROVISION_UNIT, PROVISION_SCRIPT, WPA_SUPPLICANT_CONF, IFUPDOWN_WLAN, '/etc/timezone']) expect(changed.root).not.toContain(path);
    await checkFilesystems(first, image);

    // The profile changes before the next card: that card gets the new revision, the first keeps its record.
    expect((await t.as.operator.put('/api/venues/CORO/profile', { ...FULL_PROFILE, wifi: { ssid: 'Pit Lane', country: 'DE', hidden: false }, time_zone: 'Europe/London' })).status).toBe(200);
    const second = join(work, 'card-2.img');
    const again = await install(second, '10000000feed0008', 'D8:3A:DD:00:00:08');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('provisioned with profile revision 2');
    expect(await firstrun(second)).toContain("set_timezone 'Europe/London'\n");
    // The passphrase kept from the first revision, the PSK derived for the new SSID.
    expect(await firstrun(second)).toContain("set_wlan 'Pit Lane' aac69fc7a0492b57d0dc584cdbd2b840865ea1cba6311ce30284b8cf1e90c378 DE\n");
    expect(await root(second, '/etc/kart/identity.conf')).toContain('kart=8\nhost=KXP2-CORO-008\n');
    expect(await firstrun(first)).toContain("set_timezone 'Europe/Berlin'\n");
    expect([await recordedRevision('10000000feed0007'), await recordedRevision('10000000feed0008')]).toEqual([1, 2]);
  });

  it('feeds a cloud-init image through user-data and network-config', async () => {
    const { dir, server: t } = e2e;
    const work = join(dir, 'cloud');
    await mkdir(work, { recursive: true });
    const image = await buildDiskImage(work, { flavour: 'cloud-init' });
    await createVenueWithKarts(t, 'CORO', '1-3');
    await registerActiveImage(t, image.path, 'KXP2', '2026.1.0');
    await t.as.operator.put('/api/venues/CORO/profile', FULL_PROFILE);

    const disk = join(work, 'card.img');
    const agent = await install(disk, '10000000feed0101', 'D8:3A:DD:00:01:01');
    expect(agent.code, agent.stderr).toBe(0);
    expect(agent.stdout).toContain('first boot via cloud-init');
    const userData = await readBootFile(disk, image.boot.startByte, 'user-data');
    expect(userData).toContain('hostname: KXP2-CORO-001');
    expect(userData).toContain('"name":"crew"');
    expect(userData).toContain('kart=1\\nhost=KXP2-CORO-001');
    expect(await readBootFile(disk, image.boot.startByte, 'network-config')).toContain('"Venue Karts"');
    const changed = await diffDiskWithImage(disk, image, join(work, 'diff'));
    expect(changed.boot).toEqual(expect.arrayContaining(['/user-data', '/network-config', '/meta-data', '/cmdline.txt']));
    expect(changed.root).not.toContain(PROVISION_UNIT);
    expect(await recordedRevision('10000000feed0101')).toBe(1);
  });
});
