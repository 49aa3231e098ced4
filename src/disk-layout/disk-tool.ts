// Runs the filesystem tools reading and editing disk images relies on (mtools, e2fsprogs' debugfs) and says plainly
// when one is missing. Used on the server (listing an image's generalisation steps) and in the installer, which
// turns a DiskLayoutError into its own customisation failure.
import { spawn } from 'node:child_process';

/** A disk image's filesystem could not be read or edited as asked, or the tool to do it is missing. */
export class DiskLayoutError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DiskLayoutError';
  }
}

const PACKAGE_OF: Record<string, string> = { mcopy: 'mtools', mtype: 'mtools', mdir: 'mtools', debugfs: 'e2fsprogs' };

export interface ToolResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export function runDiskTool(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = PACKAGE_OF[command] ? ` (install the ${PACKAGE_OF[command]} package)` : '';
      reject(
        error.code === 'ENOENT'
          ? new DiskLayoutError(`${command} is not installed on this machine${hint}`, { cause: error })
          : new DiskLayoutError(`running ${command} failed: ${error.message}`, { cause: error }),
      );
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8') });
    });
  });
}
