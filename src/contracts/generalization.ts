// Generalisation: what the installer removes from each clone so that it boots as a machine of its own, the way
// libguestfs' virt-sysprep prepares a disk for cloning. One list for the installer (which runs the steps), the
// server (which stores what a device reports and the per-image switch) and the dashboard (which names them).
import { Type, type Static } from 'typebox';

export const GENERALIZATION_STEPS = [
  'machine-id',
  'dbus-machine-id',
  'ssh-host-keys',
  'dhcp-leases',
  'random-seed',
  'journal',
  'logfiles',
  'shell-history',
  'udev-persistent-net',
] as const;
export type GeneralizationStepId = (typeof GENERALIZATION_STEPS)[number];

/** What each step does, in the operator's words. */
export const GENERALIZATION_STEP_LABELS: Record<GeneralizationStepId, string> = {
  'machine-id': '/etc/machine-id reset: systemd makes a new one on first boot',
  'dbus-machine-id': "D-Bus's own copy of the machine id removed",
  'ssh-host-keys': 'SSH host keys removed, new ones made on first boot',
  'dhcp-leases': 'DHCP leases and client ids removed',
  'random-seed': "systemd's random seed removed",
  journal: 'systemd journal files removed',
  logfiles: 'log files emptied, rotated ones removed',
  'shell-history': 'shell histories removed',
  'udev-persistent-net': 'udev persistent network rules removed',
};

/** Said of a step whose files the image does not have. */
export const NOT_IN_THIS_IMAGE = 'not in this image';

export const GeneralizationStep = Type.Object(
  {
    step: Type.Enum(GENERALIZATION_STEPS),
    /** False when there was nothing to do (`note` then says why, usually "not in this image"). */
    done: Type.Boolean(),
    note: Type.String({ maxLength: 200 }),
  },
  { additionalProperties: false },
);
export type GeneralizationStep = Static<typeof GeneralizationStep>;

export const GeneralizationReport = Type.Array(GeneralizationStep, { maxItems: GENERALIZATION_STEPS.length });
export type GeneralizationReport = Static<typeof GeneralizationReport>;

/**
 * The report summary's part: the steps done, or nothing where the master carried nothing to remove (every step
 * with its note goes in the report's `generalization` and on the image page).
 */
export function describeGeneralization(steps: readonly GeneralizationStep[] | null): string | null {
  if (steps === null) return 'not generalised (turned off for this image)';
  const done = steps.filter((s) => s.done).map((s) => s.step);
  return done.length ? `generalised: ${done.join(', ')}` : null;
}
