// The installer bundle against the real server: the card it writes carries the first-boot check-in (script, unit
// and the link that enables it), the server expects that card to check in, and the script as written on the card,
// run under `sh` over the card's own root filesystem, checks it in and removes itself.
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDiskImage, dumpRootPartition, statRootPath } from '../../src/disk-layout/test-support/disk-image.builder.js';
import { coroBoardArgs, createVenueWithKarts, listDeployments, registerActiveImage, runAgentBundle, useAgentE2e } from '../../src/agent/test-support/agent-e2e.harness.js';
import { BASE_TOOLS, runCheckinScript, toolbox, UNIT_FACTS, writeUnitView } from '../../src/agent/test-support/checkin-root.js';
import { CHECKIN_SCRIPT_PATH, CHECKIN_UNIT_PATH, CHECKIN_WANTS_PATH } from '../../src/agent/first-boot.checkin.js';

const e2e = useAgentE2e('pitcrew-agent-checkin-');

describe('pitcrew-agent adds the first-boot check-in', () => {
  it('writes the script and its enabled unit on the card, and that script checks the card in from its first boot', async () => {
    const { dir, bundle, server: t } = e2e;
    const image = await buildDiskImage(dir, { flavour: 'cloud-init' });
    await createVenueWithKarts(t, 'CORO', '1-9');
    await registerActiveImage(t, image.path, 'KXP2', '2026.1.0');
    const disk = join(dir, 'card.img');
    const agent = await runAgentBundle(bundle, coroBoardArgs(UNIT_FACTS.serial, disk, t.deviceUrl, UNIT_FACTS.mac));
    expect(agent.code, agent.stderr).toBe(0);

    expect(await statRootPath(disk, image.root.startByte, CHECKIN_SCRIPT_PATH)).toMatch(/Type: regular\s+Mode:\s+0700/);
    expect(await statRootPath(disk, image.root.startByte, CHECKIN_UNIT_PATH)).toMatch(/Type: regular\s+Mode:\s+0644/);
    expect(await statRootPath(disk, image.root.startByte, CHECKIN_WANTS_PATH)).toMatch(new RegExp(`Type: symlink[\\s\\S]*Fast link dest: "${CHECKIN_UNIT_PATH}"`));
    const [deployment] = await listDeployments(t, { search: UNIT_FACTS.serial });
    expect(deployment).toMatchObject({ status: 'completed', booted_at: null, checkin_due_at: expect.any(String) });
    expect(Date.parse(deployment!.checkin_due_at!) - Date.parse(deployment!.completed_at!)).toBe(t.config.bootDeadlineSeconds * 1000);

    // The card's root as the booted unit sees it, with the kernel's view of the board beside it.
    const root = await dumpRootPartition(disk, image.root.startByte, join(dir, 'card-root'));
    await writeUnitView(root);
    const run = runCheckinScript(root, await toolbox(dir, [...BASE_TOOLS, 'curl']));
    expect(await run.exit).toBe(0);
    expect(run.stderr()).toMatch(/checked in as deployment \d+ \(attempt 1\)/);
    for (const path of [CHECKIN_SCRIPT_PATH, CHECKIN_UNIT_PATH, CHECKIN_WANTS_PATH]) expect(await lstat(join(root, path)).then(() => 'still there', () => 'gone'), path).toBe('gone');

    const [booted] = await listDeployments(t, { search: UNIT_FACTS.serial });
    expect(booted!.booted_at).not.toBeNull();
    const facts = await t.as.viewer.get(`/api/deployments/${booted!.id}/checkin`);
    expect(facts.body.checkin).toMatchObject({ hostname: UNIT_FACTS.hostname, serial_number: UNIT_FACTS.serial, image_version: '2026.1.0' });
  });
});
