// The customizer's provisioning step: adds the device's profile (provisioning.renderer.ts) to the boot files and
// root filesystem changes the customizer is about to write, so they are written and read back with the hostname's.
import type { Ext4Change, Ext4Volume } from '../disk-layout/ext4.volume.js';
import type { FirstBootFlavour } from '../contracts/first-boot.js';
import { InstallerError } from './installer.errors.js';
import {
  cloudInitKeys, cloudInitNetworkConfig, firstrunProvisioningBlock, FIRSTRUN_HOSTNAME_MARK, FIRSTRUN_PROVISIONING_END, FIRSTRUN_PROVISIONING_MARK,
  NETWORK_MANAGER_PROBES, preseedSections, renderFirstrunRootFiles, renderPreseedRootFiles, renderRootFiles, setCloudConfigKeys, setTomlSections,
} from './provisioning.renderer.js';
import type { ProvisioningProfile } from '../contracts/provisioning-profile.js';

export interface ProvisioningStep {
  profile: ProvisioningProfile;
  flavour: FirstBootFlavour;
  ext: Ext4Volume;
  /** Boot partition files about to be written (name → content); the user-data there already has the hostname. */
  bootFiles: Map<string, string>;
  /** Root filesystem changes about to be applied. */
  rootChanges: Ext4Change[];
  /** A boot partition file as the image has it. */
  bootText: (name: string) => string | null;
}

/** Mutates bootFiles and rootChanges; a profile file at a path already changed replaces that change. */
/**
 * Puts the provisioning block right after the hostname block (so it runs before the script's own cleanup and any steps
 * a master image's firstrun.sh has), replacing one already there.
 */
export function insertFirstrunProvisioning(script: string, block: string): string {
  let lines = script.split('\n');
  const oldStart = lines.indexOf(FIRSTRUN_PROVISIONING_MARK);
  if (oldStart !== -1) {
    const oldEnd = lines.indexOf(FIRSTRUN_PROVISIONING_END, oldStart);
    if (oldEnd === -1) throw new InstallerError('CUSTOMIZE', 'firstrun.sh has an unfinished provisioning block; refusing to edit it');
    lines = [...lines.slice(0, oldStart), ...lines.slice(oldEnd + 1)];
  }
  const hostname = lines.indexOf(FIRSTRUN_HOSTNAME_MARK);
  const hostnameEnd = hostname === -1 ? -1 : lines.indexOf('fi', hostname);
  const at = hostnameEnd !== -1 ? hostnameEnd + 1 : lines[0]?.startsWith('#!') ? 1 : 0;
  lines.splice(at, 0, ...block.split('\n'));
  return lines.join('\n');
}

export async function addProvisioning(step: ProvisioningStep): Promise<void> {
  if (step.flavour === 'cloud-init') {
    const userData = step.bootFiles.get('user-data') ?? step.bootText('user-data') ?? '#cloud-config\n';
    step.bootFiles.set('user-data', setCloudConfigKeys(userData, cloudInitKeys(step.profile)));
    if (step.profile.wifi) step.bootFiles.set('network-config', cloudInitNetworkConfig(step.profile.wifi));
    return;
  }
  const probes = await step.ext.inspect(NETWORK_MANAGER_PROBES, { content: false });
  const facts = { hasNetworkManager: NETWORK_MANAGER_PROBES.some((path) => probes.get(path)) };
  let added: Ext4Change[];
  if (step.flavour === 'rpi-preseed') {
    const toml = step.bootFiles.get('rpi-preseed.toml') ?? step.bootText('rpi-preseed.toml');
    if (toml === null) throw new InstallerError('CUSTOMIZE', 'the rpi-preseed.toml to add the profile to is missing');
    step.bootFiles.set('rpi-preseed.toml', setTomlSections(toml, preseedSections(step.profile)));
    added = renderPreseedRootFiles(step.profile);
  } else if (step.flavour === 'firstrun') {
    const script = step.bootFiles.get('firstrun.sh') ?? step.bootText('firstrun.sh');
    if (script === null) throw new InstallerError('CUSTOMIZE', 'the firstrun.sh to add the profile to is missing');
    step.bootFiles.set('firstrun.sh', insertFirstrunProvisioning(script, firstrunProvisioningBlock(step.profile, facts)));
    added = renderFirstrunRootFiles(step.profile);
  } else {
    added = renderRootFiles(step.profile, facts);
  }
  const replaced = new Set(added.map((change) => change.path));
  const kept = step.rootChanges.filter((change) => !replaced.has(change.path));
  step.rootChanges.splice(0, step.rootChanges.length, ...kept, ...added);
}
