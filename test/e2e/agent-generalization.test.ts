// The installer bundle against the real server on a master captured from a used unit: every card written is made a
// machine of its own (machine-id, SSH host keys, leases, logs, histories …) and the rest of the disk equals the
// image; the steps reach the server with the final report and show with the image; an image whose switch an
// operator turned off is written with the master's identity left as it was.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_CLONE_ARTEFACTS, buildDiskImage, checkFilesystems, KEPT_BESIDE_ARTEFACTS, readRootFile } from '../../src/disk-layout/test-support/disk-image.builder.js';
import {
  apartFromCheckin,
  coroBoardArgs,
  createVenueWithKarts,
  diffDiskWithImage,
  listDeployments,
  registerActiveImage,
  runAgentBundle,
  useAgentE2e,
} from '../../src/agent/test-support/agent-e2e.harness.js';
import { GENERALIZATION_STEPS } from '../../src/contracts/generalization.js';

const e2e = useAgentE2e('pitcrew-agent-generalization-');

const install = (disk: string, serial: string) => runAgentBundle(e2e.bundle, coroBoardArgs(serial, disk, e2e.server.deviceUrl, 'D8:3A:DD:00:00:51'));

describe('pitcrew-agent generalises each card', () => {
  it('makes a used master into a machine of its own, reports every step, and leaves the artefacts where the image turns it off', async () => {
    const { dir, server: t } = e2e;
    const work = join(dir, 'used');
    await mkdir(work, { recursive: true });
    const image = await buildDiskImage(work, { flavour: 'firstrun', artefacts: ALL_CLONE_ARTEFACTS });
    await createVenueWithKarts(t, 'CORO', '1-9');
    const registered = await registerActiveImage(t, image.path, 'KXP2', '2025.12.1');

    const disk = join(work, 'card-1.img');
    const agent = await install(disk, '10000000feed0001');
    expect(agent.code, agent.stderr).toBe(0);
    expect(agent.stdout).toContain(`; first boot via firstrun; generalised: ${GENERALIZATION_STEPS.join(', ')}; verified`);
    expect(agent.stdout).toMatch(/generalisation, ssh-host-keys: 6 host key file\(s\) removed; new ones made on first boot by regenerate_ssh_host_keys\.service \(enabled\)/);

    expect(await readRootFile(disk, image.root.startByte, '/etc/machine-id')).toBe('uninitialized\n');
    expect(await readRootFile(disk, image.root.startByte, '/etc/ssh/ssh_host_ed25519_key')).toBeNull();
    const changed = await diffDiskWithImage(disk, image, join(work, 'diff-1'));
    expect(changed.outsidePartitions).toEqual([]);
    expect(changed.boot).toEqual(['/cmdline.txt', '/firstrun.sh']);
    for (const kept of KEPT_BESIDE_ARTEFACTS) expect(changed.root).not.toContain(kept);
    expect(changed.root).toEqual(expect.arrayContaining(['/etc/hostname', '/etc/hosts', '/etc/machine-id', '/var/lib/dbus/machine-id', '/var/log/syslog', '/home/pi/.bash_history']));
    await checkFilesystems(disk, image);

    const [deployment] = await listDeployments(t, { search: '10000000feed0001' });
    expect(deployment).toMatchObject({ status: 'completed' });
    expect(deployment!.message).toContain(`generalised: ${GENERALIZATION_STEPS.join(', ')}`);
    const detail = await t.as.viewer.get(`/api/images/${registered.id}`);
    expect(detail.body.generalization).toMatchObject({ deployment_id: deployment!.id, hostname: deployment!.hostname });
    expect(detail.body.generalization.steps.map((s: { step: string; done: boolean }) => [s.step, s.done])).toEqual(GENERALIZATION_STEPS.map((step) => [step, true]));

    expect((await t.as.operator.put(`/api/images/${registered.id}`, { generalize: false })).status).toBe(200);
    const second = join(work, 'card-2.img');
    const off = await install(second, '10000000feed0002');
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toContain('; first boot via firstrun; not generalised (turned off for this image); verified');
    expect(apartFromCheckin((await diffDiskWithImage(second, image, join(work, 'diff-2'))).root)).toEqual(['/etc/hostname', '/etc/hosts']);
    expect(await readRootFile(second, image.root.startByte, '/etc/machine-id')).toBe('6f1c2e9a0b7d4c3e8f5a1b2c3d4e5f60\n');
  });
});
