// The customizer's provisioning step: adds the device's profile (provisioning.renderer.ts) to the boot files and
// root filesystem changes the customizer is about to write, so they are written and read back with the hostname's.
import type { Ext4Change, Ext4Volume } from '../disk-layout/ext4.volume.js';
import type { FirstBootFlavour } from './first-boot.detector.js';
import { cloudInitKeys, cloudInitNetworkConfig, NETWORK_MANAGER_PROBES, renderRootFiles, setCloudConfigKeys } from './provisioning.renderer.js';
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
export async function addProvisioning(step: ProvisioningStep): Promise<void> {
  if (step.flavour === 'cloud-init') {
    const userData = step.bootFiles.get('user-data') ?? step.bootText('user-data') ?? '#cloud-config\n';
    step.bootFiles.set('user-data', setCloudConfigKeys(userData, cloudInitKeys(step.profile)));
    if (step.profile.wifi) step.bootFiles.set('network-config', cloudInitNetworkConfig(step.profile.wifi));
    return;
  }
  const probes = await step.ext.inspect(NETWORK_MANAGER_PROBES, { content: false });
  const added = renderRootFiles(step.profile, { hasNetworkManager: NETWORK_MANAGER_PROBES.some((path) => probes.get(path)) });
  const replaced = new Set(added.map((change) => change.path));
  const kept = step.rootChanges.filter((change) => !replaced.has(change.path));
  step.rootChanges.splice(0, step.rootChanges.length, ...kept, ...added);
}
