// Written vs booted: whether a written card's system checked in from its first boot (src/contracts/checkin.ts).
import type { Deployment } from '../../../src/contracts/domain.js';
import { bootStateOf, type BootState } from '../../../src/contracts/checkin.js';
import { formatDateTime } from '../../../src/contracts/format.js';

const LOOK: Record<BootState, { label: string; variant: string }> = {
  booted: { label: 'booted', variant: 'success' },
  'not-booted': { label: 'not booted', variant: 'danger' },
  awaiting: { label: 'awaiting boot', variant: 'light text-body-secondary border' },
  'no-checkin': { label: 'no check-in', variant: 'light text-body-secondary' },
};

function explain(d: Deployment, state: BootState): string {
  switch (state) {
    case 'booted':
      return `Its system checked in from its first boot (booted ${formatDateTime(d.booted_at)})`;
    case 'not-booted':
      return `Written and verified, but no check-in from its first boot by ${formatDateTime(d.checkin_due_at)}`;
    case 'awaiting':
      return `Written and verified; its first boot is expected to check in by ${formatDateTime(d.checkin_due_at)}`;
    case 'no-checkin':
      return 'Its installer added no first-boot check-in (an older installer), so whether it booted is not known';
  }
}

/** A badge for the boot state; nothing while the device is still installing (or failed before it was written). */
export function BootBadge({ deployment: d, now, testId }: { deployment: Deployment; now: number; testId?: string }) {
  const state = bootStateOf(d, now);
  if (state === null) return <span className="text-body-secondary" data-testid={testId} data-boot="none">—</span>;
  const look = LOOK[state];
  return (
    <span className={`badge text-bg-${look.variant}`} title={explain(d, state)} data-testid={testId} data-boot={state}>
      {look.label}
    </span>
  );
}
