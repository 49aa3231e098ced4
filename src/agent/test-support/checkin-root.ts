// Test support for the first-boot check-in script: what a booted unit's /etc, /proc and /sys would show it, a PATH
// holding only chosen tools, and the script run under `sh` over such a root.
import { spawn } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CHECKIN_SCRIPT_PATH } from '../first-boot.checkin.js';

/** Tools of a minimal Debian system the script may use; each test adds its HTTP client. */
export const BASE_TOOLS = ['sh', 'sed', 'tr', 'head', 'tail', 'cat', 'ls', 'rm', 'sleep', 'timeout', 'ip'];

export const UNIT_FACTS = { hostname: 'KXP2-CORO-001', serial: '10000000aa01', mac: 'dc:a6:32:01:02:03', osRelease: 'Debian GNU/Linux 13 (trixie)', uptimeS: 37, bootTime: '2026-01-01T00:00:00.000Z' };

/** Writes what the running kernel and OS of the unit would show under `root`. */
export async function writeUnitView(root: string): Promise<void> {
  const files: Record<string, string> = {
    'etc/os-release': `PRETTY_NAME="${UNIT_FACTS.osRelease}"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\n`,
    'proc/uptime': `${UNIT_FACTS.uptimeS}.52 70.11\n`,
    'proc/stat': `cpu  1 2 3 4\nbtime ${Date.parse(UNIT_FACTS.bootTime) / 1000}\nprocesses 512\n`,
    'proc/sys/kernel/hostname': `${UNIT_FACTS.hostname}\n`,
    'proc/cpuinfo': `processor\t: 0\nSerial\t\t: ${UNIT_FACTS.serial}\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n`,
    'sys/class/net/lo/address': '00:00:00:00:00:00\n',
    'sys/class/net/eth0/address': `${UNIT_FACTS.mac}\n`,
  };
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

const locate = (tool: string) =>
  new Promise<string>((resolve, reject) => {
    const which = spawn('sh', ['-c', `command -v ${tool}`]);
    let out = '';
    which.stdout.on('data', (data: Buffer) => (out += data.toString()));
    which.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`${tool} is not installed here`))));
  });

/** A PATH folder in `dir` holding only `tools` (links to this machine's, or to the program `as` names: BusyBox). */
export async function toolbox(dir: string, tools: string[], as: Record<string, string> = {}): Promise<string> {
  const bin = join(dir, `bin-${tools.at(-1)}${Object.keys(as).length ? '-as' : ''}`);
  await mkdir(bin, { recursive: true });
  for (const tool of tools) await symlink(as[tool] ?? (await locate(tool)), join(bin, tool)).catch(() => undefined);
  return bin;
}

export interface ScriptRun {
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Runs the check-in script found under `root` as the unit would, with `bin` as its whole PATH. */
export function runCheckinScript(root: string, bin: string): ScriptRun {
  const child = spawn(join(bin, 'sh'), [join(root, CHECKIN_SCRIPT_PATH)], { env: { PATH: bin, PITCREW_CHECKIN_ROOT: root } });
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  return { stderr: () => stderr, exit: new Promise((resolve) => child.on('close', resolve)) };
}
