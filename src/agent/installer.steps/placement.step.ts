// Step 2: which disk to write (the one asked for, or the card chosen among the disks), and what card it is.
import { formatBytes } from '../../contracts/format.js';
import { describeCard, readCardIdentity } from '../card-identity.reader.js';
import { resolveInstallTarget, type InstallTarget } from '../target-disk.chooser.js';
import type { InstallRun } from './install-run.js';

export async function choosePlacement(run: InstallRun): Promise<InstallTarget> {
  const { options, result } = run;
  run.phase = 'assigned';
  const placement = await resolveInstallTarget(options.target, options.systemRoot, options.installerStick ?? null);
  result.target = placement.path;
  result.installerStick = placement.installerStick ?? null;
  result.card = options.card !== undefined ? options.card : placement.path === 'sink' ? null : await readCardIdentity(placement.path, options.systemRoot).catch(() => null);
  if (result.card) run.emit({ type: 'card', message: `card: ${describeCard(result.card, formatBytes)}` });
  await run.enterPhase('assigned', `installer started on ${options.identity.model ?? 'unknown model'}; target ${placement.description}`, { progress: 0, bytes_total: run.config.image_size, card: result.card });
  for (const warning of placement.warnings) run.warnDeployment(warning);
  return placement;
}
