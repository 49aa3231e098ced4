// Reboots into the freshly written system. The network-booted installer may run under systemd or a bare
// busybox init, so each way is tried in turn; the kernel's sysrq is the last resort.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function rebootSystem(): Promise<void> {
  await run('sync').catch(() => {});
  for (const [command, args] of [
    ['systemctl', ['reboot']],
    ['reboot', ['-f']],
  ] as const) {
    try {
      await run(command, [...args]);
      return;
    } catch {
      // Try the next way.
    }
  }
  await writeFile('/proc/sys/kernel/sysrq', '1').catch(() => {});
  await writeFile('/proc/sysrq-trigger', 'b');
}
